"""Atlas being down never blocks a deployment: catalog writes wait in the durable outbox (store directory) and
are replayed in order, exactly once, when Atlas answers again -- also across a SIGKILL of the platform.

Set-up: Atlas A is a separate embedded-Atlas process on a fixed port (restarted on the same port and store);
platform B (``mlcatalog up``) uses it through MLCATALOG_ATLAS_URL. One password (MLCATALOG_ATLAS_PASSWORD)
serves both B's own Atlas API and B's client to A, so A gets the same password.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.embedded._server_proc import REPO_ROOT, SCRIPT, ServerProcess
from tests.servers import wait_until
from tests.serving.conftest import (
    Platform,
    auth,
    deploy,
    get_deployment,
    kill_pids,
    make_project,
    pid_alive,
    replica_pids,
    start_platform,
)

PASSWORD = "pw"  # start_platform's MLCATALOG_ATLAS_PASSWORD
MODEL_PY = '''
def predict(args):
    return {"echo": args.get("id")}
'''
LINEAGE = {
    "First": {"hive_table_qualified_names": ["default.first_input@cm"]},
    "Second": {"hive_table_qualified_names": ["default.second_a@cm", "default.second_b@cm"]},
}
ML_TYPES = ("ml_project", "ml_model_build", "ml_model_train_build_process", "ml_model_deployment",
            "ml_model_deploy_process", "hive_table")


class FixedPortAtlas(ServerProcess):
    """ServerProcess that keeps its port across restarts (the platform's MLCATALOG_ATLAS_URL stays valid)."""

    def __init__(self, store_dir: Path, password: str, port: int) -> None:
        super().__init__(store_dir, password)
        self.fixed_port = port

    def _spawn(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.fixed_port
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _reap()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(self.store_dir), str(self.port), self.user, self.password],
            cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)


def outbox(p: Platform, *flags: str) -> list[dict[str, Any]]:
    return list(json.loads(p.cli("outbox", "--json", *flags).stdout))


def entity_counts(atlas: ServerProcess) -> dict[str, dict[str, int]]:
    """Per type: how many entities A holds, by status (ACTIVE / DELETED)."""
    out: dict[str, dict[str, int]] = {}
    with atlas.session() as s:
        for t in ML_TYPES:
            r = s.post(f"{atlas.url}/api/atlas/v2/search/basic", json={"typeName": t, "limit": 1000,
                                                                         "excludeDeletedEntities": False}, timeout=30)
            assert r.status_code == 200, r.text
            counts: dict[str, int] = {}
            for e in r.json().get("entities") or []:
                counts[e.get("status", "ACTIVE")] = counts.get(e.get("status", "ACTIVE"), 0) + 1
            out[t] = counts
    return out


def crn_of(entry: dict[str, Any]) -> str | None:
    crn = entry["payload"].get("crn")
    return str(crn) if crn is not None else None


@pytest.fixture()
def setup(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Atlas A, platform B, and everything to clean up (processes by PID)."""
    from tests.conftest import free_port

    ctx: dict[str, Any] = {"platforms": [], "pids": set()}
    atlas = FixedPortAtlas(tmp_path / "atlas-a", PASSWORD, free_port())
    ctx["atlas"] = atlas
    try:
        atlas.start()
        ctx["project"] = make_project(tmp_path / "project", {"model.py": MODEL_PY,
                                                             "lineage.yml": json.dumps(LINEAGE, indent=2)},
                                      list(LINEAGE))
        ctx["store"] = tmp_path / "platform-b"
        yield ctx
    finally:
        for p in ctx["platforms"]:
            p.stop()
        kill_pids(ctx["pids"])
        if atlas.alive():
            atlas.stop()


def start_b(ctx: dict[str, Any]) -> Platform:
    p = start_platform(ctx["store"], {"MLCATALOG_ATLAS_URL": ctx["atlas"].url})
    ctx["platforms"].append(p)
    return p


def test_atlas_outage_and_platform_crash_lose_nothing_and_write_nothing_twice(setup: dict[str, Any]) -> None:
    atlas: FixedPortAtlas = setup["atlas"]
    b = start_b(setup)
    key = b.cli("api-keys", "create", "outbox", "--role", "deployer", "--project", "*").stdout.strip()
    project = setup["project"]

    # 1. Atlas up: deploy -> the catalog (on B, backed by A) shows the deployment
    dep1 = deploy(b, key, project, "First", "model.py", "predict")
    wait_until(lambda: not outbox(b), 30, 0.2, "the outbox to drain while Atlas is up")
    r = httpx.get(f"{b.url}/api/v1/deployments/{dep1['crn']}", headers=auth(key), timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "deployed", r.text
    assert entity_counts(atlas)["ml_model_deployment"] == {"ACTIVE": 1}

    # 2. Atlas down: deploy another model and stop the first one -- both quick, both succeed
    atlas.stop()
    t = time.monotonic()
    dep2 = deploy(b, key, project, "Second", "model.py", "predict")
    deploy_s = time.monotonic() - t
    t = time.monotonic()
    stopped = b.cli("stop", dep1["crn"], env={"MLCATALOG_API_KEY": key})
    stop_s = time.monotonic() - t
    assert "stopped" in stopped.stdout
    assert deploy_s < 20 and stop_s < 20, f"deploy took {deploy_s:.1f}s, stop {stop_s:.1f}s with Atlas down"
    call = httpx.post(f"{b.url}/model", json={"accessKey": dep2["accessKey"], "request": {"id": 7}},
                      headers=auth(key), timeout=30)
    assert call.status_code == 200 and call.json()["response"]["prediction"] == {"echo": 7}
    listing = {d["crn"]: d["status"] for d in
               json.loads(b.cli("deployments", "--json", env={"MLCATALOG_API_KEY": key}).stdout)}
    assert listing == {dep1["crn"]: "stopped", dep2["crn"]: "deployed"}
    # the catalog API says clearly that Atlas is unavailable
    r = httpx.get(f"{b.url}/api/v1/deployments/{dep2['crn']}", headers=auth(key), timeout=60)
    assert r.status_code == 503, r.text

    # 3. the outbox lists what waits, in order
    expected = [("build", None, None), ("deployment", dep2["crn"], "deploying"),
                ("deployment", dep2["crn"], "deployed"), ("deployment", dep1["crn"], "stopping"),
                ("deployment", dep1["crn"], "stopped")]
    pending = outbox(b)
    assert [(e["kind"], crn_of(e), e["payload"].get("status")) for e in pending] == expected, pending
    assert pending[0]["payload"]["model"] == "Second"
    assert [e["seq"] for e in pending] == sorted(e["seq"] for e in pending)
    assert all(e["status"] == "pending" for e in pending)
    wait_until(lambda: outbox(b)[0]["attempts"] >= 1 and outbox(b)[0]["last_error"], 10, 0.2,
               "a failed delivery attempt to be recorded")
    text = b.cli("outbox").stdout.splitlines()
    assert len(text) == 5 and all(line.startswith(f"#{e['seq']} pending") for line, e in zip(text, pending,
                                                                                              strict=True)), text
    assert [w for line in text for w in line.split()[2:4]] == [
        "build", "Second", "deployment", "deploying", "deployment", "deployed", "deployment", "stopping",
        "deployment", "stopped"]

    # 4. SIGKILL the platform while entries are pending; restart it on the same store
    old_replicas = replica_pids(b, key)
    setup["pids"].update(old_replicas)
    os.kill(b.proc.pid, signal.SIGKILL)
    b.proc.wait(10)
    orphans = [pid for pid in old_replicas if pid_alive(pid)]
    if orphans:
        print(f"\nNOTE: {len(orphans)} replica process(es) outlived the SIGKILLed platform: {orphans}")
    kill_pids(old_replicas)
    after_crash = outbox(b, "--store", str(b.store))  # read offline from the store directory, no platform needed
    assert [e["seq"] for e in after_crash] == [e["seq"] for e in pending]
    b2 = start_b(setup)
    assert [(e["kind"], crn_of(e), e["payload"].get("status")) for e in outbox(b2)] == expected
    d2 = get_deployment(b2, key, dep2["crn"])
    assert d2["status"] == "deployed" and all(rs["alive"] for rs in d2["replica_status"])
    setup["pids"].update(rs["pid"] for rs in d2["replica_status"])

    # 5. Atlas back on the same store: the outbox drains, in order, exactly once
    atlas.start()
    wait_until(lambda: not outbox(b2), 45, 0.3, "the outbox to drain after Atlas came back")
    d = httpx.get(f"{b2.url}/api/v1/deployments/{dep2['crn']}", headers=auth(key), timeout=30)
    assert d.status_code == 200 and d.json()["status"] == "deployed", d.text
    assert d.json()["build_crn"] == dep2["buildCrn"] and d.json()["model_name"] == "Second"
    d = httpx.get(f"{b2.url}/api/v1/deployments/{dep1['crn']}", headers=auth(key), timeout=30)
    assert d.status_code == 200 and d.json()["status"] == "stopped", d.text
    lin = httpx.get(f"{b2.url}/api/v1/deployments/{dep2['crn']}/lineage", headers=auth(key), timeout=30)
    assert lin.status_code == 200, lin.text
    tree = json.dumps(lin.json()["tree"])
    assert "default.second_a@cm" in tree and "default.second_b@cm" in tree and dep2["buildCrn"] in tree
    assert "default.first_input@cm" not in tree

    # nothing written twice: exact entity counts in A ...
    counts = entity_counts(atlas)
    assert counts == {"ml_project": {"ACTIVE": 1}, "ml_model_build": {"ACTIVE": 2},
                      "ml_model_train_build_process": {"ACTIVE": 2}, "ml_model_deployment": {"ACTIVE": 2},
                      "ml_model_deploy_process": {"ACTIVE": 2}, "hive_table": {"ACTIVE": 3}}, counts
    # ... and every outbox entry delivered exactly once
    everything = outbox(b2, "--all")
    first = [("build", None, None), ("deployment", dep1["crn"], "deploying"), ("deployment", dep1["crn"], "deployed")]
    assert [(e["kind"], crn_of(e), e["payload"].get("status")) for e in everything] == first + expected
    assert len({e["seq"] for e in everything}) == len(everything) == 8
    assert all(e["status"] == "done" and e["last_error"] is None for e in everything), everything
    assert all(e["attempts"] >= 1 for e in everything)
    assert everything[3]["attempts"] > 1, "the entry at the head of the outbox during the outage was retried"
    assert "outbox empty" in b2.cli("outbox").stdout


def test_stored_errors_never_carry_a_password(tmp_path: Path) -> None:
    from serving.platform.outbox import Permanent, Replayer, Retryable, enqueue, entries
    from serving.platform.state import StateDb

    db = StateDb(tmp_path / "platform.db")
    calls: list[str] = []

    def send(kind: str, payload: dict[str, Any]) -> None:
        calls.append(kind)
        if len(calls) == 1:
            raise Retryable("Atlas at http://admin:s3cret@atlas.example:21000 is not reachable")
        raise Permanent("refused by postgresql://u:s3cret@db/catalog?password=s3cret")

    with db.tx() as c:
        enqueue(c, "deployment", {"crn": "x"})
    replayer = Replayer(db, send, max_backoff=0.05)
    replayer.start()
    try:
        wait_until(lambda: entries(db, include_done=True)[0].status == "failed", timeout=10, what="the entry parked")
    finally:
        replayer.stop()
    [entry] = entries(db, include_done=True)
    assert entry.last_error is not None and "s3cret" not in entry.last_error and "u:***@db" in entry.last_error
    db.close()


def test_refused_credentials_are_retried_and_refused_content_is_parked_until_retried(tmp_path: Path) -> None:
    from catalog import Forbidden, InvalidInput, Unauthorized
    from serving.platform.outbox import Replayer, catalog_sender, enqueue, entries, retry
    from serving.platform.state import StateDb

    db = StateDb(tmp_path / "platform.db")
    answers: list[Exception | None] = [Unauthorized("HTTP 401"), Forbidden("HTTP 403"), None,  # entry 1
                                       InvalidInput("the catalog refuses this"),  # entry 2: parked
                                       None]  # entry 2 again, after `retry`
    seen: list[str] = []

    class Catalog:
        def record_deployment(self, record: Any) -> Any:
            seen.append(record.crn)
            answer = answers.pop(0)
            if answer is not None:
                raise answer
            return type("Written", (), {"guid": None})()

    send = catalog_sender(Catalog(), None)  # type: ignore[arg-type]
    from catalog import DeploymentRecord

    crn = "crn:cdp:ml:local:acct:workspace:ws/"
    record = DeploymentRecord(crn=crn + "d", build_crn=crn + "b", model_crn=crn + "m", model_name="m", name="d",
                              status="deployed", create_time_ms=1, deployed_time_ms=2, cpu_millicores=1000)
    with db.tx() as c:
        enqueue(c, "deployment", record.model_dump(mode="json"))
        enqueue(c, "deployment", record.model_copy(update={"crn": crn + "e"}).model_dump(mode="json"))
    replayer = Replayer(db, send, max_backoff=0.05)
    replayer.start()
    try:
        wait_until(lambda: [e.status for e in entries(db, include_done=True)] == ["done", "failed"], timeout=20,
                   what="the first delivered after two refusals of its credentials, the second parked")
        assert entries(db, include_done=True)[0].attempts == 3
        assert retry(db) == [2]
        replayer.wake()
        wait_until(lambda: [e.status for e in entries(db, include_done=True)] == ["done", "done"], timeout=20,
                   what="the parked entry delivered once retried")
    finally:
        replayer.stop()
    assert entries(db) == [] and answers == []
    db.close()


# -- build entries carry the build resolved at deploy time ----------------------------------------------------
@pytest.mark.slow
def test_a_deployment_made_while_atlas_is_down_is_recorded_after_its_project_is_deleted(tmp_path: Path) -> None:
    """Issue 14's reproduction, in-process: Atlas down, deploy, delete the project directory, Atlas back. The outbox
    delivers the build (resolved at deploy time) and the deployment: tables -> build -> deployment, nothing failed."""
    import shutil

    from serving.platform.outbox import entries
    from tests.conftest import free_port
    from tests.inprocess import ADMIN_KEY, ATLAS_PASSWORD, platform_app

    atlas = FixedPortAtlas(tmp_path / "atlas-a", ATLAS_PASSWORD, free_port())  # the same store when it comes back
    project = make_project(tmp_path / "project", {"model.py": MODEL_PY, "lineage.yml": json.dumps(LINEAGE)},
                           list(LINEAGE))
    headers = auth(ADMIN_KEY)
    try:
        with platform_app(tmp_path / "store", {"MLCATALOG_ATLAS_URL": f"http://127.0.0.1:{atlas.fixed_port}"}) as c:
            runtime = c.app.state.runtime  # type: ignore[attr-defined]
            r = c.post("/api/v1/serving/deployments", headers=headers, json={
                "project_dir": str(project), "model": "Second", "file": "model.py", "function": "predict"})
            assert r.status_code == 200, r.text
            dep = r.json()
            assert dep["guid"] is None  # not in the catalog yet
            pending = entries(runtime.state)
            assert [(e.kind, e.payload.get("status")) for e in pending] == [
                ("build", None), ("deployment", "deploying"), ("deployment", "deployed")]
            assert pending[0].payload["model"] == "Second" and "project_dir" not in pending[0].payload
            shutil.rmtree(project)

            atlas.start()
            assert runtime.replayer.drain(60), entries(runtime.state)
            delivered = entries(runtime.state, include_done=True)
            assert [(e.kind, e.status, e.last_error) for e in delivered] == [
                ("build", "done", None), ("deployment", "done", None), ("deployment", "done", None)], delivered
            d = c.get(f"/api/v1/deployments/{dep['crn']}", headers=headers)
            assert d.status_code == 200 and d.json()["build_crn"] == dep["buildCrn"], d.text
            lin = c.get(f"/api/v1/deployments/{dep['crn']}/lineage", headers=headers)
            assert lin.status_code == 200, lin.text
            tree = json.dumps(lin.json()["tree"])
            assert "default.second_a@cm" in tree and "default.second_b@cm" in tree and dep["buildCrn"] in tree
        assert entity_counts(atlas) == {
            "ml_project": {"ACTIVE": 1}, "ml_model_build": {"ACTIVE": 1}, "ml_model_train_build_process": {"ACTIVE": 1},
            "ml_model_deployment": {"ACTIVE": 1}, "ml_model_deploy_process": {"ACTIVE": 1},
            "hive_table": {"ACTIVE": 2}}
    finally:
        if atlas.alive():
            atlas.stop()


def test_build_entries_stored_before_they_carried_their_build_are_still_replayed(tmp_path: Path) -> None:
    from catalog import BuildRequest, CrnScope, ResolvedBuild
    from catalog.atlas.connect import open_atlas
    from catalog.service import LocalCatalog
    from serving.platform.outbox import Replayer, catalog_sender, enqueue, entries
    from serving.platform.state import StateDb

    catalog = LocalCatalog(open_atlas(f"atlas+embedded://{tmp_path / 'atlas'}"), CrnScope("r", "a", "w"), "cm")
    project = make_project(tmp_path / "project", {"lineage.yml": json.dumps(LINEAGE)}, list(LINEAGE))
    resolved = catalog.resolve_build(BuildRequest(project_dir=str(project), models=["Second"],
                                                  allow_unresolved=True))
    db = StateDb(tmp_path / "platform.db")
    with db.tx() as c:
        enqueue(c, "build", {"project_dir": str(project), "model": "First", "commit": resolved.commit})  # the old form
        new_form = {"model": "Second", "commit": resolved.commit, "resolved": resolved.model_dump(mode="json")}
        enqueue(c, "build", new_form)
        hostile = {**resolved.model_dump(mode="json"), "lineage_text": "x" * (1024 * 1024 + 1)}
        enqueue(c, "build", {"model": "Second", "commit": resolved.commit, "resolved": hostile})
    replayer = Replayer(db, catalog_sender(catalog), max_backoff=0.05)
    replayer.start()
    try:
        wait_until(lambda: [e.status for e in entries(db, include_done=True)] == ["done", "done", "failed"], 30, 0.1,
                   "the two builds delivered and the out-of-bounds one parked")
    finally:
        replayer.stop()
    assert "lineage_text" in (entries(db)[0].last_error or "")
    builds = {str(h.attributes.get("modelName")) for h in catalog.client.search_all(
        type_name="ml_model_build", attributes=["modelName"])}
    assert builds == {"First", "Second"}
    assert ResolvedBuild.model_validate(entries(db, include_done=True)[1].payload["resolved"]) == resolved
    catalog.close()
    db.close()
