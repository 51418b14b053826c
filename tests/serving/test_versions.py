"""A model's builds over time on a real platform (``mlcatalog up`` subprocess): the access key belongs to the model,
a rollout and a rollback under a stream of calls fail none, a canary gets its share, a shadow answers copies, the
traffic commands refuse what cannot be and change nothing then, and every answer's metrics record names the build
that answered.

Figures (printed with -s): calls, failures, answers per build, the rollout's overlap and durations, the canary's
share against its binomial 99% interval.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from scipy.stats import binom

from tests.servers import wait_until
from tests.serving.conftest import ADMIN_KEY, Platform, auth, commit_change, make_project

pytestmark = pytest.mark.slow
MODEL = "Versioned"
WARM_UP_S = 0.5
CALLS, THREADS, SPREAD_S = 2000, 8, 20.0


def model_py(version: int, broken: bool = False) -> str:
    crash = "raise RuntimeError('this build cannot load its model')\n" if broken else ""
    return f'''
import time

import cdsw

{crash}VERSION = {version}
EXAMPLE = {{"id": -1}}


@cdsw.model_metrics
def predict(args):
    if args.get("id") == -1:  # the platform's warm-up call
        time.sleep({WARM_UP_S})
    cdsw.track_metric("id", args.get("id"))
    cdsw.track_metric("prediction", "ok")
    return {{"version": VERSION, "id": args.get("id")}}
'''


@dataclass
class Call:
    sent: float
    status: int
    crn: str | None
    build: int | None
    uuid: str | None
    rid: Any = None  # the request's id


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("versions-project") / "versioned", {"model.py": model_py(1)}, [MODEL])


def cli(p: Platform, *args: str, check: bool = True) -> Any:
    return p.cli(*args, check=check, env={"MLCATALOG_API_KEY": ADMIN_KEY})


def deploy(p: Platform, project: Path, *extra: str) -> dict[str, Any]:
    out = cli(p, "deploy", "--project-dir", str(project), "--model", MODEL, "--file", "model.py", "--function",
              "predict", "--json", *extra)
    return dict(json.loads(out.stdout))


def new_build(p: Platform, project: Path, version: int, *extra: str) -> dict[str, Any]:
    commit_change(project, "model.py", model_py(version), f"v{version}")
    return deploy(p, project, *extra)


def call(client: httpx.Client, p: Platform, key: str, request: dict[str, Any]) -> Call:
    sent = time.monotonic()
    r = client.post(f"{p.url}/model", json={"accessKey": key, "request": request}, headers=auth(ADMIN_KEY))
    if r.status_code != 200:
        return Call(sent, r.status_code, None, None, None, request.get("id"))
    body = r.json()["response"]
    return Call(sent, 200, body["model_deployment_crn"], body["prediction"]["version"], body["uuid"],
                request.get("id"))


class Load:
    """``CALLS`` calls from ``THREADS`` threads spread over ``SPREAD_S`` seconds (or as fast as they go)."""

    def __init__(self, p: Platform, key: str, *, spread_s: float = SPREAD_S, calls: int = CALLS,
                 request: Any = None) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        per_thread = calls // THREADS
        self.threads = [threading.Thread(target=self._run, args=(p, key, t, per_thread, spread_s, request))
                        for t in range(THREADS)]
        for t in self.threads:
            t.start()

    def _run(self, p: Platform, key: str, t: int, n: int, spread_s: float, request: Any) -> None:
        start = time.monotonic()
        with httpx.Client(timeout=60) as client:
            for i in range(n):
                pause = start + i * spread_s / n - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                c = call(client, p, key, request(t, i) if request else {"id": t * 100_000 + i})
                with self._lock:
                    self.calls.append(c)

    def join(self) -> list[Call]:
        for t in self.threads:
            t.join()
        return sorted(self.calls, key=lambda c: c.sent)


def records_of_build(p: Platform, build_crn: str) -> dict[str, int]:
    """uuid -> the request id of every prediction the build's metrics hold."""
    r = httpx.get(f"{p.url}/api/v1/metrics", headers=auth(ADMIN_KEY), timeout=60,
                  params={"model_build_crn": build_crn, "start_timestamp_ms": 0,
                          "end_timestamp_ms": int(time.time() * 1000) + 60_000})
    assert r.status_code == 200, r.text
    return {m["predictionUuid"]: m["metrics"]["id"] for m in r.json()["metrics"] if m.get("predictionUuid")}


def model_traffic(p: Platform, name: str = MODEL) -> dict[str, Any]:
    return dict(next(m for m in json.loads(cli(p, "models", "--json").stdout) if m["model_name"] == name))


def switch(calls: list[Call], old: int, new: int) -> tuple[float, float]:
    """(first call sent that the new build answered, last call sent that the old one answered), in monotonic s."""
    return (min(c.sent for c in calls if c.build == new), max(c.sent for c in calls if c.build == old))


STATE: dict[str, Any] = {}


def test_a_rollout_under_load_fails_no_call_and_keeps_the_key(platform: Platform, project: Path) -> None:
    first = deploy(platform, project)
    key, hint = first["accessKey"], first["accessKeyHint"]
    assert key and key.startswith(hint) and first["role"] == "live" and first["trafficPercent"] == 100
    load = Load(platform, key)
    time.sleep(4)
    t0 = time.monotonic()
    second = new_build(platform, project, 2)
    deploy_s = time.monotonic() - t0
    calls = load.join()
    assert second["accessKey"] is None and second["accessKeyHint"] == hint and second["role"] == "live"
    failed = Counter(c.status for c in calls if c.status != 200)
    by_build = Counter(c.build for c in calls)
    assert len(calls) == CALLS and not failed, failed
    assert by_build[1] > 0 and by_build[2] > 0 and set(by_build) == {1, 2}
    new_first, old_last = switch(calls, 1, 2)
    overlap = old_last - new_first
    assert overlap < WARM_UP_S + 1.0, overlap
    # every answer's metrics record names the build that answered it (and no other build holds it)
    for dep, version in ((first, 1), (second, 2)):
        answered = {c.uuid for c in calls if c.build == version}
        held = records_of_build(platform, dep["buildCrn"])
        assert answered == {u for u, i in held.items() if i != -1}, version
        assert all(c.crn == dep["crn"] for c in calls if c.build == version)
    m = model_traffic(platform)
    assert [(s["deployment_crn"], s["role"], s["percent"]) for s in m["shares"]] == [(second["crn"], "live", 100)]
    old = httpx.get(f"{platform.url}/api/v1/serving/deployments/{first['crn']}", headers=auth(ADMIN_KEY)).json()
    assert old["status"] == "stopped" and old["role"] == "retired" and old["replica_status"] == []
    print(f"\nrollout under load: {len(calls)} calls, {sum(failed.values())} failed, build 1 answered "
          f"{by_build[1]}, build 2 {by_build[2]}; deploy took {deploy_s:.1f}s (warm-up {WARM_UP_S}s); old build's "
          f"last call sent {overlap:+.3f}s after the new build's first")
    STATE.update(key=key, first=first, second=second)


def test_a_rollback_under_load_restarts_the_previous_build_and_fails_no_call(platform: Platform) -> None:
    key, first = STATE["key"], STATE["first"]
    load = Load(platform, key, calls=1600, spread_s=16.0)
    time.sleep(3)
    t0 = time.monotonic()
    shown = cli(platform, "rollback", MODEL).stdout
    rollback_s = time.monotonic() - t0
    calls = load.join()
    failed = Counter(c.status for c in calls if c.status != 200)
    by_build = Counter(c.build for c in calls)
    assert not failed and by_build[1] > 0 and by_build[2] > 0, (failed, by_build, rollback_s, shown)
    new_first, old_last = switch(calls, 2, 1)
    assert old_last - new_first < WARM_UP_S + 1.0
    assert "100%  live" in shown and first["buildCrn"] in shown
    assert model_traffic(platform)["shares"][0]["deployment_crn"] == first["crn"]
    print(f"\nrollback under load: {len(calls)} calls, {sum(failed.values())} failed, build 2 answered "
          f"{by_build[2]}, build 1 (started again) {by_build[1]}; rollback took {rollback_s:.1f}s")


def monitored(p: Platform) -> set[str]:
    return {m["deployment_crn"] for m in json.loads(cli(p, "monitor", "list", "--json").stdout)
            if m["status"] == "active"}


def test_a_canary_gets_its_share_and_sticky_callers_stay_on_one_build(platform: Platform, project: Path) -> None:
    key, first = STATE["key"], STATE["first"]
    cli(platform, "monitor", "add", first["crn"], "--every", "1h", "--expected", "ok=1")
    third = new_build(platform, project, 3, "--canary", "10", "--sticky-field", "user")
    assert third["role"] == "canary" and third["trafficPercent"] == 10 and third["accessKey"] is None
    assert monitored(platform) >= {first["crn"], third["crn"]}  # the monitor followed the model to its canary
    time.sleep(0.05)
    w0 = int(time.time() * 1000)
    calls = Load(platform, key, spread_s=0.0).join()  # no "user" field: each call draws
    time.sleep(1.5)  # the replicas' metrics writes land
    w1 = int(time.time() * 1000)
    assert not [c for c in calls if c.status != 200]
    canary = sum(1 for c in calls if c.build == 3)
    low, high = binom.interval(0.99, CALLS, 0.10)
    assert low <= canary <= high, (canary, low, high)
    assert {c.build for c in calls} == {1, 3}
    # the two builds side by side over the same window: each one's predictions are the calls it answered
    for dep in (first, third):
        cli(platform, "monitor", "run", dep["crn"], "--window", f"{w0}..{w1}")
    (row,) = json.loads(cli(platform, "monitor", "compare", MODEL, "--json").stdout)
    assert (row["start_ms"], row["end_ms"]) == (w0, w1)
    assert {(b["role"], b["predictions"]) for b in row["builds"]} == {("live", CALLS - canary), ("canary", canary)}
    by_user: dict[str, set[int | None]] = {}
    with httpx.Client(timeout=30) as client:
        for u in range(60):
            by_user[f"u{u}"] = {call(client, platform, key, {"user": f"u{u}", "id": j}).build for j in range(5)}
    assert all(len(b) == 1 for b in by_user.values()), by_user
    on_canary = sum(1 for b in by_user.values() if b == {3})
    assert 0 < on_canary < 30
    print(f"\ncanary at 10%: {canary} of {CALLS} calls (binomial 99% interval {low:.0f}..{high:.0f}); sticky: "
          f"{on_canary} of 60 callers on the canary, each always on one build")
    STATE["third"] = third


def test_promote_and_a_shadow_that_answers_copies(platform: Platform, project: Path) -> None:
    key, third = STATE["key"], STATE["third"]
    shown = cli(platform, "promote", MODEL).stdout
    assert "100%  live" in shown and third["buildCrn"] in shown
    fourth = new_build(platform, project, 4, "--shadow")
    assert fourth["role"] == "shadow" and fourth["trafficPercent"] == 0
    calls = Load(platform, key, calls=200, spread_s=0.0).join()
    assert {c.build for c in calls} == {3} and all(c.status == 200 for c in calls)
    answered = {c.uuid for c in calls}

    def shadowed() -> bool:
        held = records_of_build(platform, fourth["buildCrn"])
        return len({u for u, i in held.items() if i != -1}) == 200

    wait_until(shadowed, 30, 0.2, "the shadow's 200 records")
    shadow_held = records_of_build(platform, fourth["buildCrn"])
    assert not answered & set(shadow_held)  # its own prediction UUIDs, never returned
    assert sorted(i for i in shadow_held.values() if i != -1) == sorted(c.rid for c in calls)  # a copy of each
    m = model_traffic(platform)
    assert {(s["role"], s["percent"]) for s in m["shares"]} == {("live", 100), ("shadow", 0)}
    STATE["fourth"] = fourth


def test_traffic_refuses_what_cannot_be_and_changes_nothing(platform: Platform, project: Path,
                                                            tmp_path: Path) -> None:
    third = STATE["third"]
    before = model_traffic(platform)
    bad_sum = cli(platform, "traffic", MODEL, f"{third['buildCrn']}=90", check=False)
    assert bad_sum.returncode == 2 and "sum to 90, not 100" in bad_sum.stderr
    other = make_project(tmp_path / "other", {"model.py": model_py(1)}, ["Other"])
    out = cli(platform, "deploy", "--project-dir", str(other), "--model", "Other", "--file", "model.py",
              "--function", "predict", "--json")
    other_build = json.loads(out.stdout)["buildCrn"]
    foreign = cli(platform, "traffic", MODEL, f"{third['buildCrn']}=90", f"{other_build}=10", check=False)
    assert foreign.returncode == 1 and "is a build of another model (Other)" in foreign.stderr
    assert len(foreign.stderr.strip().splitlines()) == 1
    no_previous = cli(platform, "rollback", "Other", check=False)
    assert no_previous.returncode == 1 and "has no previous build to roll back to" in no_previous.stderr
    both = cli(platform, "deploy", "--project-dir", str(project), "--model", MODEL, "--file", "model.py",
               "--function", "predict", "--canary", "5", "--shadow", check=False)
    assert both.returncode == 2 and "--canary and --shadow" in both.stderr
    assert model_traffic(platform) == before


def test_a_build_that_fails_to_start_leaves_the_live_one_serving(platform: Platform, project: Path) -> None:
    key, third = STATE["key"], STATE["third"]
    commit_change(project, "model.py", model_py(5, broken=True), "v5 broken")
    failed = cli(platform, "deploy", "--project-dir", str(project), "--model", MODEL, "--file", "model.py",
                 "--function", "predict", check=False)
    assert failed.returncode == 1 and "the model's live build keeps serving" in failed.stderr
    assert "this build cannot load its model" in failed.stderr
    with httpx.Client(timeout=30) as client:
        assert call(client, platform, key, {"id": 7}).build == 3
    live = [s for s in model_traffic(platform)["shares"] if s["role"] == "live"]
    assert [s["deployment_crn"] for s in live] == [third["crn"]]


def test_the_catalog_shows_each_builds_role_and_share(platform: Platform) -> None:
    first, third, fourth = STATE["first"], STATE["third"], STATE["fourth"]

    def entity(crn: str) -> dict[str, Any]:
        r = httpx.get(f"{platform.url}/api/atlas/v2/entity/uniqueAttribute/type/ml_model_deployment",
                      params={"attr:qualifiedName": crn}, auth=("admin", "pw"), timeout=30)
        assert r.status_code == 200, r.text
        return dict(r.json()["entity"]["attributes"])

    def roles() -> list[tuple[Any, Any]]:
        return [(entity(c["crn"]).get("trafficRole"), entity(c["crn"]).get("trafficPercent"))
                for c in (first, third, fourth)]

    wait_until(lambda: roles() == [("retired", 0), ("live", 100), ("shadow", 0)], 30, 0.3, "the roles in Atlas")
