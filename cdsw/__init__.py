"""``import cdsw`` for scripts written for Cloudera CML/CDSW: the same functions, served by mlcatalog."""

from serving.sdk import (
    call_model,
    dev_model_build_crn,
    dev_model_crn,
    dev_model_deployment_crn,
    model_metrics,
    read_metrics,
    track_aggregate_metrics,
    track_delayed_metrics,
    track_metric,
)

__all__ = [
    "call_model",
    "dev_model_build_crn",
    "dev_model_crn",
    "dev_model_deployment_crn",
    "model_metrics",
    "read_metrics",
    "track_aggregate_metrics",
    "track_delayed_metrics",
    "track_metric",
]
