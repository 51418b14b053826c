"""The serving API in-process: a deployment's request traffic (``GET /api/v1/serving/deployments/{crn}/traffic``)
after real ``POST /model`` calls through the app, its errors in mlcatalog's body, and the deployment info's
``last_request_ms``. The model runs in a real replica process, as under ``mlcatalog up``."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from serving.platform.traffic import MAX_RELATIVE_ERROR
from tests.inprocess import ADMIN_KEY, json_of, platform_app
from tests.servers import wait_until
from tests.serving.conftest import make_project

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
MODEL = "Traffic Model"
MODEL_PY = '''
import time


def predict(args):
    if args.get("boom"):
        raise RuntimeError("boom")
    time.sleep(float(args.get("s", 0)))
    return {"echo": args.get("id")}
'''
SLEEP_S = 0.02


@dataclass
class Served:
    client: TestClient
    crn: str
    access_key: str
    store: Path
    first_ms: int = 0
    last_ms: int = 0

    def call(self, request: dict[str, Any], *, key: bool = True) -> int:
        r = self.client.post("/model", json={"accessKey": self.access_key, "request": request},
                             headers=AUTH if key else {})
        return r.status_code

    def traffic(self, params: dict[str, int] | None = None, crn: str | None = None) -> Any:
        return self.client.get(f"/api/v1/serving/deployments/{crn or self.crn}/traffic", params=params or {},
                               headers=AUTH)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    project = make_project(tmp_path_factory.mktemp("tiny") / "traffic-project", {"model.py": MODEL_PY}, [MODEL])
    store = tmp_path_factory.mktemp("traffic") / "store"
    with platform_app(store, {"MLCATALOG_BUSY_TIMEOUT": "0.5"}) as client:
        r = client.post("/api/v1/serving/deployments", headers=AUTH, json={
            "project_dir": str(project), "model": MODEL, "file": "model.py", "function": "predict"})
        assert r.status_code == 200, r.text
        d = r.json()
        s = Served(client, d["crn"], d["accessKey"], store)
        s.first_ms = int(time.time() * 1000)
        codes = [s.call({"id": i, "s": SLEEP_S}) for i in range(20)]
        codes += [s.call({"boom": True}) for _ in range(3)]
        codes += [s.call({"id": "no key"}, key=False)]  # refused before the model: not its traffic
        codes.append(client.post("/model", json={"accessKey": "nope", "request": {}}).status_code)  # no deployment
        codes.append(client.post("/model", content=b"{").status_code)
        assert codes == [200] * 20 + [500] * 3 + [401, 404, 400]
        # one replica busy for 1.5 s: the second call waits 0.5 s for it, then is refused (429, an error)
        busy: list[int] = []
        threads = [threading.Thread(target=lambda: busy.append(s.call({"id": "slow", "s": 1.5}))) for _ in range(2)]
        for t in threads:
            t.start()
            time.sleep(0.1)
        for t in threads:
            t.join(30)
        assert sorted(busy) == [200, 429]
        s.last_ms = int(time.time() * 1000)
        yield s


def test_the_traffic_of_real_model_calls(served: Served) -> None:
    r = served.traffic({"start_ms": served.first_ms - 60_000, "end_ms": served.last_ms + 1, "step_ms": 10_000})
    assert r.status_code == 200, r.text
    series = json_of(r)
    assert series["crn"] == served.crn and series["step_ms"] == 10_000
    assert (series["requests"], series["errors"]) == (25, 4)  # 21 answers, 3 model errors, 1 busy
    points = series["points"]
    assert points and sum(p["requests"] for p in points) == 25 and sum(p["errors"] for p in points) == 4
    for p in points:
        assert served.first_ms - 10_000 < p["t_ms"] <= served.last_ms and p["t_ms"] % 10_000 == 0
        assert p["error_rate"] == pytest.approx(p["errors"] / p["requests"], abs=1e-6)
        assert p["rate_per_s"] == pytest.approx(p["requests"] / 10, abs=1e-6)
        # every call slept 20 ms in the model (or failed at once, or waited 0.5 s, or slept 1.5 s)
        assert 0 < p["p50_ms"] <= p["p95_ms"] <= p["p99_ms"] < 1500 * (1 + MAX_RELATIVE_ERROR) + 500
    # in one wide step: the median is one of the 20 ms calls, the slowest ones are the 1.5 s and 0.5 s waits
    (whole,) = json_of(served.traffic({"start_ms": served.first_ms - 60_000, "end_ms": served.last_ms + 1,
                                       "step_ms": 600_000}))["points"]
    assert SLEEP_S * 1000 * (1 - MAX_RELATIVE_ERROR) <= whole["p50_ms"] < 200
    assert whole["p99_ms"] >= 500 * (1 - MAX_RELATIVE_ERROR)


def test_the_traffic_is_flushed_to_the_platform_state(served: Served) -> None:
    def stored() -> int:
        with closing(sqlite3.connect(served.store / "platform.db")) as db:
            return int(db.execute("SELECT coalesce(sum(requests), 0) FROM traffic WHERE crn = ?",
                                  (served.crn,)).fetchone()[0])

    wait_until(lambda: stored() == 25, 15, what="the recorder's flush")


def test_the_default_range_is_the_last_hour(served: Served) -> None:
    series = json_of(served.traffic())
    assert series["requests"] == 25
    assert series["end_ms"] >= served.last_ms and series["end_ms"] - series["start_ms"] <= 3_600_000 + 20_000
    assert series["step_ms"] == 20_000


def test_the_deployment_says_when_it_last_answered(served: Served) -> None:
    d = json_of(served.client.get(f"/api/v1/serving/deployments/{served.crn}", headers=AUTH))
    assert served.first_ms <= d["last_request_ms"] <= served.last_ms
    listed = json_of(served.client.get("/api/v1/serving/deployments", headers=AUTH))
    assert [x["last_request_ms"] for x in listed if x["crn"] == served.crn] == [d["last_request_ms"]]


def test_cmls_bare_id_names_the_deployment(served: Served) -> None:
    bare = "/" + served.crn.rsplit("/", 1)[1]
    r = served.traffic(crn=bare)
    assert r.status_code == 200, r.text
    assert json_of(r)["crn"] == served.crn and json_of(r)["requests"] == 25


@pytest.mark.parametrize(("params", "message"), [
    ({"start_ms": 2_000_000, "end_ms": 2_000_000}, "must be after"),
    ({"start_ms": 2_000_000, "end_ms": 1_000_000}, "must be after"),
    ({"start_ms": 0, "end_ms": 60_000, "step_ms": 15_000}, "multiple of 10000"),
    ({"start_ms": 0, "end_ms": 60_000, "step_ms": 0}, "multiple of 10000"),
    ({"start_ms": 0, "end_ms": 100_010_000, "step_ms": 10_000}, "at most 10000"),
    ({"start_ms": -1}, "start_ms"),
])
def test_bad_ranges_and_steps_are_invalid_input(served: Served, params: dict[str, int], message: str) -> None:
    r = served.traffic(params)
    assert r.status_code == 400, r.text
    body = json_of(r)
    assert body["code"] == "invalid_input" and message in body["message"], body


def test_a_step_that_is_not_a_number_is_invalid_input(served: Served) -> None:
    r = served.client.get(f"/api/v1/serving/deployments/{served.crn}/traffic?step_ms=often", headers=AUTH)
    assert r.status_code == 400 and json_of(r)["code"] == "invalid_input" and "step_ms" in r.text


@pytest.mark.parametrize("ref", ["crn:cdp:ml:us-west-1:acct:workspace:ws/6f0c1f55-0d3a-4a57-9d5e-2c6b1f9a0e11",
                                 "/6f0c1f55-0d3a-4a57-9d5e-2c6b1f9a0e11"])
def test_an_unknown_deployment_is_404(served: Served, ref: str) -> None:
    r = served.traffic(crn=ref)
    assert r.status_code == 404 and json_of(r)["code"] == "not_found", r.text


def test_traffic_needs_a_key(served: Served) -> None:
    r = served.client.get(f"/api/v1/serving/deployments/{served.crn}/traffic")
    assert r.status_code == 401 and json_of(r)["code"] == "unauthorized"


def test_the_sibling_routes_still_answer(served: Served) -> None:
    d = served.client.get(f"/api/v1/serving/deployments/{served.crn}", headers=AUTH)
    assert d.status_code == 200 and d.json()["crn"] == served.crn
    logs = served.client.get(f"/api/v1/serving/deployments/{served.crn}/logs", headers=AUTH)
    assert logs.status_code == 200 and len(logs.json()) == 1


def test_parked_outbox_entries_are_retried_through_the_api(tmp_path: Path) -> None:
    from serving.platform.outbox import enqueue

    with platform_app(tmp_path / "store") as client:
        state = client.app.state.runtime.state  # type: ignore[attr-defined]
        with state.tx() as c:
            enqueue(c, "nonsense", {"x": 1})  # a kind no catalog takes: parked at once
        wait_until(lambda: client.get("/api/v1/serving/outbox", headers=AUTH).json()[0]["status"] == "failed",
                   timeout=20, what="the entry parked")
        [parked] = client.get("/api/v1/serving/outbox", headers=AUTH).json()
        assert "unknown outbox entry kind" in parked["last_error"]
        assert client.post("/api/v1/serving/outbox/retry", json={"seq": parked["seq"]}).status_code == 401
        r = client.post("/api/v1/serving/outbox/retry", json={"seq": "all"}, headers=AUTH)
        assert r.status_code == 400 and json_of(r)["code"] == "invalid_input"
        r = client.post("/api/v1/serving/outbox/retry", json={"seq": parked["seq"]}, headers=AUTH)
        assert r.status_code == 200 and r.json() == {"retried": [parked["seq"]]}
        # sent again, refused again: parked again, with one more attempt
        wait_until(lambda: client.get("/api/v1/serving/outbox", headers=AUTH).json()[0]["attempts"] == 2,
                   timeout=20, what="the entry sent again")
        assert client.get("/api/v1/serving/outbox", headers=AUTH).json()[0]["status"] == "failed"
        assert client.post("/api/v1/serving/outbox/retry", json={}, headers=AUTH).json() == {"retried": [parked["seq"]]}
