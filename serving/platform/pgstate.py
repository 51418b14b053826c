"""The platform state on PostgreSQL: several ``mlcatalog up`` instances share one database and behave as one
platform (serving/platform/state.py has the interface).

* Rows are the truth every instance reads: a key created through one instance is valid on another at once (past
  the few seconds of the API key cache), a deployment made on one is started by the others' sync.
* ``serialize(name)`` is ``pg_advisory_xact_lock``: the outbox's writers take it, so sequence numbers are
  committed in their order and a replayer never sees seq 7 before a slower transaction commits seq 6.
* ``exclusive(name)`` is a session ``pg_try_advisory_lock`` on a pooled connection held for the block: the outbox
  lanes and monitor windows run in one instance at a time, and when an instance dies (kill -9 too) its sessions
  end and PostgreSQL frees its locks. No lease to expire, no lock file.

Statements arrive in the SQLite spelling the modules share (``?`` placeholders) and are passed to psycopg with
``%s`` placeholders. Reads run on autocommit connections from a small pool (``psycopg_pool``). Schema: Alembic
(serving/platform/migrations), with the metrics store's policy on open (serving/pgalembic.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool, PoolTimeout

from catalog import CatalogError, UpstreamUnavailable
from serving.metrics.urls import libpq_url, redact_url
from serving.pgalembic import AlembicSchema
from serving.platform.state import lock_key

log = logging.getLogger(__name__)


class StateUnavailable(UpstreamUnavailable):
    """The platform state database cannot be reached."""


class StateSchemaTooOld(CatalogError):
    """The schema is older than this code; ``command`` migrates it (never done implicitly: see pgalembic)."""

    code = "schema_too_old"

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


class StateSchemaTooNew(CatalogError):
    """A newer mlcatalog migrated the database (or it is not mlcatalog's)."""

    code = "schema_too_new"


def upgrade_command(url: str) -> str:
    import shlex

    return f"mlcatalog state-db upgrade {shlex.quote(redact_url(url))}"


SCHEMA = AlembicSchema(
    what="platform state database", migrations_dir=Path(__file__).resolve().parent / "migrations",
    version_table="mlcatalog_state_alembic_version", lock_key=0x4D4C5354,  # "MLST"
    own_tables=("deployment", "api_key", "outbox"), upgrade_command=upgrade_command, too_old=StateSchemaTooOld,
    too_new=StateSchemaTooNew, unavailable=StateUnavailable)


class Row(Sequence[Any]):
    """A row readable like ``sqlite3.Row``: by position, by column name, and as a mapping (``dict(row)``)."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = tuple(values)
        self._index = index

    def __getitem__(self, key: Any) -> Any:
        return self._values[self._index[key]] if isinstance(key, str) else self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __eq__(self, other: object) -> bool:
        return self._values == (other._values if isinstance(other, Row) else other)

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=True))!r})"


def _row_factory(cursor: Any) -> RowMaker[Row]:
    index = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


@functools.lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    # the shared statements carry no "?" inside string literals; a literal "%" must be doubled for psycopg
    return sql.replace("%", "%%").replace("?", "%s")


class _Result:
    """A statement's rows, fetched before its connection went back to the pool."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


def _run(conn: psycopg.Connection[Any], sql: str, params: Sequence[Any]) -> _Result:
    cur = conn.cursor(row_factory=_row_factory)
    cur.execute(_pg_sql(sql), tuple(params))
    return _Result(cur.fetchall() if cur.description else [], cur.rowcount)


class _TxConn:
    """A connection inside one transaction."""

    for_update = " FOR UPDATE"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Result:
        return _run(self._conn, sql, params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(_pg_sql(sql), tuple(params)).fetchall()

    def serialize(self, name: str) -> None:
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(name),))


class _AutoConn:
    """One statement at a time, each on a pooled connection in autocommit mode."""

    for_update = ""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Result:
        with self._pool.connection() as conn:
            return _run(conn, sql, params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            rows: list[tuple[Any, ...]] = conn.execute(_pg_sql(sql), tuple(params)).fetchall()
            return rows

    def serialize(self, name: str) -> None:
        raise RuntimeError("serialize() belongs in a transaction (State.tx())")


class PostgresState:
    shared = True
    errors: tuple[type[Exception], ...] = (psycopg.Error, PoolTimeout)

    def __init__(self, url: str, *, max_size: int = 10) -> None:
        self.url = redact_url(url)
        SCHEMA.ensure(url)
        conninfo = libpq_url(url)
        kwargs: dict[str, Any] = {"autocommit": True, "application_name": "mlcatalog-state"}
        if "connect_timeout" not in conninfo:
            kwargs["connect_timeout"] = 10
        # Connections that the server dropped (a restart, a failover) are checked before use and replaced.
        self._pool: ConnectionPool[Any] = ConnectionPool(
            conninfo, min_size=1, max_size=max_size, kwargs=kwargs, open=False, timeout=30.0,
            check=ConnectionPool.check_connection, name="mlcatalog-state")
        try:
            self._pool.open(wait=True, timeout=15.0)
        except PoolTimeout as e:
            self._pool.close()
            raise StateUnavailable(f"cannot connect to the platform state database {self.url}: {e}") from None

    def conn(self) -> _AutoConn:
        return _AutoConn(self._pool)

    @contextmanager
    def tx(self) -> Iterator[_TxConn]:
        with self._pool.connection() as conn, conn.transaction():
            yield _TxConn(conn)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        key = lock_key(name)
        with self._pool.connection() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            held = bool(row and row[0])
            try:
                yield held
            finally:
                if held:
                    try:
                        conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                    except psycopg.Error as e:  # the session is gone, and its lock with it
                        log.warning("could not release state lock %s: %s", name, e)

    def ping(self) -> None:
        with self._pool.connection(timeout=2.0) as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._pool.close()
