"""A platform restarted on its store after a crash: running deployments come back, interrupted stops finish."""

from __future__ import annotations

import os
import signal
import sqlite3
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
    kill_pids,
    make_project,
    replica_pids,
    start_platform,
)

MODEL_PY = '''
def predict(args):
    return {"echo": args.get("id")}
'''


@pytest.fixture()
def ctx(tmp_path: Path) -> Iterator[dict[str, Any]]:
    c: dict[str, Any] = {"platforms": [], "pids": set(), "store": tmp_path / "store",
                         "project": make_project(tmp_path / "project", {"model.py": MODEL_PY}, ["Echo", "Echo2"])}
    try:
        yield c
    finally:
        for p in c["platforms"]:
            p.stop()
        kill_pids(c["pids"])


def start(c: dict[str, Any]) -> Platform:
    p = start_platform(c["store"])
    c["platforms"].append(p)
    return p


def call(p: Platform, key: str, access_key: str) -> httpx.Response:
    return httpx.post(f"{p.url}/model", json={"accessKey": access_key, "request": {"id": 1}}, headers=auth(key),
                      timeout=30)


def test_a_stop_interrupted_by_a_crash_is_finished_at_restart(ctx: dict[str, Any]) -> None:
    p = start(ctx)
    key = p.cli("api-keys", "create", "restart", "--role", "deployer", "--project", "*").stdout.strip()
    stopped = deploy(p, key, ctx["project"], "Echo", "model.py", "predict")
    running = deploy(p, key, ctx["project"], "Echo2", "model.py", "predict")  # another model: its own key
    assert call(p, key, stopped["accessKey"]).status_code == 200
    ctx["pids"].update(replica_pids(p, key))

    # The crash: SIGKILL between `stop`'s two status changes (stopping recorded, stopped not yet).
    os.kill(p.proc.pid, signal.SIGKILL)
    p.proc.wait(10)
    with sqlite3.connect(ctx["store"] / "platform.db") as db:
        db.execute("UPDATE deployment SET status = 'stopping' WHERE crn = ?", (stopped["crn"],))
    kill_pids(ctx["pids"])

    p2 = start(ctx)
    d = get_deployment(p2, key, stopped["crn"])
    assert d["status"] == "stopped" and d["replica_status"] == [], d
    assert call(p2, key, stopped["accessKey"]).status_code == 404
    r = get_deployment(p2, key, running["crn"])
    assert r["status"] == "deployed" and all(rs["alive"] for rs in r["replica_status"])
    ctx["pids"].update(rs["pid"] for rs in r["replica_status"])
    assert call(p2, key, running["accessKey"]).status_code == 200

    # ... and the catalog hears of it through the outbox.
    def catalog_status() -> str | None:
        resp = httpx.get(f"{p2.url}/api/v1/deployments/{stopped['crn']}", headers=auth(key), timeout=30)
        return str(resp.json()["status"]) if resp.status_code == 200 and resp.json()["status"] == "stopped" else None

    assert wait_until(catalog_status, 30, 0.2, "the catalog to record the stop") == "stopped"
