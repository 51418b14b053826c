"""Two real platform instances (``mlcatalog up`` processes) on one PostgreSQL state behave as one platform.

Set-up: an Atlas (the embedded store as its own process), PostgreSQL databases for the state and the metrics, and
instances A and B pointed at all three, each with its own store directory and its own OpenLineage file.

* a key created through A works on B within seconds; revoked through B, A refuses it within seconds;
* a model deployed through A is served by B; stopped through B, A stops serving it;
* a monitor every 2 s: both instances' schedulers run it, each window is computed once (one aggregate in the
  metrics store per window), also when the instance computing is killed (kill -9);
* a backlog of 1,500 outbox entries: the instance delivering it is killed (kill -9) in the middle, the other one
  takes over within seconds; every entry is delivered, in order, and only the one in flight at the kill may be
  delivered twice (an idempotent write: the same event).
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving.platform import outbox
from serving.platform.state import open_state
from tests.embedded._server_proc import ServerProcess
from tests.metrics.conftest import PgServer, pg_server
from tests.openlineage_events.support import file_config
from tests.servers import wait_until
from tests.serving.conftest import ADMIN_KEY, Platform, auth, kill_pids, make_project, pid_alive, start_platform

__all__ = ["pg_server"]
pytestmark = pytest.mark.slow
MODEL_PY = '''
import os

import cdsw


@cdsw.model_metrics
def predict(args):
    cdsw.track_metric("prediction", "x")
    return {"echo": args.get("id"), "pid": os.getppid()}
'''
BACKLOG = 1500


class Cluster:
    def __init__(self, tmp: Path, pg: PgServer) -> None:
        self.tmp = tmp
        self.state_url = pg.create("state")
        self.metrics_url = pg.create("metrics")
        self.atlas = ServerProcess(tmp / "atlas", "pw")
        self.instances: dict[str, Platform] = {}
        self.pids: set[int] = set()

    def start(self, name: str) -> Platform:
        events = self.tmp / f"events-{name}.jsonl"
        p = start_platform(self.tmp / f"instance-{name}" / "store", {
            "MLCATALOG_ATLAS_URL": self.atlas.url, "MLCATALOG_STATE_URL": self.state_url,
            "MLCATALOG_METRICS_URL": self.metrics_url,
            "MLCATALOG_OPENLINEAGE_CONFIG": str(file_config(self.tmp / f"openlineage-{name}.yml", events))})
        self.instances[name] = p
        self.pids.add(p.proc.pid)
        return p

    def events(self, name: str) -> list[dict[str, Any]]:
        path = self.tmp / f"events-{name}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def replica_pids(self) -> set[int]:
        out = set()
        for p in self.instances.values():
            with __import__("contextlib").suppress(httpx.HTTPError, ValueError, KeyError):
                r = httpx.get(f"{p.url}/api/v1/serving/deployments", headers=auth(ADMIN_KEY), timeout=10)
                out |= {rs["pid"] for d in r.json() for rs in d.get("replica_status", []) if rs.get("pid")}
        return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, pg_server: PgServer) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("shared-state"), pg_server)
    c.atlas.start()
    try:
        c.start("a")
        c.start("b")
        yield c
    finally:
        replicas = c.replica_pids()
        for p in c.instances.values():
            p.stop()
        kill_pids(c.pids | replicas)
        c.atlas.stop()


def whoami(p: Platform, key: str) -> int:
    return httpx.get(f"{p.url}/api/v1/serving/whoami", headers=auth(key), timeout=10).status_code


def test_a_key_made_on_one_instance_works_on_the_other(cluster: Cluster) -> None:
    a, b = cluster.instances["a"], cluster.instances["b"]
    key = a.cli("api-keys", "create", "shared", "--role", "viewer", "--project", "*").stdout.strip()
    t = time.monotonic()
    wait_until(lambda: whoami(b, key) == 200, 10, 0.1, "the key made on A to work on B")
    made_to_usable = time.monotonic() - t
    key_id = key.split("_")[1]
    assert whoami(a, key) == 200
    b.cli("api-keys", "revoke", key_id)
    wait_until(lambda: whoami(a, key) == 403, 10, 0.1, "the key revoked on B to be refused by A")
    assert made_to_usable < 5


def call(p: Platform, key: str, access_key: str, n: int) -> httpx.Response:
    return httpx.post(f"{p.url}/model", json={"accessKey": access_key, "request": {"id": n}}, headers=auth(key),
                      timeout=30)


def test_a_model_deployed_on_one_instance_is_served_by_both(cluster: Cluster) -> None:
    a, b = cluster.instances["a"], cluster.instances["b"]
    project = make_project(cluster.tmp / "echo", {"model.py": MODEL_PY}, ["Echo"])
    out = a.cli("deploy", "--project-dir", str(project), "--model", "Echo", "--file", "model.py", "--function",
                "predict", "--json", env={"MLCATALOG_API_KEY": ADMIN_KEY})
    dep = json.loads(out.stdout)
    assert call(a, ADMIN_KEY, dep["accessKey"], 1).json()["response"]["prediction"]["echo"] == 1
    wait_until(lambda: call(b, ADMIN_KEY, dep["accessKey"], 2).status_code == 200, 60, 0.25,
               "B to serve the model deployed through A")
    # each instance answers with replicas of its own
    assert call(a, ADMIN_KEY, dep["accessKey"], 3).json()["response"]["prediction"]["pid"] == a.proc.pid
    assert call(b, ADMIN_KEY, dep["accessKey"], 4).json()["response"]["prediction"]["pid"] == b.proc.pid
    b.cli("stop", dep["crn"], env={"MLCATALOG_API_KEY": ADMIN_KEY})
    wait_until(lambda: call(a, ADMIN_KEY, dep["accessKey"], 5).status_code == 404, 15, 0.25,
               "A to stop serving the model stopped through B")
    listed = httpx.get(f"{a.url}/api/v1/serving/deployments/{dep['crn']}", headers=auth(ADMIN_KEY), timeout=10)
    assert listed.json()["status"] == "stopped" and listed.json()["replica_status"] == []


def _event(n: int) -> dict[str, Any]:
    return {"eventType": "COMPLETE", "eventTime": "2026-12-03T00:00:00Z", "producer": "https://example.com/test",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": str(uuid.UUID(int=n + 1))}, "job": {"namespace": "backlog", "name": f"entry-{n}"},
            "inputs": [], "outputs": []}


def _backlog_delivered(cluster: Cluster) -> list[tuple[str, int]]:
    out = []
    for name in ("a", "b"):
        for e in cluster.events(name):
            if e["job"]["namespace"] == "backlog":
                out.append((name, int(e["job"]["name"].split("-")[1])))
    return out


def test_kill_9_of_the_instance_delivering_or_monitoring_loses_and_repeats_nothing(cluster: Cluster) -> None:
    a, b = cluster.instances["a"], cluster.instances["b"]
    project = make_project(cluster.tmp / "monitored", {"model.py": MODEL_PY}, ["Monitored"])
    dep = json.loads(a.cli("deploy", "--project-dir", str(project), "--model", "Monitored", "--file", "model.py",
                           "--function", "predict", "--json", env={"MLCATALOG_API_KEY": ADMIN_KEY}).stdout)
    wait_until(lambda: call(b, ADMIN_KEY, dep["accessKey"], 0).status_code == 200, 60, 0.25, "B to serve it")
    a.cli("monitor", "add", dep["crn"], "--every", "2s", "--expected", "x=1", env={"MLCATALOG_API_KEY": ADMIN_KEY})
    monitor_from = int(time.time() * 1000)

    state = open_state(cluster.state_url)
    try:
        with state.tx() as c:
            for n in range(BACKLOG):
                outbox.enqueue(c, outbox.OPENLINEAGE, {"event": _event(n)})
        for p in (a, b):  # wake the replayers (they look every 5 s by themselves)
            httpx.post(f"{p.url}/api/v1/serving/outbox/retry", json={"seq": None}, headers=auth(ADMIN_KEY),
                       timeout=10)
        first = wait_until(lambda: {n for n, _ in _backlog_delivered(cluster)} if len(
            _backlog_delivered(cluster)) >= 100 else None, 60, 0.02, "the backlog to be delivered")
        assert isinstance(first, set) and len(first) == 1
        (victim_name,) = first
        victim = cluster.instances[victim_name]
        survivor = b if victim is a else a
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(10)
        killed_at = time.monotonic()
        assert len(_backlog_delivered(cluster)) < BACKLOG, "killed too late: the backlog was already delivered"
        wait_until(lambda: not outbox.entries(state, pending_only=True, lane=outbox.OPENLINEAGE), 120, 0.2,
                   "the survivor to deliver the rest")
        drained_s = time.monotonic() - killed_at
    finally:
        state.close()

    delivered = _backlog_delivered(cluster)
    order = [n for _, n in delivered]
    survivor_name = "b" if victim_name == "a" else "a"
    by_victim = [n for name, n in delivered if name == victim_name]
    by_survivor = [n for name, n in delivered if name == survivor_name]
    assert by_victim == list(range(len(by_victim)))  # in order, from the first
    resent = len(by_victim) - by_survivor[0]  # 0, or 1 if the entry in flight at the kill is sent again
    assert resent in (0, 1) and by_survivor == list(range(by_survivor[0], BACKLOG)), (len(by_victim), by_survivor[:3])
    assert sorted(set(order)) == list(range(BACKLOG))
    if resent:  # the same event (runId, eventType, eventTime): one run state to a consumer
        backlog = [[e for e in cluster.events(n) if e["job"]["namespace"] == "backlog"] for n in (victim_name,
                                                                                                  survivor_name)]
        assert backlog[0][-1] == backlog[1][0]
    print(f"\nbacklog {BACKLOG}: {len(by_victim)} delivered by the killed instance, {len(by_survivor)} by the other "
          f"in {drained_s:.1f}s after the kill; sent twice: {resent}")

    # the monitor ran on both schedulers, and through the kill: every window on the 2 s grid since it began
    # is done once, and the metrics store holds one aggregate per window
    def done_windows() -> list[int] | None:
        windows = httpx.get(f"{survivor.url}/api/v1/serving/monitors/{dep['crn']}/windows", params={"limit": 1000},
                            headers=auth(ADMIN_KEY), timeout=30).json()
        ends = sorted(w["end_ms"] for w in windows if w["status"] == "done")
        return ends if len(ends) >= 6 else None

    done: list[int] = wait_until(done_windows, 60, 0.5, "six windows done")  # type: ignore[assignment]
    assert len(done) == len(set(done))
    assert done == list(range(done[0], done[-1] + 1, 2000)), done  # no gap, the kill's window too
    assert done[0] <= monitor_from + 4000
    r = httpx.get(f"{survivor.url}/api/v1/metrics", headers=auth(ADMIN_KEY), timeout=30, params={
        "model_deployment_crn": dep["crn"], "start_timestamp_ms": done[0] - 2000, "end_timestamp_ms": done[-1]})
    assert r.status_code == 200, r.text
    ends = [m["metrics"]["monitor.window_end_ms"] for m in r.json()["metrics"]
            if m["metrics"].get("monitor.kind")]
    assert sorted(ends) == done, (sorted(ends), done)
    assert not pid_alive(victim.proc.pid)
