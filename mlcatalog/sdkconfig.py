"""The metrics SDK's settings outside a replica (``import cdsw``): mlcatalog's, read when first needed."""

from __future__ import annotations

from mlcatalog.settings import load_settings
from serving.metrics.urls import sqlite_url
from serving.sdk import SdkSettings


def sdk_settings() -> SdkSettings:
    """Environment and config file as for the ``mlcatalog`` command: the local store of dev mode is the metrics
    store of ``[server] store`` (or ``[serving] metrics_url``), the platform is ``MLCATALOG_URL``."""
    s = load_settings()
    return SdkSettings(metrics_url=s.serving.metrics_url or sqlite_url(s.server.store / "metrics.db"),
                       platform_url=s.client.url, api_key=s.client_key())
