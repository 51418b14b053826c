"""What an operator sees of replicas through the CLI: restarts in ``mlcatalog deployments``, a failing model's
traceback through ``mlcatalog logs``."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import wait_until
from tests.serving.conftest import (
    Platform,
    auth,
    deploy,
    get_deployment,
    make_project,
    start_platform,
)

MODEL_PY = '''
def predict(args):
    if args.get("boom"):
        raise RuntimeError("the model failed on purpose: 3c9a")
    return {"echo": args.get("id")}
'''


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with start_platform(tmp_path_factory.mktemp("cli-replicas") / "store") as p:
        yield p


@pytest.fixture(scope="module")
def key(platform: Platform) -> str:
    return platform.cli("api-keys", "create", "cli-replicas", "--role", "deployer", "--project", "*").stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("echo") / "project", {"model.py": MODEL_PY}, ["Echo"])


def deployments_line(p: Platform, key: str, crn: str) -> str:
    out = p.cli("deployments", env={"MLCATALOG_API_KEY": key}).stdout
    return next(line for line in out.splitlines() if f"  {crn}  guid " in line)


def test_deployments_shows_the_restart_of_a_killed_replica(platform: Platform, key: str, project: Path) -> None:
    dep = deploy(platform, key, project, "Echo", "model.py", "predict")
    crn = dep["crn"]
    assert " 1/1 replicas  0 restarts  " in deployments_line(platform, key, crn)
    [victim] = get_deployment(platform, key, crn)["replica_status"]
    os.kill(victim["pid"], signal.SIGKILL)

    def restarted() -> bool:
        [rs] = get_deployment(platform, key, crn)["replica_status"]
        return bool(rs["alive"] and rs["pid"] != victim["pid"])

    wait_until(restarted, 30, 0.1, "the killed replica to be restarted")
    line = deployments_line(platform, key, crn)
    assert line.startswith("deployed ") and " 1/1 replicas  1 restart  " in line, line


def test_a_model_exception_points_to_mlcatalog_logs_which_prints_its_traceback(platform: Platform, key: str,
                                                                               project: Path) -> None:
    dep = deploy(platform, key, project, "Echo", "model.py", "predict")
    crn = dep["crn"]
    r = httpx.post(f"{platform.url}/model", json={"accessKey": dep["accessKey"], "request": {"boom": True}},
                   headers=auth(key), timeout=30)
    assert r.status_code == 500
    body: dict[str, Any] = r.json()
    assert f"mlcatalog logs {crn}" in body["message"] and body["error_id"] in body["message"]
    assert "3c9a" not in r.text  # the details stay in the log

    out = platform.cli("logs", crn, env={"MLCATALOG_API_KEY": key}).stdout
    assert out.startswith("==> replica 0 (")
    after = out[out.index(f"error id {body['error_id']}"):]
    assert "Traceback (most recent call last):" in after
    assert "RuntimeError: the model failed on purpose: 3c9a" in after
