"""Model metrics store: CML's model metrics semantics (track / delayed / aggregate / read) on SQLite or PostgreSQL.

    store = open_metrics_store("sqlite:///var/lib/mlcatalog/metrics.db")   # or postgresql://user@host:5432/db
    fut = store.submit(MetricRecord(...))     # group commit; fut resolves after COMMIT
    store.read(model_deployment_crn=crn, start_ms=t0, end_ms=t1)   # [MetricRecord], ordered by start time

The interface is :class:`MetricsStore` (serving/metrics/store.py, which also states the read-window semantics).
Importing this package needs no database driver; the PostgreSQL backend needs the ``postgres`` extra.
"""

from serving.metrics.errors import (
    DuplicatePrediction,
    InvalidMetrics,
    InvalidMetricsQuery,
    MetricsQueueFull,
    MetricsSchemaTooNew,
    MetricsSchemaTooOld,
    MetricsStoreClosed,
    MetricsStoreUnavailable,
    MetricsWriteFailed,
    UnknownPrediction,
    UnsupportedStoreUrl,
)
from serving.metrics.models import MetricRecord
from serving.metrics.store import MetricsStore, open_metrics_store, upgrade_metrics_db
from serving.metrics.urls import redact_url, sqlite_url, upgrade_command

__all__ = [
    "DuplicatePrediction",
    "InvalidMetrics",
    "InvalidMetricsQuery",
    "MetricRecord",
    "MetricsQueueFull",
    "MetricsSchemaTooNew",
    "MetricsSchemaTooOld",
    "MetricsStore",
    "MetricsStoreClosed",
    "MetricsStoreUnavailable",
    "MetricsWriteFailed",
    "UnknownPrediction",
    "UnsupportedStoreUrl",
    "open_metrics_store",
    "redact_url",
    "sqlite_url",
    "upgrade_command",
    "upgrade_metrics_db",
]
