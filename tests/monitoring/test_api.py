"""``/api/v1/serving/monitors`` in-process: auth, one error body for bad input, nothing stored on error; the
worker process computes what the in-process computer does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from serving.metrics import open_metrics_store, sqlite_url
from serving.monitoring.config import MonitorConfig
from serving.monitoring.reference import categorical_reference, numeric_reference
from serving.monitoring.worker import InProcessComputer, ProcessComputer
from tests.inprocess import ADMIN_KEY, json_of, platform_app
from tests.monitoring.test_service import CRN, T0, M, wine_rows, write

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with platform_app(tmp_path / "store", {"MLCATALOG_MONITOR_WORKER": "inline"}) as c:
        yield c


def test_monitors_need_a_key(client: TestClient) -> None:
    r = client.get("/api/v1/serving/monitors")
    assert r.status_code == 401 and json_of(r)["code"] == "unauthorized"
    r = client.get("/api/v1/serving/monitors", headers=AUTH)
    assert r.status_code == 200 and r.json() == []


@pytest.mark.parametrize(("body", "status", "code", "message"), [
    ({"deployment_crn": CRN, "every_ms": 1_800_000}, 404, "not_found", "no deployment"),
    ({"deployment_crn": "/nope", "every_ms": 1_800_000}, 404, "not_found", "no deployment"),
    ({"deployment_crn": CRN, "every_ms": "often"}, 400, "invalid_input", "every_ms"),
    ({"every_ms": 1_800_000}, 400, "invalid_input", "deployment_crn"),
])
def test_bad_requests_get_the_error_body(client: TestClient, body: dict[str, object], status: int, code: str,
                                         message: str) -> None:
    r = client.post("/api/v1/serving/monitors", json=body, headers=AUTH)
    assert r.status_code == status, r.text
    err = json_of(r)
    assert err["code"] == code and message in (err["message"] + " ".join(err.get("problems") or []))
    assert client.get("/api/v1/serving/monitors", headers=AUTH).json() == []


def test_unknown_monitor_is_404(client: TestClient) -> None:
    for method, path in (("GET", f"/api/v1/serving/monitors/{CRN}"), ("DELETE", f"/api/v1/serving/monitors/{CRN}"),
                         ("POST", f"/api/v1/serving/monitors/{CRN}/run"),
                         ("GET", f"/api/v1/serving/monitors/{CRN}/windows")):
        r = client.request(method, path, headers=AUTH)
        assert r.status_code == 404 and json_of(r)["code"] == "not_found", (method, path, r.text)
    r = client.post(f"/api/v1/serving/monitors/{CRN}/run", json={"start_ms": 5}, headers=AUTH)
    assert r.status_code == 400 and "both" in r.text


def test_the_worker_process_computes_what_this_process_does(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "metrics.db")
    store = open_metrics_store(url)
    write(store, wine_rows(500, 11, shift=0.3), T0, T0 + 30 * M, "w")
    from serving.examples.wine.data import FEATURES, generate
    from serving.monitoring.reference import ReferenceSource, ReferenceSummary

    rows = generate(1000, 1)
    reference = ReferenceSummary(
        source=ReferenceSource(kind="file", path="x"), created_ms=1,
        numeric={f: numeric_reference(f, [x[i] for x, _ in rows]) for i, f in enumerate(FEATURES)},
        categorical={"prediction": categorical_reference("quality", [label for _, label in rows])})
    config = MonitorConfig(every_ms=30 * M, window_ms=30 * M)
    here = InProcessComputer(store).compute(CRN, config, reference, T0, T0 + 30 * M)
    worker = ProcessComputer(url)
    try:
        there = worker.compute(CRN, config, reference, T0, T0 + 30 * M)
    finally:
        worker.close()
        store.close()
    assert there.predictions == here.predictions == 500
    assert there.status == here.status and there.drifted_columns == here.drifted_columns
    assert [t.model_dump() for t in there.tests] == [t.model_dump() for t in here.tests]


def test_a_window_range_must_not_be_empty(client: TestClient) -> None:
    r = client.get(f"/api/v1/serving/monitors/{CRN}/windows", params={"start_ms": 10, "end_ms": 10}, headers=AUTH)
    assert r.status_code == 400 and json_of(r)["code"] == "invalid_input" and "end_ms" in json_of(r)["message"]
