"""High availability over real replica processes: SIGKILL one replica under load -> no failed call, no lost or
doubled metrics record, the supervisor restarts it, the gateway balances over the replicas.

Client retry policy (the one documented for model callers): retry ONLY on 429 (model.busy) and 503
(replica_down), up to 20 times, 0.1 s apart. "0 failed calls" means every call eventually got HTTP 200;
any other status, or a transport error, is a failed call.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving.examples.wine.data import FEATURES, feature_string, generate
from tests.servers import wait_until
from tests.serving.conftest import (
    Platform,
    auth,
    deploy,
    get_deployment,
    health,
    make_project,
    pid_alive,
)

WINE_MODEL = "Predict w/ Monitoring & Lineage"
CALLS = 480
THREADS = 6
RETRY_ON = (429, 503)
MAX_RETRIES = 20

ECHO_PY = '''
import os
import time


def predict(args):
    start = time.time()
    if args.get("mark"):  # tells the test which replica process is running this request
        with open(args["mark"], "a") as f:
            f.write(f"{os.getpid()} ")
    time.sleep(float(args.get("s", 0)))
    return {"echo": args.get("id"), "pid": os.getpid(), "start": start, "end": time.time()}
'''


@pytest.fixture(scope="module")
def api_key(platform: Platform) -> str:
    return platform.cli("api-keys", "create", "ha", "--role", "deployer", "--project", "*").stdout.strip()


def post(client: httpx.Client, url: str, key: str, access_key: str, request: Any) -> tuple[int, Any, int]:
    """One client call with the retry policy: (final status, body, attempts)."""
    for attempt in range(1, MAX_RETRIES + 1):
        r = client.post(f"{url}/model", json={"accessKey": access_key, "request": request}, headers=auth(key))
        if r.status_code in RETRY_ON and attempt < MAX_RETRIES:
            time.sleep(0.1)
            continue
        return r.status_code, r.json(), attempt
    raise AssertionError("unreachable")


def read_metrics(p: Platform, key: str, crn: str, start_ms: int) -> list[dict[str, Any]]:
    r = httpx.get(f"{p.url}/api/v1/metrics", headers=auth(key), timeout=60,
                  params={"model_deployment_crn": crn, "start_timestamp_ms": start_ms,
                          "end_timestamp_ms": int(time.time() * 1000) + 1000})
    assert r.status_code == 200, r.text
    return list(r.json()["metrics"])


def test_sigkill_of_a_replica_under_load_loses_no_call_and_no_metrics(platform: Platform, wine_project: Path,
                                                                        api_key: str) -> None:
    dep = deploy(platform, api_key, wine_project, WINE_MODEL, "model.py", "predict", "--replicas", "3")
    crn, ak = dep["crn"], dep["accessKey"]
    before = get_deployment(platform, api_key, crn)["replica_status"]
    assert len(before) == 3 and all(r["alive"] for r in before)
    victim = before[1]
    rows = generate(CALLS, seed=42)
    t0 = int(time.time() * 1000)

    results: list[tuple[int, int, Any, int] | None] = [None] * CALLS  # (index, status, body, attempts)
    errors: list[str] = []
    done = 0
    lock = threading.Lock()
    killed = threading.Event()
    kill_info: dict[str, Any] = {}

    def worker(w: int) -> None:
        nonlocal done
        with httpx.Client(timeout=30) as client:
            for i in range(w, CALLS, THREADS):
                try:
                    status, body, attempts = post(client, platform.url, api_key, ak,
                                                  {"feature": feature_string(rows[i][0])})
                except (httpx.HTTPError, ValueError) as e:
                    errors.append(f"call {i}: {type(e).__name__}: {e}")
                    continue
                results[i] = (i, status, body, attempts)
                with lock:
                    done += 1

    def killer() -> None:
        deadline = time.monotonic() + 30
        while done < CALLS // 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        kill_info["done_at_kill"] = done
        kill_info["at"] = time.monotonic()
        os.kill(victim["pid"], signal.SIGKILL)
        killed.set()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(THREADS)]
    kt = threading.Thread(target=killer)
    started = time.monotonic()
    for t in [*threads, kt]:
        t.start()
    for t in [*threads, kt]:
        t.join(60)
    elapsed = time.monotonic() - started
    assert killed.is_set()
    assert 0 < kill_info["done_at_kill"] < CALLS - THREADS, f"the kill was not mid-run: {kill_info}"

    # 0 failed calls: every call eventually got 200 (only 429/503 retried)
    assert not errors, errors[:5]
    failed = [(r[0], r[1], r[2]) for r in results if r is None or r[1] != 200]  # type: ignore[index]
    assert not failed, f"{len(failed)} failed calls, e.g. {failed[:3]}"
    retried = sum(1 for r in results if r and r[3] > 1)
    bodies = [r[2] for r in results if r]
    assert all(b["success"] is True for b in bodies)

    # the gateway spread the calls over the replicas
    per_replica = Counter(b["ReplicaID"] for b in bodies)
    assert len(per_replica) >= 2, per_replica
    assert set(per_replica) <= {r["replica_id"] for r in before}

    # 0 lost metrics: each returned UUID has exactly one record, and it is the record of *this* request
    uuids = [b["response"]["uuid"] for b in bodies]
    assert len(set(uuids)) == CALLS, "a UUID was returned to two calls"
    records = read_metrics(platform, api_key, crn, t0)
    counts = Counter(rec["predictionUuid"] for rec in records)
    missing = [u for u in uuids if counts[u] == 0]
    doubled = [u for u in uuids if counts[u] > 1]
    assert not missing, f"{len(missing)} answered predictions have no metrics record (e.g. {missing[:3]})"
    assert not doubled, f"{len(doubled)} UUIDs have more than one record (e.g. {doubled[:3]})"
    by_uuid = {rec["predictionUuid"]: rec for rec in records}
    for i, b in enumerate(bodies):
        rec = by_uuid[b["response"]["uuid"]]
        sent = [float(v) for v in feature_string(rows[i][0]).split(";")]
        assert [rec["metrics"][f] for f in FEATURES] == sent, f"call {i} got the answer of another request"
        assert rec["metrics"]["prediction"] == b["response"]["prediction"]["result"]
        assert rec["modelDeploymentCrn"] == crn and rec["modelBuildCrn"] == dep["buildCrn"]

    # the supervisor restarted the killed replica: new pid, alive, answers a health check on its socket
    def restarted() -> dict[str, Any] | None:
        rs = next(r for r in get_deployment(platform, api_key, crn)["replica_status"]
                  if r["replica_id"] == victim["replica_id"])
        return rs if rs["alive"] and rs["pid"] != victim["pid"] else None

    rs: dict[str, Any] = wait_until(restarted, 15, 0.1, "the killed replica to be restarted")  # type: ignore[assignment]
    assert time.monotonic() - kill_info["at"] < 15
    assert not pid_alive(victim["pid"])
    h = health(platform, crn, rs["replica_id"])
    assert h["pid"] == rs["pid"] and h["replica"] == victim["replica_id"]
    # ... and it is back in rotation
    with httpx.Client(timeout=30) as client:
        def served_by_victim() -> bool:
            _, body, _ = post(client, platform.url, api_key, ak, {"feature": feature_string(rows[0][0])})
            return bool(body["ReplicaID"] == victim["replica_id"])
        wait_until(served_by_victim, 10, 0.0, "a call served by the restarted replica")
    print(f"\n{CALLS} calls in {elapsed:.1f}s by {THREADS} threads, {retried} retried, "
          f"{len(records) - CALLS} extra records (answers lost with the killed replica); "
          f"per replica {dict(per_replica)}; killed {victim['replica_id']} after {kill_info['done_at_kill']} calls")


def test_restart_of_an_idle_replica_keeps_one_request_per_replica(platform: Platform, api_key: str,
                                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    """A replica killed while idle and restarted must come back as ONE free slot: each replica still serves
    one request at a time and every caller gets the answer to its own request."""
    project = make_project(tmp_path_factory.mktemp("echo") / "echo-project", {"model.py": ECHO_PY}, ["Echo"])
    dep = deploy(platform, api_key, project, "Echo", "model.py", "predict", "--replicas", "2")
    crn, ak = dep["crn"], dep["accessKey"]
    before = get_deployment(platform, api_key, crn)["replica_status"]
    victim = before[1]
    os.kill(victim["pid"], signal.SIGKILL)  # nothing in flight: the replica is idle in the pool

    def restarted() -> bool:
        rs = next(r for r in get_deployment(platform, api_key, crn)["replica_status"]
                  if r["replica_id"] == victim["replica_id"])
        return bool(rs["alive"] and rs["pid"] != victim["pid"])

    wait_until(restarted, 15, 0.1, "the killed replica to be restarted")

    out: dict[int, tuple[int, Any]] = {}

    def one(i: int) -> None:
        r = httpx.post(f"{platform.url}/model", json={"accessKey": ak, "request": {"id": i, "s": 0.3}},
                       headers=auth(api_key), timeout=30)
        out[i] = (r.status_code, r.json())

    for rnd in range(5):  # rounds of 3 concurrent calls on 2 replicas: one always waits for a free replica
        threads = [threading.Thread(target=one, args=(10 * rnd + i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    bad = {i: v[1].get("code") or v[1].get("errorCode") for i, v in out.items() if v[0] != 200}
    wrong = {i: body["response"]["prediction"]["echo"] for i, (status, body) in out.items()
             if status == 200 and body["response"]["prediction"]["echo"] != i}
    assert not bad and not wrong, (f"after the idle restart: failed calls (id -> error) {bad}; calls answered with "
                                   f"another request's answer (id -> answered id) {wrong}")
    # both replicas stay in rotation: each round of 3 used both, and both are reported alive
    for rnd in range(5):
        used = {out[10 * rnd + i][1]["ReplicaID"] for i in range(3)}
        assert used == {r["replica_id"] for r in before}, f"round {rnd} used only {used}"
    status = get_deployment(platform, api_key, crn)["replica_status"]
    assert all(r["alive"] for r in status), f"a live replica dropped out of rotation: {status}"
    # one request at a time per replica: the model's run intervals of one process never overlap
    by_pid: dict[int, list[tuple[float, float]]] = {}
    for _, body in out.values():
        p = body["response"]["prediction"]
        by_pid.setdefault(p["pid"], []).append((p["start"], p["end"]))
    for spans in by_pid.values():
        spans.sort()
        for (_, e1), (s2, _) in itertools.pairwise(spans):
            assert s2 >= e1 - 0.01, f"two requests ran at once on one replica: {spans}"


@pytest.fixture(scope="module")
def echo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("echo2") / "echo-project", {"model.py": ECHO_PY}, ["Echo"])


def test_a_request_whose_replica_dies_before_answering_goes_to_another(platform: Platform, api_key: str,
                                                                        echo_project: Path, tmp_path: Path) -> None:
    dep = deploy(platform, api_key, echo_project, "Echo", "model.py", "predict", "--replicas", "2")
    pids = {rs["pid"] for rs in get_deployment(platform, api_key, dep["crn"])["replica_status"]}
    mark = tmp_path / "running"
    t0 = int(time.time() * 1000)
    result: dict[str, Any] = {}

    def slow_call() -> None:
        r = httpx.post(f"{platform.url}/model", json={"accessKey": dep["accessKey"],
                                                      "request": {"id": "inflight", "s": 1.5, "mark": str(mark)}},
                       headers=auth(api_key), timeout=30)
        result["status"], result["body"] = r.status_code, r.json()

    t = threading.Thread(target=slow_call)
    t.start()
    running: list[str] = wait_until(lambda: mark.exists() and mark.read_text().split(), 10, 0.01,
                                    "the request to reach a replica")  # type: ignore[assignment]
    first = int(running[0])
    assert first in pids
    os.kill(first, signal.SIGKILL)  # the replica dies while computing the answer
    t.join(30)
    assert result["status"] == 200, result  # no client retry: the gateway sent it to the other replica
    p = result["body"]["response"]["prediction"]
    assert p["echo"] == "inflight" and p["pid"] != first and p["pid"] in pids
    recs = read_metrics(platform, api_key, dep["crn"], t0)
    assert [r["predictionUuid"] for r in recs] == [result["body"]["response"]["uuid"]]


def test_metrics_of_an_answered_prediction_survive_a_sigkill_right_after(platform: Platform, api_key: str,
                                                                          echo_project: Path) -> None:
    dep = deploy(platform, api_key, echo_project, "Echo", "model.py", "predict", "--replicas", "3")
    t0 = int(time.time() * 1000)
    uuids = []
    with httpx.Client(timeout=30) as client:
        for i in range(4):
            status, body, _ = post(client, platform.url, api_key, dep["accessKey"], {"id": i})
            assert status == 200, body
            # The process that answered (a status read before the call can still show a restarted replica's old
            # pid), killed right after its answer reached the client.
            os.kill(body["response"]["prediction"]["pid"], signal.SIGKILL)
            uuids.append(body["response"]["uuid"])
    counts = Counter(r["predictionUuid"] for r in read_metrics(platform, api_key, dep["crn"], t0))
    assert {u: counts[u] for u in uuids} == dict.fromkeys(uuids, 1)


def test_a_replica_that_timed_out_returns_to_rotation(tmp_path: Path, echo_project: Path) -> None:
    """A request slower than MLCATALOG_REQUEST_TIMEOUT must not take its (live) replica out of rotation for good."""
    from tests.serving.conftest import start_platform

    p = start_platform(tmp_path / "store", {"MLCATALOG_REQUEST_TIMEOUT": "1", "MLCATALOG_BUSY_TIMEOUT": "2"})
    try:
        key = p.cli("api-keys", "create", "timeout", "--role", "deployer", "--project", "*").stdout.strip()
        dep = deploy(p, key, echo_project, "Echo", "model.py", "predict")
        ak = dep["accessKey"]
        with httpx.Client(timeout=30) as client:
            assert post(client, p.url, key, ak, {"id": 0})[0] == 200
            slow = client.post(f"{p.url}/model", json={"accessKey": ak, "request": {"id": 1, "s": 3}},
                               headers=auth(key))
            assert slow.status_code != 200 and "Traceback" not in slow.text

            def serves_again() -> bool:
                r = client.post(f"{p.url}/model", json={"accessKey": ak, "request": {"id": 2}}, headers=auth(key))
                return r.status_code == 200

            try:
                wait_until(serves_again, 15, 0.2, "the deployment to serve again")
            except AssertionError:
                rs = get_deployment(p, key, dep["crn"])["replica_status"]
                raise AssertionError(f"after one timed-out request (answered {slow.status_code} "
                                     f"{slow.json().get('code')}), the deployment answers 429 for good; "
                                     f"replica status: {rs}; process alive: "
                                     f"{[pid_alive(r['pid']) for r in rs]}") from None
    finally:
        p.stop()
