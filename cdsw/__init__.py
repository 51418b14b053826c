"""``import cdsw`` for scripts written for Cloudera CML/CDSW: the same functions, served by mlcatalog.

Outside a model replica the SDK reads mlcatalog's settings (environment, then ``mlcatalog.toml``) when it first
needs them; inside one, the replica has configured it before any user code runs.
"""

from mlcatalog.sdkconfig import sdk_settings
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
    use_settings,
)

use_settings(sdk_settings)

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
