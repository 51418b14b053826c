"""Metrics store on PostgreSQL (psycopg 3): for several replicas sharing one store, like CML's Model Metrics Store.

URL: ``postgresql://user[:password]@host:port/db[?libpq parameters]`` (``postgres://`` and
``postgresql+psycopg://`` too). Prefer PGPASSWORD or ~/.pgpass to a password in the URL; error messages and
:func:`~serving.metrics.urls.upgrade_command` never print it.

Writes: one connection (the group-commit session, one thread at a time); each batch is one transaction in which
consecutive inserts are one ``COPY ... FROM STDIN`` and delayed merges are ``metrics || patch::jsonb`` (top-level
keys replaced).
A batch is durable at COMMIT: the writer makes sure ``synchronous_commit`` is not ``off`` for its session, so a
confirmed prediction survives the replica being killed and the database server crashing. A writer connection that
sat idle is pinged first and reopened if the server dropped it; one lost in the middle of a batch makes the batch
replay op by op on a new connection (serving/metrics/groupcommit.py); while the server is down, callers get
MetricsWriteFailed.

Reads use a small pool of autocommit connections (psycopg_pool), opened on the first read, so write-only replicas
hold one connection. Schema: Alembic (serving/metrics/pgschema.py), checked on open.

JSONB caveats (identical values, different spelling): key order is JSONB's, not insertion order, and a float
whose shortest spelling has an exponent and no fraction (1e+16, 1e300) comes back as the equal int.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql
from psycopg.types.string import ByteaBinaryLoader
from psycopg_pool import ConnectionPool, PoolTimeout

from serving.metrics.base import GroupCommitStore
from serving.metrics.crncache import CrnCache
from serving.metrics.errors import DuplicatePrediction, MetricsStoreUnavailable, MetricsWriteFailed, UnknownPrediction
from serving.metrics.groupcommit import Encoded
from serving.metrics.models import MetricRecord, decode_metrics, trusted_record
from serving.metrics.pgschema import ensure_schema
from serving.metrics.store import PredictionWindow, ReadQuery, RecentQuery
from serving.metrics.urls import libpq_url, redact_url

_COLUMNS = "deployment_id, build_id, model_id, prediction_uuid, start_ms, end_ms"
_COPY = f"COPY metric_record ({_COLUMNS}, metrics) FROM STDIN"
_MERGE = (f"UPDATE metric_record SET metrics = metrics || %s::jsonb WHERE prediction_uuid = %s "
          f"RETURNING {_COLUMNS}, metrics::text")
_Conn = psycopg.Connection[tuple[Any, ...]]
_PREDICTIONS_IN_WINDOW = ("FROM metric_record WHERE deployment_id = %s AND start_ms >= %s AND start_ms < %s "
                          "AND prediction_uuid IS NOT NULL")
# One chunk of iter_prediction_metrics: the next page after the key (start_ms, id), joined into one text by the
# server and received as its UTF-8 bytes. Row by row (COPY or a named cursor) the client spends ~2.5 us per row in
# psycopg, more than the server spends rendering the JSONB; one row per chunk leaves the client nothing to do. The
# aggregates see the rows in the order of the sorted, LIMITed subquery (a plain aggregate over it consumes its
# output in order, as the PostgreSQL manual notes under "Aggregate Expressions"); string_agg(... ORDER BY) would
# instead sort every page again, spilling ~20 MB pages to disk at the default work_mem. The last element of
# array_agg(id) is the page's last id, the key of the next page.
_PAGE = ("SELECT string_agg(m, E'\\n'), count(*), max(start_ms), (array_agg(id))[count(*)] "
         "FROM (SELECT metrics::text AS m, start_ms, id FROM metric_record "
         "WHERE deployment_id = %s AND start_ms >= %s AND start_ms < %s AND (start_ms, id) > (%s, %s) "
         "AND prediction_uuid IS NOT NULL ORDER BY start_ms, id LIMIT %s) AS page")


def _connect_writer(conninfo: str) -> _Conn:
    # A bounded connect: while the server is unreachable each queued write fails in seconds, not minutes.
    timeout: dict[str, Any] = {} if "connect_timeout" in conninfo else {"connect_timeout": 10}
    conn = psycopg.connect(conninfo, autocommit=False, application_name="mlcatalog-metrics-writer", **timeout)
    setting = conn.execute("SHOW synchronous_commit").fetchone()
    if setting is not None and setting[0] == "off":  # a server-wide "off" would void the durability contract
        conn.execute("SET synchronous_commit = on")
    conn.commit()
    return conn


class _Writer:
    """The group-commit thread's connection (WriterSession)."""

    # A connection idle this long is pinged before use: servers restart and firewalls drop idle connections, and
    # without the ping the first prediction after that would fail instead of reconnecting.
    ping_after_idle_s = 5.0

    def __init__(self, conninfo: str, crns: CrnCache) -> None:
        self._conninfo = conninfo
        self._crns = crns
        self._conn = _connect_writer(conninfo)
        self._last_used = time.monotonic()

    def begin(self) -> None:
        now = time.monotonic()
        if not (self._conn.closed or self._conn.broken) and now - self._last_used > self.ping_after_idle_s:
            with contextlib.suppress(psycopg.OperationalError):
                self._conn.execute("SELECT 1")  # opens the batch's transaction (autocommit off), or finds it dead
        if self._conn.closed or self._conn.broken:
            self._conn.close()
            self._conn = _connect_writer(self._conninfo)
        self._last_used = now
        # otherwise psycopg opens the transaction with the first statement (autocommit off)

    def insert(self, rows: Sequence[Encoded]) -> None:
        crn_id = self._crn_id
        prepared = [
            (crn_id(r.model_deployment_crn),
             None if r.model_build_crn is None else crn_id(r.model_build_crn),
             None if r.model_crn is None else crn_id(r.model_crn),
             r.prediction_uuid, r.start_ms, r.end_ms, metrics_json)
            for r, metrics_json in rows]
        with self._conn.cursor() as cur, cur.copy(_COPY) as copy:
            for row in prepared:
                copy.write_row(row)

    def insert_atomic(self, rows: Sequence[Encoded]) -> None:
        self.begin()
        self.insert(rows)
        self.commit()

    def merge(self, prediction_uuid: str, patch: Mapping[str, Any], patch_json: str) -> MetricRecord:
        row = self._conn.execute(_MERGE, (patch_json, prediction_uuid)).fetchone()
        if row is None:
            raise UnknownPrediction(prediction_uuid)
        return _records(self._conn, self._crns, [row], in_transaction=True)[0]

    def commit(self) -> None:
        self._conn.commit()
        self._crns.publish()

    def rollback(self) -> None:
        self._crns.discard()
        if not (self._conn.closed or self._conn.broken):
            self._conn.rollback()

    def translate(self, exc: Exception) -> Exception:
        if isinstance(exc, pgerrors.UniqueViolation):
            detail = exc.diag.message_detail or ""
            return DuplicatePrediction(f"prediction uuid already recorded; nothing was written ({detail})")
        if isinstance(exc, psycopg.Error):
            return MetricsWriteFailed(f"PostgreSQL refused or lost the write: {exc}")
        return exc

    def close(self) -> None:
        self._conn.close()

    def _crn_id(self, crn: str) -> int:
        found = self._crns.writer_id_of(crn)
        if found is not None:
            return found
        # ON CONFLICT waits for a replica inserting the same CRN concurrently, then the SELECT sees its row.
        row = self._conn.execute(
            "INSERT INTO metric_crn (crn) VALUES (%s) ON CONFLICT (crn) DO NOTHING RETURNING id", (crn,)
        ).fetchone() or self._conn.execute("SELECT id FROM metric_crn WHERE crn = %s", (crn,)).fetchone()
        assert row is not None
        self._crns.stage(crn, int(row[0]))
        return int(row[0])


def _crn_text(conn: _Conn, crns: CrnCache, crn_id: int | None, in_transaction: bool) -> str | None:
    if crn_id is None:
        return None
    found = crns.crn_of(crn_id)
    if found is None:
        row = conn.execute("SELECT crn FROM metric_crn WHERE id = %s", (crn_id,)).fetchone()
        assert row is not None
        found = str(row[0])
        if not in_transaction:  # the writer's open transaction may hold a not yet committed CRN
            crns.remember(found, crn_id)
    return found


def _records(conn: _Conn, crns: CrnCache, rows: list[tuple[Any, ...]], *,
             in_transaction: bool = False) -> list[MetricRecord]:
    # The hot loop of read(): thousands of rows per call, so CRN texts are looked up once per id per call.
    names: dict[int | None, str | None] = {None: None}
    out = []
    for deployment_id, build_id, model_id, prediction_uuid, start_ms, end_ms, metrics in rows:
        for crn_id in (deployment_id, build_id, model_id):
            if crn_id not in names:
                names[crn_id] = _crn_text(conn, crns, crn_id, in_transaction)
        out.append(trusted_record({
            "model_deployment_crn": names[deployment_id],
            "model_build_crn": names[build_id],
            "model_crn": names[model_id],
            "prediction_uuid": prediction_uuid,
            "start_ms": start_ms,
            "end_ms": end_ms,
            "metrics": decode_metrics(metrics),
        }))
    return out


class _Relay:
    """Chunks from several reader threads to one consumer, in the order they come; a reader's error is raised in
    the consumer, and a consumer that stops (closes the iterator) stops the readers after their current page."""

    def __init__(self) -> None:
        self._chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=2)  # memory: ~8 MB each
        self._stop = threading.Event()

    def _put(self, item: bytes | BaseException | None) -> bool:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._chunks.put(item, timeout=0.1)
                return True
        return False

    def feed(self, pages: Callable[[], Iterator[bytes]]) -> None:
        for chunk in pages():
            if not self._put(chunk):
                return

    def run(self, readers: list[Callable[[], None]]) -> Iterator[bytes]:
        def reader(read: Callable[[], None]) -> None:
            try:
                read()
            except BaseException as e:  # noqa: BLE001 - handed to the consumer, which raises it
                self._put(e)
            self._put(None)

        threads = [threading.Thread(target=reader, args=(r,), name=f"metrics-window-{i}", daemon=True)
                   for i, r in enumerate(readers)]
        for t in threads:
            t.start()
        try:
            done = 0
            while done < len(threads):
                item = self._chunks.get()
                if item is None:
                    done += 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            self._stop.set()
            for t in threads:
                t.join()


class PostgresMetricsStore(GroupCommitStore):
    @classmethod
    def open(cls, url: str, *, max_batch: int = 5000, max_queue: int = 50_000) -> PostgresMetricsStore:
        ensure_schema(url)
        return cls(url, max_batch=max_batch, max_queue=max_queue)

    def __init__(self, url: str, *, max_batch: int = 5000, max_queue: int = 50_000, read_pool_size: int = 4) -> None:
        self.url = redact_url(url)
        self._conninfo = libpq_url(url)
        self._crns = CrnCache()
        self._pool: ConnectionPool[_Conn] | None = None
        self._pool_lock = threading.Lock()
        self._pool_size = read_pool_size
        try:
            writer = _Writer(self._conninfo, self._crns)
        except psycopg.OperationalError as exc:
            raise MetricsStoreUnavailable(f"cannot connect to the metrics database {self.url}: {exc}") from None
        super().__init__(writer, max_batch=max_batch, max_queue=max_queue, name="metrics-writer:postgresql")

    @contextlib.contextmanager
    def _reader(self) -> Iterator[_Conn]:
        """A pooled autocommit connection; losing the server (now or mid-read) is MetricsStoreUnavailable."""
        try:
            with self._readers().connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise MetricsStoreUnavailable(f"cannot read the metrics database {self.url}: {exc}") from None

    def _read(self, query: ReadQuery) -> list[MetricRecord]:
        with self._reader() as conn:
            return self._read_on(conn, query)

    def _read_on(self, conn: _Conn, query: ReadQuery) -> list[MetricRecord]:
        where: list[str] = []
        params: list[Any] = []
        for column, crn in (("deployment_id", query.model_deployment_crn), ("build_id", query.model_build_crn),
                            ("model_id", query.model_crn)):
            if crn is None:
                continue
            crn_id = self._crn_id(conn, crn)
            if crn_id is None:
                return []
            where.append(f"{column} = %s")
            params.append(crn_id)
        where.append("start_ms >= %s")
        params.append(query.start_ms)
        if query.end_ms is not None:
            where.append("start_ms < %s")
            params.append(query.end_ms)
        rows = conn.execute(
            f"SELECT {_COLUMNS}, metrics::text FROM metric_record WHERE {' AND '.join(where)} "
            "ORDER BY start_ms, id", params).fetchall()
        return _records(conn, self._crns, rows)

    def _crn_id(self, conn: _Conn, crn: str) -> int | None:
        crn_id = self._crns.id_of(crn)
        if crn_id is None:
            row = conn.execute("SELECT id FROM metric_crn WHERE crn = %s", (crn,)).fetchone()
            if row is None:
                return None
            crn_id = int(row[0])
            self._crns.remember(crn, crn_id)
        return crn_id

    def _iter_prediction_metrics(self, window: PredictionWindow) -> Iterator[bytes]:
        # One REPEATABLE READ transaction: all pages come from one snapshot, like SQLite's single SELECT.
        with self._reader() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            conn.execute("SET LOCAL client_encoding TO 'UTF8'")  # the pages' bytes are handed on as UTF-8 JSON
            crn_id = self._crn_id(conn, window.model_deployment_crn)
            if crn_id is None:
                return
            if window.ordered or window.end_ms - window.start_ms < 2:
                yield from self._pages(conn, crn_id, window)
                return
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            assert row is not None
            yield from self._two_halves(conn, str(row[0]), crn_id, window)

    def _two_halves(self, conn: _Conn, snapshot: str, crn_id: int, window: PredictionWindow) -> Iterator[bytes]:
        """The window's first half read on ``conn``, its second on another connection in the same snapshot, each by
        a thread of its own, the chunks handed on as they come."""
        mid = window.start_ms + (window.end_ms - window.start_ms) // 2
        relay = _Relay()

        def first() -> None:
            relay.feed(lambda: self._pages(conn, crn_id, window.model_copy(update={"end_ms": mid})))

        def second() -> None:
            with self._reader() as other, other.transaction():
                other.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                # SET takes no bind parameters: a literal, quoted by psycopg
                other.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
                other.execute("SET LOCAL client_encoding TO 'UTF8'")
                relay.feed(lambda: self._pages(other, crn_id, window.model_copy(update={"start_ms": mid})))

        yield from relay.run([first, second])

    def _pages(self, conn: _Conn, crn_id: int, window: PredictionWindow) -> Iterator[bytes]:
        after = (window.start_ms, -1)  # ids are >= 1: the first page starts at start_ms itself
        with conn.cursor(binary=True) as cursor:
            # Binary text is the raw bytes: loaded as bytea they come as bytes, never decoded into a str and encoded
            # back (nor converted by the server: convert_to() cost ~8% of its time).
            cursor.adapters.register_loader("text", ByteaBinaryLoader)
            while True:
                row = cursor.execute(_PAGE, (crn_id, window.start_ms, window.end_ms, *after,
                                             window.chunk_rows)).fetchone()
                if row is None or not row[1]:
                    return
                chunk, rows, last_start, last_id = row
                yield chunk
                if rows < window.chunk_rows:
                    return
                self._check_open()
                after = (last_start, last_id)

    def _recent_predictions(self, query: RecentQuery) -> list[MetricRecord]:
        with self._reader() as conn:
            crn_id = self._crn_id(conn, query.model_deployment_crn)
            if crn_id is None:
                return []
            rows = conn.execute(
                f"SELECT {_COLUMNS}, metrics::text FROM metric_record "
                "WHERE deployment_id = %s AND prediction_uuid IS NOT NULL ORDER BY start_ms DESC, id DESC LIMIT %s",
                (crn_id, query.limit)).fetchall()
            return _records(conn, self._crns, rows)

    def _count_predictions(self, window: PredictionWindow) -> int:
        with self._reader() as conn:
            crn_id = self._crn_id(conn, window.model_deployment_crn)
            if crn_id is None:
                return 0
            row = conn.execute(f"SELECT count(*) {_PREDICTIONS_IN_WINDOW}",
                               (crn_id, window.start_ms, window.end_ms)).fetchone()
            return int(row[0]) if row else 0

    def _readers(self) -> ConnectionPool[_Conn]:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self._conninfo, min_size=1, max_size=self._pool_size, open=True, timeout=10.0,
                    kwargs={"autocommit": True, "application_name": "mlcatalog-metrics-reader"},
                    check=ConnectionPool.check_connection, name="mlcatalog-metrics-readers")
            return self._pool

    def _close_readers(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
