"""Assembly of the mlcatalog HTTP service: the one place that decides what the app serves.

Today: the embedded Atlas-v2-compatible API under ``/api/atlas/v2`` (HTTP Basic auth, user ``admin``).
Later routers (e.g. ``/api/v1``) are mounted in :func:`build_app`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi import FastAPI

from catalog.config import ATLAS_USER, Settings
from catalog.embedded.app import create_app
from catalog.embedded.db import StoreVersionError
from catalog.embedded.store import EmbeddedStore

__all__ = ["StoreError", "build_app", "open_store"]


class StoreError(Exception):
    """The store directory cannot be created or opened; ``str(exc)`` is a one-line message."""


def open_store(directory: Path) -> EmbeddedStore:
    """Create (if needed) and open the embedded store in ``directory``, with the bundled type model."""
    from typedefs import load_bundled_typedefs

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create store directory {directory}: {exc.strerror or exc}") from exc
    try:
        return EmbeddedStore(directory, load_bundled_typedefs())
    except (OSError, sqlite3.Error, StoreVersionError) as exc:
        raise StoreError(f"cannot open store in {directory}: {exc}") from exc


def build_app(settings: Settings, store: EmbeddedStore) -> FastAPI:
    """The complete ASGI app for ``settings``, serving ``store`` (the caller owns and closes it).

    Raises :class:`catalog.config.ConfigError` if the settings do not allow serving (e.g. no password
    for a non-loopback host). To fail before touching the store, check
    :meth:`Settings.atlas_server_password` before :func:`open_store`, as the CLI does.
    """
    password = settings.atlas_server_password()
    from catalog.api.app import TokenAuth, mount
    from catalog.factory import make_catalog, make_client, make_queries
    from serving.platform.runtime import PlatformRuntime

    self_url = f"http://{self_host(settings.server.host)}:{settings.server.port}"
    # The catalog talks to the embedded Atlas of this very process over HTTP, exactly as to a real Atlas,
    # unless an Atlas URL is configured explicitly.
    atlas_url = settings.atlas.url if settings.is_set("atlas.url") else self_url
    client = make_client(settings, url=atlas_url,
                         password=password if atlas_url == self_url else None)
    catalog = make_catalog(settings, client)
    runtime = PlatformRuntime(settings, settings.server.store, catalog, self_url)
    try:
        runtime.check_metrics_store()
    except Exception as e:  # noqa: BLE001 - e.g. a PostgreSQL schema older than this mlcatalog
        raise StoreError(f"metrics store: {e}") from e
    app = create_app(settings.server.store, user=ATLAS_USER, password=password, store=store,
                     openapi_prefix="/api/v1", lifespan=runtime.lifespan)
    token = settings.api.token.get_secret_value() if settings.api.token else None
    mount(app, make_queries(client), catalog, TokenAuth(token, settings.api.read_auth, accept=runtime.accept))
    runtime.install(app)
    app.state.platform = runtime
    return app


def self_host(host: str) -> str:
    """How this process reaches its own listening socket."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
