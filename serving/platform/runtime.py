"""Assembles the serving platform inside ``mlcatalog up``: state, keys, supervisor, outbox, gateway routes."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI

from catalog.config import Settings
from catalog.sync.engine import Catalog
from serving.catalog_client import CatalogApi
from serving.platform.apikeys import ApiKeys
from serving.platform.gateway import Auth, GatewayMetrics, GatewayMiddleware, ModelGateway
from serving.platform.outbox import Replayer
from serving.platform.routes import build_router
from serving.platform.service import Platform
from serving.platform.state import StateDb
from serving.platform.supervisor import Supervisor

log = logging.getLogger(__name__)


def metrics_url_for(settings: Settings, store_dir: Path) -> str:
    from serving.metrics import sqlite_url

    return settings.serving.metrics_url or sqlite_url(store_dir / "metrics.db")


class PlatformRuntime:
    def __init__(self, settings: Settings, store_dir: Path, catalog: Catalog, self_url: str) -> None:
        self.settings = settings
        self.state = StateDb(store_dir / "platform.db")
        self.keys = ApiKeys(self.state)
        # The platform's own credential for the catalog API of this process (never leaves the process).
        self._internal_token = secrets.token_urlsafe(32)
        self.metrics_url = metrics_url_for(settings, store_dir)
        self.supervisor = Supervisor(store_dir / "replicas", self.metrics_url, settings.serving.replica_poll_us)
        self.catalog_api = CatalogApi(self_url, self._internal_token)
        self.replayer = Replayer(self.state, self.catalog_api.send)
        public = settings.serving.public_url or self_url
        self.platform = Platform(self.state, self.supervisor, catalog, public, self.replayer.wake)
        self.auth = Auth(self.keys, settings.api.token.get_secret_value() if settings.api.token else None)
        self.gateway = ModelGateway(self.platform, self.auth, GatewayMetrics(),
                                    busy_timeout=settings.serving.busy_timeout_s,
                                    request_timeout=settings.serving.request_timeout_s)
        self.metrics_store: Any = None

    def check_metrics_store(self) -> None:
        """Open and close the metrics store once, so a schema that needs an upgrade stops start-up with a clear
        message (naming the upgrade command) instead of failing later in the lifespan."""
        from serving.metrics import open_metrics_store

        open_metrics_store(self.metrics_url).close()

    def accept(self, token: str) -> bool:
        """Credentials the catalog API accepts besides its configured token: API keys and our own token."""
        if hmac.compare_digest(token.encode(), self._internal_token.encode()):
            return True
        return self.keys.verify(token) is not None

    def router(self) -> APIRouter:
        return build_router(self.platform, self.auth, self.state, _LazyStore(self), self.gateway)

    def install(self, app: FastAPI) -> None:
        """Mount the platform's routes, with ``POST /model`` served in front of the app's routing."""
        app.include_router(self.router())
        app.add_middleware(GatewayMiddleware, gateway=self.gateway)

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        from serving.metrics import open_metrics_store

        self.metrics_store = open_metrics_store(self.metrics_url)
        self.replayer.start()
        await self.platform.restore()
        try:
            yield
        finally:
            await self.supervisor.stop_all()
            self.replayer.stop()
            self.catalog_api.close()
            self.metrics_store.close()
            self.state.close()


class _LazyStore:
    """The metrics store opens in the lifespan (after the app is built); routes reach it through this."""

    def __init__(self, runtime: PlatformRuntime) -> None:
        self._runtime = runtime

    def __getattr__(self, name: str) -> Any:
        store = self._runtime.metrics_store
        if store is None:
            raise RuntimeError("metrics store not open")
        return getattr(store, name)
