"""``import cdsw`` for scripts written for Cloudera CML/CDSW: the same functions, served by mlcatalog.

Outside a model replica the SDK reads mlcatalog's settings (environment, then ``mlcatalog.toml``) when it first
needs them; inside one, the replica has imported and configured it before any user code runs, and it is the only
package of ours that user code can import there (serving/replica.py: ``seal_own_packages``), so nothing it runs
may import lazily.
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
