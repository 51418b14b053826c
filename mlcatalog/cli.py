"""The ``mlcatalog`` command line (also ``python -m mlcatalog``)."""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn

from mlcatalog.settings import ATLAS_USER, DEFAULT_LOOPBACK_PASSWORD, ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mlcatalog.demo import Warehouse

__all__ = ["app"]

#: Seconds uvicorn waits for in-flight requests on shutdown before cancelling them.
GRACEFUL_SHUTDOWN_SECONDS = 10

app = typer.Typer(
    name="mlcatalog",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold passwords
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _main() -> None:
    """mlcatalog: ML model catalog and monitoring on Apache Atlas.

    Settings come from command-line flags, then MLCATALOG_* environment variables, then the config file ($MLCATALOG_CONFIG or ./mlcatalog.toml), then defaults.
    """  # noqa: E501 (one line per paragraph, rich wraps it)
    from mlcatalog.process import configure_process

    configure_process()


#: Longest message ``up`` prints: a message may quote a URL, a path or a server's answer of any length.
MESSAGE_CHARS = 500


def _fail(message: str, code: int) -> typer.Exit:
    from catalog.lineagefile.problems import printable

    shown = message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS] + "..."
    typer.echo(f"mlcatalog: error: {printable(shown)}", err=True)  # one line, nothing a terminal would obey
    return typer.Exit(code)


class _Server(uvicorn.Server):
    """uvicorn's server, printing one line once it listens."""

    def __init__(self, config: uvicorn.Config, banner: list[str]) -> None:
        super().__init__(config)
        self.banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            for line in self.banner:
                typer.echo(line)


class _ShutdownRequest:
    """SIGINT/SIGTERM handler for the whole life of ``up``: asks uvicorn for a graceful shutdown.

    It stays installed while uvicorn runs, so it is also what uvicorn re-raises the signal to after its
    graceful shutdown: the process then closes the store and exits 0 instead of dying of the signal.
    """

    def __init__(self) -> None:
        self.requested = False
        self.server: uvicorn.Server | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        if self.server is not None:
            self.server.handle_exit(signum, frame)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _uvicorn_config(asgi_app: FastAPI, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        asgi_app,
        host=settings.server.host,
        port=settings.server.port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        ws="none",
        lifespan="on",
        workers=1,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


@app.command(no_args_is_help=False)
def up(
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            metavar="DIR",
            help="Directory of the embedded store, created if missing. "
            "Default: $MLCATALOG_STORE, else server.store from the config file, else ./.mlcatalog",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            metavar="N",
            min=1,
            max=65535,
            help="TCP port to listen on. "
            "Default: $MLCATALOG_PORT, else server.port from the config file, else 21000",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            metavar="H",
            help="Address to listen on; a non-loopback address requires a configured password. "
            "Default: $MLCATALOG_HOST, else server.host from the config file, else 127.0.0.1",
            show_default=False,
        ),
    ] = None,
    atlas_url: Annotated[
        str | None,
        typer.Option(
            "--atlas-url",
            metavar="URL",
            help="Atlas the catalog records into: http(s)://host:port for a real Atlas. "
            "Default: $MLCATALOG_ATLAS_URL, else atlas.url from the config file, else the embedded store",
            show_default=False,
        ),
    ] = None,
    atlas_ca_bundle: Annotated[
        Path | None,
        typer.Option(
            "--atlas-ca-bundle",
            metavar="PATH",
            help="PEM file of the CAs to trust for an https Atlas, instead of the default ones. "
            "Default: $MLCATALOG_ATLAS_CA_BUNDLE, else atlas.ca_bundle from the config file",
            show_default=False,
        ),
    ] = None,
    atlas_verify_tls: Annotated[
        bool | None,
        typer.Option(
            "--atlas-verify-tls/--no-atlas-verify-tls",
            help="Check an https Atlas's certificate (off: a test Atlas only, said loudly at start-up). "
            "Default: $MLCATALOG_ATLAS_VERIFY_TLS, else atlas.verify_tls from the config file, else on",
            show_default=False,
        ),
    ] = None,
    atlas_ui: Annotated[
        Path | None,
        typer.Option(
            "--atlas-ui",
            metavar="DIR",
            help="Also serve the Atlas web UI build in DIR (Atlas's dashboardv2) at /atlas/, signed in with the "
            "Atlas API's user and password. Default: $MLCATALOG_ATLAS_UI_DIR, else atlas.ui_dir from the config "
            "file, else no UI",
            show_default=False,
        ),
    ] = None,
    demo: Annotated[bool, typer.Option(
        "--demo", help="also play the seed's wine-quality demo: tables, project, build, 2 replicas, a monitor, "
                       "traffic that drifts (needs: pip install 'mlcatalog[demo]')")] = False,
    once: Annotated[bool, typer.Option("--once", help="with --demo: send the traffic at once, compute the "
                                                      "monitor's windows, print them and stop")] = False,
) -> None:
    """Serve the catalog, the embedded Atlas API (/api/atlas/v2/) and the model-serving platform until Ctrl-C or SIGTERM.

    The Atlas API uses HTTP Basic auth with user 'admin' and the password from $MLCATALOG_ATLAS_PASSWORD or atlas.password in the config file; without a configured password, 'admin' is used, and only on a loopback host. Administrative calls (API keys, outbox) need $MLCATALOG_ADMIN_KEY; when it is not set, the first start creates an administrative key and prints it once.
    """  # noqa: E501 (one line per paragraph, rich wraps it)
    try:
        settings = load_settings({"server.store": store, "server.port": port, "server.host": host,
                                  "atlas.url": atlas_url, "atlas.ui_dir": atlas_ui, "atlas.ca_bundle": atlas_ca_bundle,
                                  "atlas.verify_tls": atlas_verify_tls})
        settings.atlas_server_password()  # refuse an unusable password setup before touching the store
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    if once and not demo:
        raise _fail("--once goes with --demo", 2)
    warehouse = None
    if demo:
        from mlcatalog.demo import demo_missing, demo_warehouse

        why = demo_missing()
        if why:
            raise _fail(why, 2)
        try:
            warehouse = demo_warehouse(settings)  # a configured HiveServer2 + S3 the demo creates its tables in
        except ConfigError as exc:
            raise _fail(str(exc), 2) from None
    _serve(settings, demo=demo, once=once, warehouse=warehouse)


def _serve(settings: Settings, *, demo: bool = False, once: bool = False,
           warehouse: Warehouse | None = None) -> None:
    """Open the store, serve it until SIGINT/SIGTERM (graceful shutdown), close the store."""
    # Imported here so that `mlcatalog --help` stays fast.
    from catalog.errors import CatalogError
    from mlcatalog.app import StoreError, build_app, check_before_store, open_store

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(name)s: %(message)s")
    # Everything this process and its replicas create (databases, logs, the demo's project) is the owner's alone:
    # the store holds hashed keys, credentials in settings and every prediction.
    os.umask(0o077)
    shutdown = _ShutdownRequest()
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, shutdown) for sig in handled}
    try:
        try:
            check_before_store(settings)
            embedded_store = open_store(settings.server.store)
        except ConfigError as exc:
            raise _fail(str(exc), 2) from None
        except StoreError as exc:
            raise _fail(str(exc), 1) from None
        try:
            try:
                asgi_app = build_app(settings, embedded_store,
                                     tables=_demo_tables() if demo and warehouse is None else None)
            except (StoreError, CatalogError) as exc:
                raise _fail(str(exc), 1) from None
            except ConfigError as exc:
                raise _fail(str(exc), 2) from None
            runtime = asgi_app.state.runtime
            password_note = f", default password {DEFAULT_LOOPBACK_PASSWORD}" if settings.uses_default_password else ""
            banner = [
                f"mlcatalog listening on http://{_url_host(settings.server.host)}:{settings.server.port}, "
                f"Atlas API at /api/atlas/v2/ (user {ATLAS_USER}{password_note}), store {settings.server.store}",
                f"catalog records into Atlas: {runtime.atlas_label}",
            ]
            if settings.atlas.ui_dir is not None:
                banner.append(f"Atlas web UI at /atlas/ (from {settings.atlas.ui_dir})")
            if runtime.new_admin_key:
                banner.append(f"administrative key (shown once; export MLCATALOG_ADMIN_KEY=...): "
                              f"{runtime.new_admin_key}")
            server = _Server(_uvicorn_config(asgi_app, settings), banner)
            shutdown.server = server
            player = _demo_player(server, settings, runtime, once, warehouse) if demo else None
            if not shutdown.requested:
                try:
                    server.run()
                except SystemExit as exc:  # uvicorn exits on bind/startup failure (after logging why)
                    if exc.code not in (0, None):
                        raise typer.Exit(1) from None
                    raise
            if player is not None and player.failed:
                raise typer.Exit(1)
        finally:
            embedded_store.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _demo_tables() -> Any:
    from mlcatalog.demo import DemoTables

    return DemoTables()


class _DemoPlayer(threading.Thread):
    def __init__(self, server: uvicorn.Server, settings: Settings, key: str, once: bool,
                 warehouse: Warehouse | None, key_note: str) -> None:
        super().__init__(name="demo", daemon=True)
        self.server, self.settings, self.key, self.once, self.warehouse = server, settings, key, once, warehouse
        self.key_note = key_note
        self.failed = False

    def run(self) -> None:
        from mlcatalog.demo import Demo

        while not self.server.started:
            if self.server.should_exit:
                return
            time.sleep(0.05)
        demo = Demo(f"http://{_url_host(self.settings.server.host)}:{self.settings.server.port}", self.key,
                    self.settings.server.store, say=typer.echo,
                    atlas_auth=(ATLAS_USER, self.settings.atlas_server_password()), warehouse=self.warehouse,
                    should_stop=lambda: self.server.should_exit, key_note=self.key_note)
        try:
            demo.run(once=self.once)
        except Exception as e:  # noqa: BLE001 - the demo reports and the server goes on (or stops with --once)
            if self.server.should_exit and not self.once:
                return  # Ctrl-C while it played: the server going away is not the demo failing
            typer.echo(f"mlcatalog: error: the demo failed: {e}", err=True)
            self.failed = True
        finally:
            demo.close()
            if self.once:
                self.server.should_exit = True


def _demo_player(server: uvicorn.Server, settings: Settings, runtime: Any, once: bool,
                 warehouse: Warehouse | None) -> _DemoPlayer:
    key = runtime.new_admin_key or (settings.api.admin_key.get_secret_value() if settings.api.admin_key else None)
    note = ("the administrative key printed above" if runtime.new_admin_key else
            "your MLCATALOG_ADMIN_KEY (or any API key)")
    from mlcatalog.demo import DEMO_PROJECT, demo_dir

    runtime.platform.other_roots.append(demo_dir(settings.server.store))  # the demo's project lives in the store
    if key is None:  # an administrative key exists, but only its hash: a key of the demo's own
        key = runtime.keys.create("demo (created by mlcatalog up --demo)", role="deployer",
                                  projects=[DEMO_PROJECT])[1]
        note = f"{key} (an API key made for this demo)"
    player = _DemoPlayer(server, settings, key, once, warehouse, note)
    player.start()
    return player


def _register_catalog_commands() -> None:
    from mlcatalog.cli_builds import register as register_builds
    from mlcatalog.cli_catalog import register
    from mlcatalog.cli_models import register as register_models
    from mlcatalog.cli_monitor import register as register_monitor
    from mlcatalog.cli_serving import register as register_serving
    from mlcatalog.cli_serving import register_metrics_db, register_state_db

    register(app)
    register_serving(app)
    register_models(app)
    register_builds(app)
    register_metrics_db(app)
    register_state_db(app)
    register_monitor(app)


_register_catalog_commands()
