"""The metrics store interface and ``open_metrics_store(url)``, which picks the backend from the URL scheme.

Backends (both behind the same contract, tests/metrics/test_contract.py):

* ``sqlite:///abs/path.db`` - embedded, the default. See serving/metrics/sqlite_store.py.
* ``postgresql://user[:password]@host:port/db[?libpq params]`` - shared by many replicas (psycopg 3). See
  serving/metrics/postgres_store.py.

Read window (CML ``read_metrics`` semantics, decided from the reference notes §1.3): a record matches when its
**start** time lies in ``[start_ms, end_ms)`` - inclusive start, exclusive end - so the prediction made at ``t0``
is found with ``start_ms=t0, end_ms=t0+1`` (as in the mlops-mlflow README), and back-to-back windows
(``[now-30min, now)``, then ``[now, now+30min)``) never count a record twice. Aggregates match on their start
too, so a zero-width aggregate (``start == end == t``, as the wine demo writes them) is found by any window
holding ``t``. ``end_ms=None`` means "up to now" *without* an upper bound: CML's default of "current time",
minus the race where a record written in the current millisecond is hidden, and it also returns records that a
replica with a clock running ahead stamped slightly in the future. Results are ordered by start time, then by
write order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Annotated, Any, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from serving.metrics.errors import InvalidMetricsQuery, UnsupportedStoreUrl
from serving.metrics.models import CrnText, EpochMs, MetricRecord
from serving.metrics.urls import PG_SCHEMES, scheme_of

DEFAULT_CHUNK_ROWS = 32_768  # ~7 MB of wine metrics: measured the fastest and leaner than 65536 (both backends)
MAX_CHUNK_ROWS = 1_048_576  # ~300 MB of JSON at most in one chunk
MAX_RECENT = 10_000


class MetricsStore(Protocol):
    def write_predictions(self, records: Iterable[MetricRecord]) -> None:
        """Write all ``records`` in one transaction (all or nothing); durable when it returns."""
        ...

    def submit(self, record: MetricRecord, timeout: float | None = None) -> Future[None]:
        """Queue one record for group commit; the future resolves after its transaction COMMITted.

        Blocks while the write queue is full (backpressure); with ``timeout`` (0 = do not wait) raises
        MetricsQueueFull instead. In asyncio: ``await asyncio.wrap_future(store.submit(record, timeout=0))``.
        """
        ...

    def write(self, record: MetricRecord, timeout: float | None = None) -> None:
        """Write one record and return once it is committed: ``submit(record, timeout).result()``, except that
        when nothing else is being written the calling thread commits it itself (no hand-off to the writer)."""
        ...

    def merge_delayed(self, prediction_uuid: str, metrics: Mapping[str, Any]) -> MetricRecord:
        """Merge top-level keys into that prediction's metrics (later value wins); UnknownPrediction if absent."""
        ...

    def write_aggregate(self, model_deployment_crn: str, start_ms: int, end_ms: int, metrics: Mapping[str, Any],
                        model_build_crn: str | None = None, model_crn: str | None = None) -> MetricRecord:
        """Record metrics for a time window, not tied to a prediction (``prediction_uuid`` None); durable."""
        ...

    def read(self, model_deployment_crn: str | None = None, start_ms: int = 0, end_ms: int | None = None,
             model_crn: str | None = None, model_build_crn: str | None = None) -> list[MetricRecord]:
        """Records of the given CRN(s) (at least one; several are ANDed) whose start is in [start_ms, end_ms)."""
        ...

    def iter_prediction_metrics(self, model_deployment_crn: str, start_ms: int, end_ms: int,
                                chunk_rows: int = DEFAULT_CHUNK_ROWS, *, ordered: bool = True) -> Iterator[bytes]:
        """The metrics JSON of the deployment's *prediction* records (aggregates left out) whose start is in
        [start_ms, end_ms), in ``read`` order, as chunks of newline-delimited UTF-8 JSON: each chunk holds 1 to
        ``chunk_rows`` records, one JSON object per line (JSON text never holds a raw newline), lines joined by
        ``b"\\n"`` with no trailing newline. The text is the database's: SQLite's is what was written, PostgreSQL's
        is JSONB's rendering (other key order and spacing; see serving/metrics/postgres_store.py).

        For bulk analysis (serving/monitoring/window.py parses the chunks with Arrow): no MetricRecord per row. The
        arguments are checked when called (InvalidMetricsQuery, MetricsStoreClosed); a database that cannot be
        reached or a store closed meanwhile fail the iteration (MetricsStoreUnavailable, MetricsStoreClosed). The
        chunks come from one snapshot of the database. ``ordered=False``: the chunks may come in any order (each
        still in order within), which lets the PostgreSQL backend read two halves of the window at once, on two
        connections sharing one snapshot: rendering JSONB as text is the server's bottleneck. Close the iterator
        (or exhaust it) to release its connection;
        it may be consumed in another thread than the one that called this.
        """
        ...

    def recent_predictions(self, model_deployment_crn: str, limit: int = 200) -> list[MetricRecord]:
        """The deployment's latest ``limit`` prediction records (aggregates left out), newest first: the reverse
        of ``read`` order. For learning which metrics a deployment tracks without reading a whole window."""
        ...

    def count_predictions(self, model_deployment_crn: str, start_ms: int, end_ms: int) -> int:
        """How many prediction records ``iter_prediction_metrics`` would yield for the same window."""
        ...

    def close(self) -> None:
        """Write everything submitted so far, then release the database. Idempotent."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class _Query(BaseModel):
    """Validated query arguments (the boundary check shared by all backends); ``of`` raises InvalidMetricsQuery."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def of(cls, **kwargs: Any) -> Self:
        try:
            return cls(**kwargs)
        except ValidationError as exc:
            raise InvalidMetricsQuery("; ".join(_error_lines(exc))) from None


class ReadQuery(_Query):
    """Validated ``read`` arguments."""

    model_deployment_crn: CrnText | None = None
    model_build_crn: CrnText | None = None
    model_crn: CrnText | None = None
    start_ms: EpochMs = 0
    end_ms: EpochMs | None = None

    @model_validator(mode="after")
    def _check(self) -> ReadQuery:
        if self.model_deployment_crn is None and self.model_build_crn is None and self.model_crn is None:
            raise ValueError("give at least one of model_deployment_crn, model_crn, model_build_crn")
        if self.end_ms is not None and self.end_ms < self.start_ms:
            raise ValueError(f"end_ms ({self.end_ms}) is before start_ms ({self.start_ms})")
        return self


class PredictionWindow(_Query):
    """Validated arguments of ``iter_prediction_metrics`` / ``count_predictions``: one deployment, a closed-open
    window with both ends given."""

    model_deployment_crn: CrnText
    start_ms: EpochMs
    end_ms: EpochMs
    chunk_rows: Annotated[int, Field(strict=True, ge=1, le=MAX_CHUNK_ROWS)] = DEFAULT_CHUNK_ROWS
    ordered: bool = True

    @model_validator(mode="after")
    def _check(self) -> PredictionWindow:
        if self.end_ms < self.start_ms:
            raise ValueError(f"end_ms ({self.end_ms}) is before start_ms ({self.start_ms})")
        return self


class RecentQuery(_Query):
    """Validated arguments of ``recent_predictions``."""

    model_deployment_crn: CrnText
    limit: Annotated[int, Field(strict=True, ge=1, le=MAX_RECENT)] = 200


def _error_lines(exc: ValidationError) -> list[str]:
    return [(f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "") + e["msg"] for e in exc.errors()]


def open_metrics_store(url: str, *, max_batch: int = 5000, max_queue: int = 50_000) -> MetricsStore:
    """Open (creating if needed) the metrics store at ``url``.

    ``max_batch``: records per group-commit transaction; ``max_queue``: records waiting before ``submit`` blocks.
    """
    scheme = scheme_of(url)
    if scheme == "sqlite":
        from serving.metrics.sqlite_store import SQLiteMetricsStore

        return SQLiteMetricsStore.open(url, max_batch=max_batch, max_queue=max_queue)
    if scheme in PG_SCHEMES:
        _require_postgres_extra()
        from serving.metrics.postgres_store import PostgresMetricsStore

        return PostgresMetricsStore.open(url, max_batch=max_batch, max_queue=max_queue)
    raise _unsupported(scheme)


def upgrade_metrics_db(url: str, revision: str = "head") -> None:
    """Migrate the metrics store at ``url`` to this code's schema (what ``upgrade_command(url)`` runs).

    PostgreSQL: Alembic to ``revision`` (default head), under an advisory lock; idempotent. SQLite: the embedded
    store migrates itself on open, so this opens and closes it (``revision`` must be "head").
    """
    scheme = scheme_of(url)
    if scheme == "sqlite":
        if revision != "head":
            raise UnsupportedStoreUrl("the SQLite metrics store only migrates to head")
        open_metrics_store(url).close()
        return
    if scheme in PG_SCHEMES:
        _require_postgres_extra()
        from serving.metrics.pgschema import upgrade

        upgrade(url, revision)
        return
    raise _unsupported(scheme)


def _require_postgres_extra() -> None:
    try:
        import alembic  # noqa: F401
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise UnsupportedStoreUrl(f"the PostgreSQL metrics store needs the postgres extra "
                                  f"(pip install 'mlcatalog[postgres]'): {exc}") from exc


def _unsupported(scheme: str) -> UnsupportedStoreUrl:
    return UnsupportedStoreUrl(f"unsupported metrics store URL scheme {scheme or '(none)'!r}: "
                               "use sqlite:///abs/path.db or postgresql://user@host:port/db")
