"""`mlcatalog api`: the catalog API alone, in front of an Atlas reached over HTTP (here the embedded one)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.api.support import START_TIMEOUT, clean_env, json_of
from tests.conftest import ATLAS_PASSWORD, RunningAtlas, start_atlas
from tests.servers import free_port, wait_http

TOKEN = "standalone-token"


@contextmanager
def mlcatalog_api(workdir: Path, atlas_url: str) -> Iterator[str]:
    """`python -m mlcatalog api` on a free port; yields its /api/v1 base URL; killed by PID on exit."""
    port = free_port()
    env = clean_env(MLCATALOG_ATLAS_PASSWORD=ATLAS_PASSWORD, MLCATALOG_API_TOKEN=TOKEN)
    out, err = workdir / f"api-{port}.out", workdir / f"api-{port}.err"
    with out.open("wb") as fo, err.open("wb") as fe:
        popen = subprocess.Popen([sys.executable, "-m", "mlcatalog", "api", "--port", str(port),
                                  "--atlas-url", atlas_url], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                 stdout=fo, stderr=fe)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_http(f"{base}/openapi.json", timeout=START_TIMEOUT, proc=popen, logs=err.read_text)
        yield base
    finally:
        if popen.poll() is None:
            os.kill(popen.pid, signal.SIGKILL)
            popen.wait()


@pytest.fixture(scope="module")
def atlas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAtlas]:
    running = start_atlas(tmp_path_factory.mktemp("standalone-atlas"))
    try:
        yield running
    finally:
        running.stop()


def test_api_alone_in_front_of_an_atlas(atlas: RunningAtlas, tmp_path: Path) -> None:
    with mlcatalog_api(tmp_path, atlas.url) as base:
        doc = json_of(httpx.get(f"{base}/openapi.json"))
        assert "/api/v1/deployments" in doc["paths"]
        assert all(p.startswith("/api/v1/") for p in doc["paths"])
        assert json_of(httpx.get(f"{base}/projects")) == []
        assert json_of(httpx.get(f"{base}/deployments")) == []
        crn = f"crn:cdp:ml:local:mlcatalog:workspace:default/{uuid.uuid4()}"
        r = httpx.get(f"{base}/deployments/{crn}")
        assert r.status_code == 404 and json_of(r)["code"] == "not_found"
        body = {"crn": crn, "build_crn": f"crn:cdp:ml:local:mlcatalog:workspace:default/{uuid.uuid4()}",
                "model_crn": "m", "model_name": "m", "name": "d", "status": "deployed", "create_time_ms": 1,
                "deployed_time_ms": 2, "cpu_millicores": 1}
        r = httpx.put(f"{base}/deployments/{crn}", json=body)
        assert r.status_code == 401 and json_of(r)["code"] == "unauthorized"
        r = httpx.put(f"{base}/deployments/{crn}", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert 400 <= r.status_code < 500, r.text  # the build is not in Atlas
        json_of(r)
        r = httpx.put(f"{base}/deployments/{crn}", json={**body, "status": "bogus"},
                      headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code in (400, 422), r.text
        json_of(r)
        r = httpx.get(f"{base}/impact", params={"qualifiedName": "default.nothing@cm"})
        assert r.status_code == 404 and json_of(r)["code"] == "not_found"


def test_api_alone_with_atlas_down_answers_503(tmp_path: Path) -> None:
    with mlcatalog_api(tmp_path, f"http://127.0.0.1:{free_port()}") as base:
        r = httpx.get(f"{base}/projects", timeout=30)
        assert r.status_code == 503, r.text
        body = json_of(r)
        assert body["code"] == "upstream_unavailable" and body["message"]
