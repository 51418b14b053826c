"""``/healthz`` and ``/readyz`` of the assembled app, in-process: unauthenticated, ready only when the state store,
the metrics store and the Atlas answer, and a 503 in mlcatalog's error body naming what failed, without secrets."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from mlcatalog.health import Readiness
from tests.conftest import ATLAS_PASSWORD as SERVED_PASSWORD
from tests.inprocess import ATLAS_PASSWORD, PLATFORM_ERROR_KEYS, json_of, platform_app
from tests.servers import free_port

CHECKS = {"state", "metrics", "atlas", "deployments"}


def _ready(client: TestClient) -> dict[str, dict[str, Any]]:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = json_of(r)
    assert body["status"] == "ready"
    return {c["name"]: c for c in body["checks"]}


def _not_ready(client: TestClient) -> dict[str, Any]:
    r = client.get("/readyz")
    assert r.status_code == 503, r.text
    body = json_of(r)
    assert set(body) == PLATFORM_ERROR_KEYS and body["code"] == "upstream_unavailable", body
    return dict(body)


def test_healthz_answers_without_a_key(tmp_path: Path) -> None:
    with platform_app(tmp_path / "store", {"MLCATALOG_API_READ_AUTH": "true"}) as client:
        r = client.get("/healthz")
        assert r.status_code == 200 and json_of(r) == {"status": "alive"}
        assert client.get("/readyz").status_code == 200  # read_auth guards the catalog's reads, not the probes


def test_ready_with_the_embedded_store(tmp_path: Path) -> None:
    with platform_app(tmp_path / "store") as client:
        checks = _ready(client)
    assert set(checks) == CHECKS and all(c["ok"] for c in checks.values()), checks
    assert checks["atlas"]["detail"] == "embedded store open"
    assert all(c["elapsed_ms"] >= 0 for c in checks.values())


def test_ready_with_a_real_atlas_over_http(tmp_path: Path, atlas_url: str) -> None:
    env = {"MLCATALOG_ATLAS_URL": atlas_url, "MLCATALOG_ATLAS_PASSWORD": SERVED_PASSWORD}
    with platform_app(tmp_path / "store", env) as client:
        checks = _ready(client)
    assert checks["atlas"]["ok"] and checks["atlas"]["detail"] == f"Atlas at {atlas_url} is ACTIVE", checks


def test_an_atlas_that_does_not_answer_leaves_the_platform_degraded_but_serving(tmp_path: Path) -> None:
    """Deploys and predictions go on while Atlas is down (the outbox keeps the catalog's writes): a load balancer
    must keep sending traffic."""
    url = f"http://127.0.0.1:{free_port()}"
    with platform_app(tmp_path / "store", {"MLCATALOG_ATLAS_URL": url}) as client:
        r = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert r.status_code == 200, r.text
    body = json_of(r)
    assert body["status"] == "degraded"
    checks = {c["name"]: c for c in body["checks"]}
    assert checks["state"]["ok"] and checks["metrics"]["ok"] and not checks["atlas"]["ok"]
    assert checks["atlas"]["detail"].startswith(f"Atlas at {url} is not reachable"), checks["atlas"]
    assert ATLAS_PASSWORD not in str(body)


def test_not_ready_when_the_metrics_store_does_not_answer(tmp_path: Path) -> None:
    with platform_app(tmp_path / "store") as client:
        _ready(client)
        client.app.state.runtime.metrics_store.close()  # type: ignore[attr-defined]
        body = _not_ready(client)
    assert body["message"] == "not ready: metrics failed; state, deployments, atlas answered"
    assert body["problems"] == ["metrics: metrics store is closed"]


def test_a_hanging_check_times_out_and_is_not_started_twice() -> None:
    release = threading.Event()
    started: list[int] = []

    def hangs() -> str:
        started.append(1)
        release.wait(10)
        return "answered late"

    readiness = Readiness({"slow": hangs, "quick": lambda: "fine"}, timeout_s=0.2)
    try:
        for _ in range(2):
            slow, quick = asyncio.run(readiness.run())
            assert (slow.ok, slow.detail) == (False, "no answer within 0.2 s")
            assert (quick.ok, quick.detail) == (True, "fine")
        assert len(started) == 1  # the second probe waited for the first one's check
        release.set()
        slow, _ = asyncio.run(readiness.run())
        assert (slow.ok, slow.detail) == (True, "answered late")
    finally:
        release.set()
        readiness.close()
