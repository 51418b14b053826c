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

from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Protocol, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from serving.metrics.errors import InvalidMetricsQuery, UnsupportedStoreUrl
from serving.metrics.models import CrnText, EpochMs, MetricRecord
from serving.metrics.urls import PG_SCHEMES, scheme_of


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

    def close(self) -> None:
        """Write everything submitted so far, then release the database. Idempotent."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class ReadQuery(BaseModel):
    """Validated ``read`` arguments (the boundary check shared by all backends)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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

    @classmethod
    def of(cls, **kwargs: Any) -> ReadQuery:
        try:
            return cls(**kwargs)
        except ValidationError as exc:
            raise InvalidMetricsQuery("; ".join(_error_lines(exc))) from None


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
