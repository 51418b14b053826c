"""Assembly of the ``mlcatalog up`` process: the one place that knows both the catalog and the serving platform.

One ASGI application on one port:

* ``/api/atlas/...``: the embedded store's Atlas API, a sub-application with Atlas's own error body;
* ``/api/v1/...``: the catalog API, the serving admin API and the metrics API, with mlcatalog's error body
  (also for unknown paths and 500s);
* ``POST /model``: the model gateway (CML's request and error format), served in front of the routing;
* ``/metrics``: Prometheus;
* ``/healthz``, ``/readyz``: liveness and readiness, unauthenticated (``mlcatalog.health``);
* ``/atlas/...``: Atlas's own web UI over the Atlas API, when a UI build is configured (``mlcatalog.atlas_ui``).

Nothing calls itself over HTTP: the catalog reaches the embedded store through an in-process transport (or a
real Atlas over HTTP, when configured), and the platform records builds and deployments in the catalog of this
process (or a remote catalog API, when configured).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

from catalog import Action, CatalogError, Principal
from catalog.api.app import API_PREFIX, TokenAuth, build_router
from catalog.api.docs import install_docs
from catalog.api.errors import error_response, install_error_handlers
from catalog.api.limits import MB, BodyLimit
from catalog.atlas.connect import InvalidAtlasUrl, check_atlas_url, is_embedded
from catalog.backend import BuildRequest, BuildResult, CatalogBackend
from catalog.embedded.admin_audit import server_started
from catalog.embedded.app import ATLAS_PREFIX, create_app, timeout_answer
from catalog.embedded.db import StoreVersionError
from catalog.embedded.limits import Limits
from catalog.embedded.metrics import ensure_hourly
from catalog.embedded.store import EmbeddedStore
from catalog.receive_timeout import BodyTimeouts, ReceiveTimeout
from catalog.remote import RemoteCatalog
from catalog.service import LocalCatalog, build_result
from mlcatalog.assemble import local_catalog, table_sampler
from mlcatalog.atlas_ui import UI_PREFIX, check_ui_dir, mount_atlas_ui
from mlcatalog.health import install_health
from mlcatalog.openlineage import LineageEmitter, build_with_events, open_emitter
from mlcatalog.pages import install_pages
from mlcatalog.settings import ATLAS_USER, ConfigError, Settings, redact
from serving.metrics import open_metrics_store, redact_url, sqlite_url
from serving.monitoring.ledger import Ledger
from serving.monitoring.prometheus import MonitorCollector
from serving.monitoring.routes import build_router as build_monitor_router
from serving.monitoring.scheduler import MonitorScheduler
from serving.monitoring.service import DeploymentFacts, MonitorService
from serving.monitoring.worker import Computer, InProcessComputer, ProcessComputer
from serving.platform import outbox
from serving.platform.apikeys import ApiKeys
from serving.platform.gateway import PATH as GATEWAY_PATH
from serving.platform.gateway import Auth, GatewayMetrics, GatewayMiddleware, ModelGateway
from serving.platform.outbox import OPENLINEAGE, Replayer, catalog_sender, lineage_sender
from serving.platform.routes import build_router as build_serving_router
from serving.platform.service import Platform
from serving.platform.state import State, default_state_url, open_state
from serving.platform.supervisor import Supervisor
from serving.platform.traffic import TrafficRecorder

__all__ = ["Runtime", "StoreError", "assemble", "build_app", "check_before_store", "open_store", "self_host"]

log = logging.getLogger(__name__)
SYNC_EVERY_S = 2.0  # how soon a deployment made through another instance sharing the state is served here too
HOUSEKEEPING_EVERY_S = 3600.0  # unused build environments and stopped deployments' snapshots are removed this often


class StoreError(Exception):
    """The store directory cannot be created or opened; ``str(exc)`` is a one-line message."""


def check_before_store(settings: Settings) -> None:
    """Refuse what stops start-up and is known before the store exists, so that a refused start creates nothing:
    the served password, the Atlas the catalog records into, a configured metrics store.

    Raises :class:`mlcatalog.settings.ConfigError` for the settings, :class:`StoreError` for the metrics store."""
    settings.atlas_server_password()
    if settings.atlas.ui_dir is not None:
        check_ui_dir(settings.atlas.ui_dir)
    url = settings.atlas_url_served()
    settings.atlas_client_password(url)
    try:
        check_atlas_url(url)
    except InvalidAtlasUrl as e:
        raise ConfigError(e.message) from None
    if settings.serving.metrics_url:
        _check_metrics_store(settings.serving.metrics_url)
    if settings.serving.state_url:
        _check_state(settings.serving.state_url)
    emitter = open_emitter(settings)  # its client's configuration
    if emitter is not None:
        emitter.close()


def _check_metrics_store(url: str) -> None:
    try:
        open_metrics_store(url).close()  # a schema needing an upgrade stops start-up, with the command
    except Exception as e:
        raise StoreError(f"metrics store: {e}") from e


def _open_state(url: str) -> State:
    try:
        return open_state(url)
    except (OSError, sqlite3.Error, RuntimeError, CatalogError) as e:
        raise StoreError(f"platform state {redact_url(url)}: {e}") from e


def _check_state(url: str) -> None:
    _open_state(url).close()  # an unreachable database or one needing an upgrade stops start-up, with the command


def open_store(directory: Path) -> EmbeddedStore:
    """Create (if needed) and open the embedded store in ``directory``, with the bundled type model."""
    from typedefs import load_bundled_typedefs

    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if directory.stat().st_uid == os.geteuid():
            directory.chmod(0o700)  # also a store made before this rule: nobody else may list or read it
    except OSError as exc:
        raise StoreError(f"cannot create store directory {directory}: {exc.strerror or exc}") from exc
    try:
        return EmbeddedStore(directory, load_bundled_typedefs())
    except (OSError, sqlite3.Error, StoreVersionError) as exc:
        raise StoreError(f"cannot open store in {directory}: {exc}") from exc


def self_host(host: str) -> str:
    """How this process reaches its own listening socket (the default public URL of the platform)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@dataclass
class Runtime:
    """Everything ``mlcatalog up`` runs, built from the settings; :meth:`lifespan` starts and stops it."""

    settings: Settings
    store: EmbeddedStore
    catalog: LocalCatalog
    backend: CatalogBackend
    state: State
    keys: ApiKeys
    auth: Auth
    supervisor: Supervisor
    replayer: Replayer
    platform: Platform
    gateway: ModelGateway
    traffic: TrafficRecorder
    metrics_url: str
    monitors: MonitorService | None = None
    scheduler: MonitorScheduler | None = None
    metrics_store: Any = None
    lineage: LineageEmitter | None = None  # OpenLineage events, when configured
    lineage_replayer: Replayer | None = None
    new_admin_key: str | None = field(default=None, repr=False)  # created at this start: printed once

    @property
    def atlas_label(self) -> str:
        url = self.settings.atlas_url_served()
        if is_embedded(url):
            return f"embedded store in {self.settings.server.store}"
        return f"{redact(url)} (user {self.settings.atlas.user})"

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        server_started(self.store, int(time.time() * 1000))  # Atlas's SERVER_START admin audit entry
        ensure_hourly(self.store)  # the first metrics snapshot of this run
        self.metrics_store = open_metrics_store(self.metrics_url)
        self.replayer.start()
        if self.lineage_replayer is not None:
            self.lineage_replayer.start()
        self.traffic.start()
        # In the background: restoring may build environments for minutes (a new pod's empty store), and the server
        # must answer its liveness probe meanwhile; /readyz says "restoring", a model call waits for it.
        restoring = self.platform.start_restoring()
        syncing = asyncio.create_task(self._sync()) if self.state.shared else None
        housekeeping = asyncio.create_task(self._housekeeping())
        if self.scheduler is not None:
            self.scheduler.start()
        try:
            yield
        finally:
            loops = [task for task in (restoring, syncing, housekeeping) if task is not None]
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)  # a loop's own failure must not skip the rest
            if self.scheduler is not None:
                self.scheduler.stop()
            if self.monitors is not None:
                self.monitors.computer.close()
            await self.supervisor.stop_all()
            self.traffic.stop()  # flushes the last seconds, before the state closes
            self.replayer.stop()
            if self.lineage_replayer is not None:
                self.lineage_replayer.stop()
            if self.lineage is not None:
                self.lineage.close()
            self.metrics_store.close()
            if self.backend is not self.catalog:
                self.backend.close()
            self.catalog.close()
            self.state.close()


    async def _housekeeping(self) -> None:
        """Build environments and snapshots no deployment needs any more are removed, hourly."""
        failures: tuple[type[Exception], ...] = (OSError, *self.state.errors)
        while True:
            await asyncio.sleep(HOUSEKEEPING_EVERY_S)
            try:
                await self.platform.housekeeping()
            except failures as e:
                log.warning("housekeeping failed, tried again later: %s", e)
            except Exception:
                log.exception("housekeeping failed, tried again later")

    async def _sync(self) -> None:
        """Instances sharing the state serve every deployment and run every monitor: follow what the others
        deploy, stop, and monitor."""
        while True:
            await asyncio.sleep(SYNC_EVERY_S)
            try:
                await self.platform.sync()
                if self.scheduler is not None:
                    await asyncio.to_thread(self.scheduler.sync)
            except self.state.errors as e:
                log.warning("platform state unavailable, deployments not synced: %s", e)
            except Exception:
                log.exception("deployments not synced this round")


def assemble(settings: Settings, store: EmbeddedStore, *, tables: Any = None) -> Runtime:
    """Build the process from ``settings`` around an open ``store`` (the caller owns and closes it).

    Raises :class:`mlcatalog.settings.ConfigError` if the settings do not allow serving, and :class:`StoreError`
    if the platform's state or metrics store cannot be opened."""
    store_dir = settings.server.store
    lineage = open_emitter(settings)  # before anything is opened: a ConfigError leaves nothing to close
    public = settings.serving.public_url or f"http://{self_host(settings.server.host)}:{settings.server.port}"
    catalog = local_catalog(settings, settings.atlas_url_served(), store=store, tables=tables)
    backend: CatalogBackend = catalog
    if settings.serving.catalog_url:
        backend = RemoteCatalog(settings.serving.catalog_url, settings.client_key())
    metrics_url = settings.serving.metrics_url or sqlite_url(store_dir / "metrics.db")
    try:
        _check_metrics_store(metrics_url)
        state = _open_state(settings.serving.state_url or default_state_url(store_dir))
    except StoreError:
        catalog.close()
        raise
    keys = ApiKeys(state)
    admin_key = settings.api.admin_key.get_secret_value() if settings.api.admin_key else None
    new_admin_key = None
    if admin_key is None and not keys.has_active_admin():
        _, new_admin_key = keys.create("admin (created by mlcatalog up)", role="admin")
    token = settings.api.token.get_secret_value() if settings.api.token else None
    auth = Auth(keys, token, admin_key)
    supervisor = Supervisor(store_dir / "replicas", metrics_url, settings.serving.replica_poll_us,
                            ready_timeout=settings.serving.start_timeout_s)
    replayer = Replayer(state, catalog_sender(backend, state))
    lineage_replayer = (Replayer(state, lineage_sender(lineage.emit), lane=OPENLINEAGE) if lineage is not None
                        else None)

    def wake_outbox() -> None:
        replayer.wake()
        if lineage_replayer is not None:
            lineage_replayer.wake()

    traffic = TrafficRecorder(state)
    platform = Platform(state, supervisor, catalog.scope, public, wake_outbox, traffic=traffic,
                        projects_root=settings.serving.projects_root, resolve=catalog.resolve_build,
                        lineage=lineage.for_outbox if lineage is not None else None,
                        env_keep_s=settings.serving.build_env_keep_days * 86400)
    gateway = ModelGateway(platform, auth, GatewayMetrics(), busy_timeout=settings.serving.busy_timeout_s,
                           request_timeout=settings.serving.request_timeout_s, recorder=traffic)
    runtime = Runtime(settings=settings, store=store, catalog=catalog, backend=backend, state=state, keys=keys,
                      auth=auth, supervisor=supervisor, replayer=replayer, platform=platform, gateway=gateway,
                      traffic=traffic, metrics_url=metrics_url, new_admin_key=new_admin_key, lineage=lineage,
                      lineage_replayer=lineage_replayer)
    runtime.monitors = _monitors(runtime)
    platform.versions.on_new_build = runtime.monitors.follow  # a model's monitor follows it to its new builds
    if settings.monitoring.enabled:
        # SQLAlchemy's spelling: sqlite:/// then the absolute path (four slashes in all)
        runtime.scheduler = MonitorScheduler(runtime.monitors, f"sqlite:///{(store_dir / 'scheduler.db').resolve()}")
    return runtime


def _monitors(runtime: Runtime) -> MonitorService:
    settings, platform = runtime.settings, runtime.platform
    lazy_store: Any = _LazyStore(runtime)
    computer: Computer = (ProcessComputer(runtime.metrics_url) if settings.monitoring.worker == "process"
                          else InProcessComputer(lazy_store))

    def deployment(crn: str) -> DeploymentFacts | None:
        d = platform.by_crn(crn)
        return None if d is None else DeploymentFacts(status=d.status, build_crn=d.build_crn, model_crn=d.model_crn)

    secret = settings.monitoring.webhook_secret
    ledger = Ledger(runtime.state)
    runtime.gateway.metrics.registry.register(MonitorCollector(ledger))
    return MonitorService(ledger, lazy_store, computer, deployment=deployment, lineage=runtime.backend.build_inputs,
                          sampler=table_sampler(settings), wake_outbox=runtime.replayer.wake,
                          webhook_secret=secret.get_secret_value() if secret else None)


def build_app(settings: Settings, store: EmbeddedStore, *, tables: Any = None) -> FastAPI:
    """The complete ASGI app for ``settings``, serving ``store`` (the caller owns and closes it).

    Raises :class:`mlcatalog.settings.ConfigError` if the settings do not allow serving (e.g. no password for a
    non-loopback host): :func:`check_before_store` before :func:`open_store` fails first.
    """
    password = settings.atlas_server_password()
    runtime = assemble(settings, store, tables=tables)
    app = FastAPI(title="mlcatalog", version="1", redoc_url=None, openapi_url=f"{API_PREFIX}/openapi.json",
                  docs_url=None, lifespan=runtime.lifespan)
    install_docs(app, API_PREFIX)
    limits = Limits(max_body_bytes=settings.atlas.max_body_mb * MB, search_max_limit=settings.atlas.search_max_limit,
                    search_default_limit=settings.atlas.search_default_limit)
    app.mount(ATLAS_PREFIX, create_app(store, user=ATLAS_USER, password=password, limits=limits))
    if settings.atlas.ui_dir is not None:
        mount_atlas_ui(app, settings.atlas.ui_dir, store, user=ATLAS_USER, password=password, limits=limits)
    token = settings.api.token.get_secret_value() if settings.api.token else None
    app.include_router(build_router(runtime.catalog, TokenAuth(token, settings.api.read_auth, runtime.auth.identify,
                                                            projects_root=settings.serving.projects_root),
                                    record_build=_build_recorder(runtime)))
    app.include_router(build_serving_router(runtime.platform, runtime.auth, runtime.state, _LazyStore(runtime),
                                            runtime.gateway))
    assert runtime.monitors is not None

    def who(authorization: Annotated[str | None, Header()] = None) -> Principal:
        return runtime.auth.require(authorization)

    def authorize(caller: Principal, crn: str, action: Action) -> None:
        caller.require(action, runtime.platform.project_for("crn", crn), what=crn)

    app.include_router(build_monitor_router(runtime.monitors, runtime.platform.resolve_deployment, who, authorize))
    install_health(app, runtime)
    install_pages(app)
    install_error_handlers(app)

    async def state_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: the platform's database is unavailable: %s", request.method, request.url.path, exc)
        return error_response("upstream_unavailable", "the platform's database is unavailable; try again shortly")

    if runtime.state.shared:  # its PostgreSQL down: 503, as for an Atlas that does not answer (not a 500)
        for error in runtime.state.errors:
            app.add_exception_handler(error, state_unavailable)
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_mb * MB, prefix=API_PREFIX)
    app.add_middleware(GatewayMiddleware, gateway=runtime.gateway)
    # Outermost: it bounds every reader of a body (the gateway, BodyLimit, the Atlas API), in each surface's shape.
    app.add_middleware(
        ReceiveTimeout, timeouts=BodyTimeouts(settings.server.body_timeout_s, settings.server.body_total_timeout_s),
        answers=[(ATLAS_PREFIX, timeout_answer), (UI_PREFIX + ATLAS_PREFIX, timeout_answer),
                 (GATEWAY_PATH, lambda reason: JSONResponse(
                     {"success": False, "code": "request_timeout", "message": reason}, status_code=408))],
        default=lambda reason: error_response("request_timeout", reason, status=408))
    app.state.runtime = runtime
    return app


def _build_recorder(runtime: Runtime) -> Callable[[BuildRequest], BuildResult] | None:
    """``POST /api/v1/builds`` with the build's OpenLineage events, queued in the outbox's lineage lane like a
    deploy's; None (the plain catalog write) when OpenLineage is off."""
    lineage, replayer = runtime.lineage, runtime.lineage_replayer
    if lineage is None or replayer is None:
        return None

    def deliver(events: list[dict[str, Any]]) -> None:
        try:
            with runtime.state.tx() as c:
                for event in events:
                    outbox.enqueue(c, OPENLINEAGE, {"event": event})
        except runtime.state.errors as e:  # the build is recorded: its events are what is lost, said in the log
            log.error("the build's %d OpenLineage events could not be queued: %s", len(events), e)
            return
        replayer.wake()

    def record(request: BuildRequest) -> BuildResult:
        return build_result(build_with_events(runtime.catalog, request, lineage, deliver))

    return record


class _LazyStore:
    """The metrics store opens in the lifespan (after the app is built); routes reach it through this."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def __getattr__(self, name: str) -> Any:
        store = self._runtime.metrics_store
        if store is None:
            raise RuntimeError("metrics store not open")
        return getattr(store, name)
