"""The supervisor in this process, on real replica processes: restarts (counted), recycling a stuck replica,
stop (SIGTERM, then SIGKILL after the grace period)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from serving.metrics import sqlite_url
from serving.platform.pool import NoFreeReplica, ReplicaDown, ReplicaTimeout, replica_health
from serving.platform.supervisor import DeploymentSpec, Supervisor
from serving.replica import REPLICA_CONFIG_ENV
from tests.serving.conftest import pid_alive

MODEL_PY = '''
import os
import time


def predict(args):
    if "started" in args:  # tells the test the prediction is running
        open(args["started"], "w").close()
    time.sleep(float(args.get("sleep", 0)))
    return {"pid": os.getpid()}
'''
CRN = "crn:cdp:ml:us-west-1:acct:workspace:ws/"


@pytest.fixture
def spec(tmp_path: Path) -> DeploymentSpec:
    project = tmp_path / "project"
    project.mkdir()
    (project / "model.py").write_text(MODEL_PY)
    return DeploymentSpec(crn=CRN + str(uuid.uuid4()), name="sleepy", model_crn=CRN + str(uuid.uuid4()),
                          build_crn=CRN + str(uuid.uuid4()), project_dir=str(project), file=str(project / "model.py"),
                          function="predict", replicas=1)


@pytest.fixture
def supervisor(tmp_path: Path) -> Supervisor:
    return Supervisor(tmp_path / "replicas", sqlite_url(tmp_path / "metrics.db"))


async def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.05)
    return value


def restarted(sup: Supervisor, crn: str, old_pid: int) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        [rs] = sup.replicas(crn)
        return rs if rs["alive"] and rs["pid"] != old_pid else None
    return check


def test_a_killed_replica_is_restarted_counted_and_answers_health(supervisor: Supervisor,
                                                                    spec: DeploymentSpec) -> None:
    async def scenario() -> int:
        await supervisor.start(spec)
        try:
            [before] = supervisor.replicas(spec.crn)
            assert before["alive"] is True and before["restarts"] == 0
            handle = supervisor.running[spec.crn].pool.replicas[0]
            health = await replica_health(handle.socket)
            assert health["replica"] == before["replica_id"] and health["pid"] == before["pid"]
            os.kill(before["pid"], signal.SIGKILL)
            after = await until(restarted(supervisor, spec.crn, before["pid"]), 30, "the restart")
            assert after["restarts"] == 1
            assert (await replica_health(handle.socket))["pid"] == after["pid"]
            pool = supervisor.pool(spec.crn)
            assert pool is not None
            answer, _ = await pool.call(b"{}", busy_timeout=5, request_timeout=30)
            assert str(after["pid"]).encode() in answer
            return int(after["pid"])
        finally:
            await supervisor.stop(spec.crn)

    pid = asyncio.run(scenario())
    assert not pid_alive(pid) and supervisor.replicas(spec.crn) == []


def test_a_replica_past_the_request_timeout_is_killed_and_restarted(supervisor: Supervisor, spec: DeploymentSpec
                                                                    ) -> None:
    async def scenario() -> None:
        await supervisor.start(spec)
        try:
            pool = supervisor.pool(spec.crn)
            assert pool is not None
            [before] = supervisor.replicas(spec.crn)
            with pytest.raises(ReplicaTimeout):
                await pool.call(b'{"sleep": 60}', busy_timeout=5, request_timeout=0.5)
            after = await until(restarted(supervisor, spec.crn, before["pid"]), 30, "the stuck replica's restart")
            assert after["restarts"] == 1 and not pid_alive(before["pid"])
        finally:
            await supervisor.stop(spec.crn)

    asyncio.run(scenario())


def test_stop_terminates_an_idle_replica_and_kills_one_busy_past_the_grace_period(
        supervisor: Supervisor, spec: DeploymentSpec, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="serving.platform.supervisor")
    started = tmp_path / "started"

    async def scenario() -> None:
        await supervisor.start(spec)
        [idle] = supervisor.replicas(spec.crn)
        t0 = time.monotonic()
        await supervisor.stop(spec.crn, grace=10)
        assert time.monotonic() - t0 < 5 and not pid_alive(idle["pid"])  # SIGTERM was enough
        assert "killing it" not in caplog.text

        await supervisor.start(spec)
        [busy] = supervisor.replicas(spec.crn)
        pool = supervisor.pool(spec.crn)
        assert pool is not None
        call = asyncio.create_task(pool.call(f'{{"sleep": 60, "started": "{started}"}}'.encode(), busy_timeout=0.5,
                                             request_timeout=90))
        await until(started.exists, 30, "the prediction to start")
        t0 = time.monotonic()
        await supervisor.stop(spec.crn, grace=1)
        assert 1 <= time.monotonic() - t0 < 6 and not pid_alive(busy["pid"])
        assert "still running 1s after SIGTERM; killing it" in caplog.text
        # the caller's replica was taken away: its call ends (no replica left to retry on)
        with pytest.raises((ReplicaDown, NoFreeReplica)):
            await call

    asyncio.run(scenario())


ENV_MODEL_PY = '''
import os


def predict(args):
    return {"environ": dict(os.environ)}
'''


def test_model_code_sees_no_platform_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model that returns os.environ shows only what runs Python and what its deployment declared."""
    import json

    for name, value in {"MLCATALOG_ATLAS_PASSWORD": "s3cret-atlas", "MLCATALOG_API_TOKEN": "s3cret-token",
                        "MLCATALOG_METRICS_URL": "postgresql://m:s3cret-db@db/m", "AWS_SECRET_ACCESS_KEY": "s3cret-aws",
                        "MLCATALOG_S3_SECRET_ACCESS_KEY": "s3cret-s3", "PGPASSWORD": "s3cret-pg",
                        "LC_ALL": "C.UTF-8"}.items():
        monkeypatch.setenv(name, value)
    project = tmp_path / "project"
    project.mkdir()
    (project / "model.py").write_text(ENV_MODEL_PY)
    spec = DeploymentSpec(crn=CRN + str(uuid.uuid4()), name="env", model_crn=CRN + str(uuid.uuid4()),
                          build_crn=CRN + str(uuid.uuid4()), project_dir=str(project), file=str(project / "model.py"),
                          function="predict", replicas=1, env={"WINE_THRESHOLD": "0.7"})
    supervisor = Supervisor(tmp_path / "replicas", sqlite_url(tmp_path / "metrics.db"), ready_timeout=60)

    async def scenario() -> dict[str, str]:
        await supervisor.start(spec)
        try:
            pool = supervisor.pool(spec.crn)
            assert pool is not None
            answer, _ = await pool.call(b"{}", busy_timeout=5, request_timeout=30)
            assert answer[:1] == b"\x00", answer[:200]  # the OK frame, then the JSON answer
            return dict(json.loads(answer[1:])["response"]["prediction"]["environ"])
        finally:
            await supervisor.stop(spec.crn)

    seen = asyncio.run(scenario())
    assert seen["WINE_THRESHOLD"] == "0.7" and seen["LC_ALL"] == "C.UTF-8" and "PATH" in seen
    assert not [k for k in seen if k.startswith(("MLCATALOG", "AWS_", "PG"))], sorted(seen)
    assert "s3cret" not in json.dumps(seen)
    assert REPLICA_CONFIG_ENV not in seen  # the replica's own configuration (its metrics store URL) is gone too
