"""The whole ``mlcatalog up`` application in the test's own process, reached through an ASGI client.

``platform_app(store_dir, env)`` builds the app exactly as ``mlcatalog up`` does (settings from ``env``, never
from the test process's environment) and yields Starlette's TestClient bound to it, with the lifespan run (the
outbox replayer, the metrics store). No socket, no subprocess: the pattern of Datasette's ``ds_client``. Tests
where a process boundary is the point (crash/restart, replicas, the CLI end to end) start real processes instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mlcatalog.app import build_app, open_store
from mlcatalog.settings import load_settings

ATLAS_PASSWORD = "in-process-password"
ADMIN_KEY = "in-process-admin-key-0123"


def settings_env(**extra: str) -> dict[str, str]:
    """The environment the app's settings are read from: a password and an admin key, plus ``extra``."""
    return {"MLCATALOG_ATLAS_PASSWORD": ATLAS_PASSWORD, "MLCATALOG_ADMIN_KEY": ADMIN_KEY, **extra}


@contextmanager
def platform_app(store_dir: Path, env: dict[str, str] | None = None, *, raise_server_exceptions: bool = True
                 ) -> Iterator[TestClient]:
    """``raise_server_exceptions=False``: a failure inside the app is answered (a 500) instead of raised here."""
    # the tests' projects are made in pytest's temporary directories, beside the store
    env = {"MLCATALOG_PROJECTS_ROOT": str(store_dir.parents[1]), **(env or {})}
    settings = load_settings({"server.store": store_dir}, environ=settings_env(**env), cwd=store_dir.parent)
    store = open_store(settings.server.store)
    try:
        with TestClient(build_app(settings, store), base_url="http://testserver",
                        raise_server_exceptions=raise_server_exceptions) as client:
            yield client
    finally:
        store.close()


def json_of(r: Any) -> Any:
    """The JSON body of a response, which must say it is JSON."""
    assert r.headers.get("content-type", "").startswith("application/json"), (r.status_code, r.text)
    return r.json()


PLATFORM_ERROR_KEYS = {"code", "message", "problems"}


def assert_refusal_body(r: Any, code: str, server_paths: Iterable[str], caplog: pytest.LogCaptureFixture
                        ) -> dict[str, Any]:
    """A refusal as a hostile-input case expects it: mlcatalog's error body with ``code``, small, naming none of
    ``server_paths``, with at most one log line (no traceback) about it. Returns the body."""
    body = json_of(r)
    assert set(body) == PLATFORM_ERROR_KEYS, body
    assert body["code"] == code and isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["problems"], list) and all(isinstance(p, str) for p in body["problems"])
    assert len(r.content) < 16_384, f"an answer of {len(r.content)} bytes"
    for path in server_paths:
        assert path not in r.text, f"the answer names the server path {path}: {r.text[:1000]}"
    ours = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert len(ours) <= 1 and all(rec.exc_info is None and "\n" not in rec.getMessage() for rec in ours), \
        [rec.getMessage()[:300] for rec in ours]
    return dict(body)
