"""AdminResource's health and diagnostics (``catalog.embedded.admin_health``): ``admin/liveness``, ``admin/readiness``,
``admin/stack``, ``admin/debug/metrics`` and ``admin/patches``, over the in-process HTTP client.

Expected answers: Atlas's ``AdminResource.serviceLiveliness/serviceReadiness`` (bare text, 500 INTERNAL_ERROR when not
ready), ``getThreadDump`` (``text/plain``: each thread's name, ``State:`` and frames), ``AtlasDebugMetricsSink``
(empty while debug metrics are off) and ``AtlasPatchRegistry.getAllPatches`` (patches sorted by id).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.datastructures import QueryParams
from starlette.testclient import TestClient

from catalog.embedded import admin_health
from catalog.embedded.app import standalone_app
from catalog.embedded.db import MIGRATIONS
from catalog.embedded.routes import AtlasRequest
from catalog.embedded.store import EmbeddedStore
from tests.conftest import ATLAS_PASSWORD
from tests.embedded.conftest import AUTH, ok


def request() -> AtlasRequest:
    return AtlasRequest({}, QueryParams(""), b"", "admin")


# -- liveness, readiness --------------------------------------------------------------------------------------
def test_live_and_ready_answers_are_atlas_texts(store: EmbeddedStore) -> None:
    assert admin_health.liveness(store, request()).data == b"Service is live"
    ready = admin_health.readiness(store, request())
    assert ready.data == b"Service is ready to accept client requests"
    assert ready.media_type == "text/plain; charset=UTF-8"


def test_live_and_ready_over_http(api: TestClient) -> None:
    for path, text in (("liveness", "Service is live"), ("readiness", "Service is ready to accept client requests")):
        r = api.get(f"/api/atlas/admin/{path}")
        assert (r.status_code, r.text) == (200, text)
        assert r.headers["content-type"].startswith("text/plain")


def test_a_store_at_another_schema_version_is_not_ready(tmp_path: Path) -> None:
    other = EmbeddedStore(tmp_path)
    try:
        with TestClient(standalone_app(other, password=ATLAS_PASSWORD), base_url="http://atlas") as client:
            with other.db.write() as conn:
                conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
            r = client.get("/api/atlas/admin/readiness", auth=AUTH)
            assert r.status_code == 500
            assert r.json() == {"errorCode": "ATLAS-500-00-001",
                                "errorMessage": "Internal server error Service not ready to accept client requests"}
    finally:
        other.close()


def test_health_needs_credentials(api: TestClient) -> None:
    for path in ("liveness", "readiness", "stack", "patches", "debug/metrics"):
        r = api.get(f"/api/atlas/admin/{path}", auth=("admin", "wrong"))
        assert (r.status_code, r.json()["errorCode"]) == (401, "ATLAS-401-00-001")


# -- admin/stack ----------------------------------------------------------------------------------------------
def _park(ready: threading.Event, release: threading.Event) -> None:
    ready.set()
    release.wait(30)


@pytest.fixture
def parked() -> Iterator[threading.Thread]:
    """A thread waiting on an event: the dump must show it, waiting, with its frames."""
    ready, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=_park, args=(ready, release), name="parked-for-dump", daemon=True)
    thread.start()
    ready.wait(5)
    yield thread
    release.set()
    thread.join(5)


def test_thread_dump_lists_threads_with_state_and_frames(parked: threading.Thread) -> None:
    dump = admin_health.thread_dump()
    assert dump.split("\n", 1)[0] in {t.name for t in threading.enumerate()}  # each block starts with a name
    assert "parked-for-dump\nState: WAITING\n" in dump
    block = dump[dump.index("parked-for-dump\n"):]
    frames = block.split("\n")[2:]
    assert frames[0].startswith("threading.Condition.wait(threading.py:")  # innermost first, as Java lists them
    assert any(f.startswith(f"{__name__}._park(test_admin_health.py:") for f in frames)
    assert f"{threading.current_thread().name}\nState: RUNNABLE\n" in dump


def test_stack_over_http_is_plain_text(api: TestClient, parked: threading.Thread) -> None:
    r = api.get("/api/atlas/admin/stack")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "parked-for-dump\nState: WAITING\n" in r.text
    assert "catalog.embedded.admin_health.thread_dump(admin_health.py:" in r.text  # the request's own thread


# -- admin/debug/metrics, admin/patches -----------------------------------------------------------------------
def test_debug_metrics_are_empty_while_disabled(api: TestClient) -> None:
    assert ok(api.get("/api/atlas/admin/session"))["atlas.debug.metrics.enabled"] is False
    assert ok(api.get("/api/atlas/admin/debug/metrics")) == {}


def test_patches_are_the_schema_migrations(api: TestClient) -> None:
    patches = ok(api.get("/api/atlas/admin/patches"))["patches"]
    assert [p["id"] for p in patches] == sorted(p["id"] for p in patches)
    assert [p["description"] for p in patches] == [m.name.replace("_", " ") for m in MIGRATIONS]
    assert patches[0] == {"id": "STORE_SCHEMA_PATCH_0001", "description": "initial schema", "type": "JAVA_PATCH",
                          "action": "apply", "createdTime": 0, "updatedTime": 0, "status": "APPLIED"}
    assert {p["status"] for p in patches} == {"APPLIED"}


def test_a_patch_the_schema_lacks_is_not_applied(tmp_path: Path) -> None:
    other = EmbeddedStore(tmp_path)
    try:
        with other.db.write() as conn:
            conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) - 1}")
        got = admin_health.patches(other, request())["patches"]
        assert [p["status"] for p in got] == ["APPLIED"] * (len(MIGRATIONS) - 1) + ["UNKNOWN"]
    finally:
        other.close()
