"""Errors of the metrics store, rooted in the catalog's one error root so the API layer maps them to HTTP."""

from __future__ import annotations

from catalog import CatalogError, Conflict, InvalidInput, NotFound, UpstreamUnavailable


class UnknownPrediction(NotFound):
    """``merge_delayed`` named a prediction UUID the store has never recorded."""

    code = "unknown_prediction"

    def __init__(self, prediction_uuid: str) -> None:
        super().__init__(f"no prediction with uuid {prediction_uuid!r} in the metrics store")
        self.prediction_uuid = prediction_uuid


class DuplicatePrediction(Conflict):
    """A prediction UUID was written twice; the second write is refused, the first one is kept."""


class InvalidMetrics(InvalidInput):
    """Metrics or record fields the store cannot hold (NaN, NUL characters, end before start, ...)."""


class InvalidMetricsQuery(InvalidInput):
    """``read`` arguments that cannot select anything meaningful (no CRN, end before start, ...)."""


class UnsupportedStoreUrl(InvalidInput):
    """The metrics store URL has an unknown scheme or a shape the backend does not accept."""


# The two schema errors stop a replica at start (open_metrics_store), never a request: no HTTP status of their own.
class MetricsSchemaTooOld(CatalogError):
    """The database schema is older than this code. It is never migrated implicitly; ``command`` does it."""

    code = "schema_too_old"

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


class MetricsSchemaTooNew(CatalogError):
    """The database was migrated by a newer mlcatalog (or is not a metrics store at all)."""

    code = "schema_too_new"


class MetricsStoreClosed(UpstreamUnavailable):
    """The store was closed (shutting down) or its writer died: 503, the client may retry on another replica."""


class MetricsQueueFull(UpstreamUnavailable):
    """Backpressure: the write queue stayed full for the caller's whole ``timeout``."""


class MetricsWriteFailed(UpstreamUnavailable):
    """The database refused or lost a write (disk full, connection lost, ...); the record is not stored."""


class MetricsStoreUnavailable(UpstreamUnavailable):
    """The database could not be reached when opening or reading the store."""
