"""Hostile input to the monitors' routes (``/api/v1/serving/monitors``, serving/monitoring/routes.py) in the app
``mlcatalog up`` assembles (tests/inprocess.py), beside two real deployments: one monitored (with a computed window),
one with predictions and no monitor, which every refused ``POST`` names so that only the hostile field is wrong.

Each case is a request a hostile or broken client may send: wrong JSON types for each field of a monitor, numbers past
what the stores hold, NaN and Infinity, windows out of range, unknown or malformed CRNs, deep nesting, shares that no
test can weigh, files that are no reference, bodies that are not JSON. Each must be answered with a 4xx in
mlcatalog's body ``{code, message, problems}``, naming none of the server's paths, logging at most one line, and
change nothing: no monitor, window, outbox entry or metric record written.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastapi
import pytest
from starlette.testclient import TestClient

from serving.metrics.models import MAX_MS
from serving.monitoring.config import MAX_WINDOW_MS
from tests.inprocess import ADMIN_KEY, assert_refusal_body, json_of, platform_app
from tests.servers import wait_until
from tests.serving.conftest import make_project

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
JSON = {"content-type": "application/json"}
MODEL = "Echo"
MODEL_PY = '''
import cdsw


@cdsw.model_metrics
def predict(args):
    x = float(args.get("x", 0))
    cdsw.track_metric("x", x)
    cdsw.track_metric("prediction", "a" if x > 0 else "b")
    return {"ok": 1}
'''
MONITORS = "/api/v1/serving/monitors"
HOUR = 3_600_000
EXPECTED = {"a": 0.5, "b": 0.5}
UNKNOWN_CRN = "crn:cdp:ml:local:mlcatalog:workspace:default/00000000-0000-4000-8000-000000000000"


@dataclass
class World:
    client: TestClient
    store: Path
    monitored: str  # a deployment with a monitor and one computed window
    free: str  # a deployment with predictions and no monitor: the target of every refused POST
    window: tuple[int, int]  # the window computed for ``monitored``

    def add_body(self, **change: Any) -> dict[str, Any]:
        return {"deployment_crn": self.free, "every_ms": HOUR, "reference": {"expected": EXPECTED}, **change}

    def server_paths(self) -> list[str]:
        return [str(self.store), str(self.store.resolve()), sys.executable, sys.prefix, os.getcwd(),
                str(Path(fastapi.__file__).parents[1]), str(Path(__file__).resolve().parents[2])]

    def state(self) -> dict[str, Any]:
        """Everything a monitor request could write: monitors, their windows, catalog updates, metric records."""
        with closing(sqlite3.connect(f"file:{self.store / 'platform.db'}?mode=ro", uri=True)) as db:
            state = {
                "monitor": db.execute("SELECT * FROM monitor ORDER BY deployment_crn").fetchall(),
                "window": db.execute("SELECT * FROM monitor_window ORDER BY deployment_crn, end_ms").fetchall(),
                "outbox": db.execute("SELECT seq, kind FROM outbox ORDER BY seq").fetchall(),
            }
        with closing(sqlite3.connect(f"file:{self.store / 'metrics.db'}?mode=ro", uri=True)) as db:
            state["metrics"] = db.execute("SELECT count(*), max(rowid) FROM metric_record").fetchall()
        return state


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    project = make_project(tmp_path_factory.mktemp("monitor-project") / "echo", {"model.py": MODEL_PY},
                           [MODEL, f"{MODEL} 2"])
    store = tmp_path_factory.mktemp("monitor-hostile") / "store"
    # No scheduler: only the requests themselves may compute a window.
    with platform_app(store, {"MLCATALOG_MONITORING": "false", "MLCATALOG_MONITOR_WORKER": "inline"}) as client:
        deployed = []
        for model in (MODEL, f"{MODEL} 2"):  # two models: each its own key and its own live build
            deploy = {"project_dir": str(project), "model": model, "file": "model.py", "function": "predict"}
            r = client.post("/api/v1/serving/deployments", json=deploy, headers=ADMIN)
            assert r.status_code == 200, r.text
            deployed.append(json_of(r))
        monitored, free = deployed
        start = int(time.time() * 1000) - 1000
        for i in range(40):
            r = client.post("/model", json={"accessKey": free["accessKey"], "request": {"x": i % 3}}, headers=ADMIN)
            assert r.status_code == 200, r.text
        r = client.post(MONITORS, json={"deployment_crn": monitored["crn"], "every_ms": HOUR,
                                        "reference": {"expected": EXPECTED}}, headers=ADMIN)
        assert r.status_code == 201, r.text
        window = (start, start + 60_000)
        r = client.post(f"{MONITORS}/{monitored['crn']}/run", json={"start_ms": window[0], "end_ms": window[1]},
                        headers=ADMIN)
        assert r.status_code == 200, r.text
        w = World(client, store, monitored["crn"], free["crn"], window)

        def settled() -> bool:  # the outbox delivered, the predictions' records written: nothing moves any more
            pending = json_of(client.get("/api/v1/serving/outbox", headers=ADMIN))
            return not pending and w.state()["metrics"][0][0] >= 40

        wait_until(settled, 30, what="the outbox and the metrics store to settle")
        yield w
        for crn in (w.monitored, w.free):
            client.post(f"/api/v1/serving/stop/{crn}", headers=ADMIN)


Send = Callable[[World], Any]


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def add(**change: Any) -> Send:
    return lambda w: w.client.post(MONITORS, json=w.add_body(**change), headers=ADMIN)


def add_reference(**reference: Any) -> Send:
    return add(reference=reference)


def add_text(field: str, json_text: str) -> Send:
    """The add body with ``field`` set to ``json_text`` as written (NaN, Infinity, deep nesting)."""

    def send(w: World) -> Any:
        body = {k: v for k, v in w.add_body().items() if k != field}
        text = json.dumps(body)[:-1] + f', "{field}": {json_text}}}'
        return w.client.post(MONITORS, content=text.encode(), headers={**ADMIN, **JSON})

    return send


def add_raw(content: bytes) -> Send:
    return lambda w: w.client.post(MONITORS, content=content, headers={**ADMIN, **JSON})


ADD_CASES = [
    pytest.param(add(every_ms=10**30), id="every_ms-10**30"),
    pytest.param(add(every_ms=2**63), id="every_ms-2**63"),
    pytest.param(add(every_ms=-HOUR), id="every_ms-negative"),
    pytest.param(add(every_ms=0), id="every_ms-zero"),
    pytest.param(add(every_ms=999), id="every_ms-under-a-second"),
    pytest.param(add(every_ms=1.5), id="every_ms-fraction"),
    pytest.param(add(every_ms="30m"), id="every_ms-duration-string"),
    pytest.param(add(every_ms=None), id="every_ms-null"),
    pytest.param(add(every_ms=[HOUR]), id="every_ms-array"),
    pytest.param(add_text("every_ms", "NaN"), id="every_ms-NaN"),
    pytest.param(add_text("every_ms", "Infinity"), id="every_ms-Infinity"),
    pytest.param(add_text("every_ms", "1e999"), id="every_ms-float-overflow"),
    pytest.param(add_text("every_ms", "9" * 5000), id="every_ms-5000-digits"),
    pytest.param(add(window_ms=10**30), id="window_ms-10**30"),
    pytest.param(add(window_ms=MAX_WINDOW_MS + 1), id="window_ms-over-366-days"),
    pytest.param(add(window_ms=-1), id="window_ms-negative"),
    pytest.param(add(window_ms="1h"), id="window_ms-string"),
    pytest.param(add(min_n=0), id="min_n-zero"),
    pytest.param(add(min_n=-1), id="min_n-negative"),
    pytest.param(add(min_n=10**30), id="min_n-10**30"),
    pytest.param(add(min_n=2.5), id="min_n-fraction"),
    pytest.param(add(max_catch_up=0), id="max_catch_up-zero"),
    pytest.param(add(max_catch_up=10**30), id="max_catch_up-10**30"),
    pytest.param(add(numeric_test="t-test"), id="numeric_test-unknown"),
    pytest.param(add(numeric_test=""), id="numeric_test-empty"),
    pytest.param(add(numeric_test=["ks"]), id="numeric_test-array"),
    pytest.param(add(thresholds={"ks": 2}), id="thresholds-ks-over-1"),
    pytest.param(add(thresholds={"ks": 0}), id="thresholds-ks-zero"),
    pytest.param(add(thresholds={"chisquare": -0.05}), id="thresholds-chisquare-negative"),
    pytest.param(add(thresholds={"psi": -1}), id="thresholds-psi-negative"),
    pytest.param(add(thresholds={"drift_share": 0}), id="thresholds-drift_share-zero"),
    pytest.param(add(thresholds={"drift_share": 1.5}), id="thresholds-drift_share-over-1"),
    pytest.param(add(thresholds={"ks": "often"}), id="thresholds-ks-string"),
    pytest.param(add(thresholds={"bogus": 0.1}), id="thresholds-unknown-test"),
    pytest.param(add(thresholds={f"t{i}": 0.1 for i in range(10_000)}), id="thresholds-10000-unknown"),
    pytest.param(add(thresholds=[0.05, 0.1]), id="thresholds-array"),
    pytest.param(add(thresholds="ks=0.05"), id="thresholds-string"),
    pytest.param(add_text("thresholds", '{"ks": NaN}'), id="thresholds-ks-NaN"),
    pytest.param(add_text("thresholds", '{"wasserstein": Infinity}'), id="thresholds-wasserstein-Infinity"),
    pytest.param(add_text("thresholds", nested_objects(5000)), id="thresholds-nested-5000"),
    pytest.param(add(prediction_key=""), id="prediction_key-empty"),
    pytest.param(add(prediction_key="predic\x00tion"), id="prediction_key-NUL"),
    pytest.param(add(prediction_key="\x1b[2Jprediction"), id="prediction_key-escape-sequence"),
    pytest.param(add(prediction_key="p" * 300), id="prediction_key-300-chars"),
    pytest.param(add(prediction_key=7), id="prediction_key-number"),
    pytest.param(add(prediction_key="actual_result"), id="prediction_key-is-actual_key"),
    pytest.param(add(actual_key=None), id="actual_key-null"),
    pytest.param(add(actual_key="a\nb"), id="actual_key-newline"),
    pytest.param(add(min_accuracy=2), id="min_accuracy-over-1"),
    pytest.param(add(min_accuracy=-0.1), id="min_accuracy-negative"),
    pytest.param(add(min_accuracy="high"), id="min_accuracy-string"),
    pytest.param(add_text("min_accuracy", "NaN"), id="min_accuracy-NaN"),
    pytest.param(add(webhook_url="file:///etc/passwd"), id="webhook-file-scheme"),
    pytest.param(add(webhook_url="ftp://hooks.example.com/x"), id="webhook-ftp-scheme"),
    pytest.param(add(webhook_url="javascript:alert(1)"), id="webhook-javascript"),
    pytest.param(add(webhook_url="not a url"), id="webhook-not-a-url"),
    pytest.param(add(webhook_url="http://" + "h" * 3000 + ".example.com/"), id="webhook-3000-chars"),
    pytest.param(add(webhook_url="http://\x00/"), id="webhook-NUL"),
    pytest.param(add(webhook_url=5), id="webhook-number"),
    pytest.param(add(deployment_crn=""), id="crn-empty"),
    pytest.param(add(deployment_crn=None), id="crn-null"),
    pytest.param(add(deployment_crn=5), id="crn-number"),
    pytest.param(add(deployment_crn=["crn"]), id="crn-array"),
    pytest.param(add(deployment_crn="not a crn"), id="crn-malformed"),
    pytest.param(add(deployment_crn="crn\x00"), id="crn-NUL"),
    pytest.param(add(deployment_crn="c" * 5000), id="crn-5000-chars"),
    pytest.param(add_reference(expected={"a": -1, "b": 1}), id="expected-negative-share"),
    pytest.param(add_reference(expected={"a": 0, "b": 0}), id="expected-all-zero"),
    pytest.param(add_reference(expected={"a": 1e308, "b": 1e308}), id="expected-sum-overflows"),
    pytest.param(add_reference(expected={f"c{i}": 1 for i in range(10_001)}), id="expected-10001-categories"),
    pytest.param(add_reference(expected={"a": "half"}), id="expected-share-string"),
    pytest.param(add_reference(expected=["a", "b"]), id="expected-array"),
    pytest.param(lambda w: w.client.post(MONITORS, headers={**ADMIN, **JSON}, content=(
        f'{{"deployment_crn": "{w.free}", "every_ms": {HOUR}, "reference": {{"expected": {{"a": NaN}}}}}}').encode()),
        id="expected-NaN"),
    pytest.param(add_reference(window=[10, 5]), id="reference-window-reversed"),
    pytest.param(add_reference(window=[-1, 5]), id="reference-window-negative"),
    pytest.param(add_reference(window=[0, 10**30]), id="reference-window-10**30"),
    pytest.param(add_reference(window=[1, 2, 3]), id="reference-window-three-items"),
    pytest.param(add_reference(window="0..5"), id="reference-window-string"),
    pytest.param(add_reference(window=[0, 1]), id="reference-window-without-predictions"),
    pytest.param(add_reference(sample_rows=10**30), id="reference-sample_rows-10**30"),
    pytest.param(add_reference(sample_rows=0), id="reference-sample_rows-zero"),
    pytest.param(add_reference(file="/etc/passwd"), id="reference-file-passwd"),
    pytest.param(add_reference(file="/dev/zero"), id="reference-file-device"),
    pytest.param(add_reference(file="/"), id="reference-file-root-directory"),
    pytest.param(add_reference(file="relative.csv"), id="reference-file-relative"),
    pytest.param(add_reference(file="ref\x00.csv"), id="reference-file-NUL"),
    pytest.param(add_reference(file=5), id="reference-file-number"),
    pytest.param(add_reference(table="default.elsewhere@cm"), id="reference-table-not-in-lineage"),
    pytest.param(add_reference(table="x\x00"), id="reference-table-NUL"),
    pytest.param(add_reference(table="default.tiny_input@cm", window=[0, 1]), id="reference-two-sources"),
    pytest.param(add_reference(column_map=["x", "x"]), id="reference-column_map-array"),
    pytest.param(add_reference(column_map={"x": 1}), id="reference-column_map-number"),
    pytest.param(add_reference(expected=EXPECTED, bogus=1), id="reference-unknown-field"),
    pytest.param(add(reference="default.tiny_input@cm"), id="reference-string"),
    pytest.param(add(reference=[]), id="reference-array"),
    pytest.param(add(unknown=1), id="unknown-field"),
    pytest.param(add(every="30m"), id="misspelt-field"),
    pytest.param(add_raw(b""), id="body-empty"),
    pytest.param(add_raw(b"null"), id="body-null"),
    pytest.param(add_raw(b"[]"), id="body-array"),
    pytest.param(add_raw(b'"monitor"'), id="body-string"),
    pytest.param(add_raw(b'{"deployment_crn": '), id="body-truncated"),
    pytest.param(add_raw(b"\xff\xfe{}"), id="body-not-utf8"),
    pytest.param(add_raw(b"<monitor/>"), id="body-xml"),
    pytest.param(add_raw(nested(100_000).encode()), id="body-nested-100000"),
    pytest.param(add_raw(b'{"every_ms": "\\ud800"}'), id="body-lone-surrogate"),
]


@pytest.mark.parametrize("send", ADD_CASES)
def test_a_hostile_monitor_is_refused(world: World, caplog: pytest.LogCaptureFixture, send: Send) -> None:
    refused(world, caplog, send, 400, "invalid_input")


def windows(query: str, crn: str | None = None) -> Send:
    return lambda w: w.client.get(f"{MONITORS}/{crn or w.monitored}/windows?{query}", headers=ADMIN)


def run(body: Any = None, *, text: str | None = None, crn: str | None = None) -> Send:
    def send(w: World) -> Any:
        path = f"{MONITORS}/{crn or w.monitored}/run"
        if text is not None:
            return w.client.post(path, content=text.encode(), headers={**ADMIN, **JSON})
        return w.client.post(path, json=body, headers=ADMIN)

    return send


READ_AND_RUN_CASES = [
    pytest.param(windows(f"start_ms={10**30}"), id="windows-start_ms-10**30"),
    pytest.param(windows(f"start_ms={2**63}"), id="windows-start_ms-2**63"),
    pytest.param(windows(f"end_ms={10**30}"), id="windows-end_ms-10**30"),
    pytest.param(windows(f"start_ms={MAX_MS}&end_ms={MAX_MS + 1}"), id="windows-end_ms-over-bigint"),
    pytest.param(windows("start_ms=-1"), id="windows-start_ms-negative"),
    pytest.param(windows("start_ms=yesterday"), id="windows-start_ms-string"),
    pytest.param(windows("start_ms=1e3"), id="windows-start_ms-exponent"),
    pytest.param(windows("start_ms=NaN"), id="windows-start_ms-NaN"),
    pytest.param(windows("start_ms="), id="windows-start_ms-empty"),
    pytest.param(windows("start_ms=%00"), id="windows-start_ms-NUL"),
    pytest.param(windows("start_ms=10&end_ms=10"), id="windows-empty-range"),
    pytest.param(windows("start_ms=10&end_ms=5"), id="windows-reversed-range"),
    pytest.param(windows("limit=0"), id="windows-limit-zero"),
    pytest.param(windows("limit=-1"), id="windows-limit-negative"),
    pytest.param(windows("limit=10001"), id="windows-limit-10001"),
    pytest.param(windows(f"limit={10**30}"), id="windows-limit-10**30"),
    pytest.param(windows("limit=many"), id="windows-limit-string"),
    pytest.param(windows("", crn="a%00b"), id="windows-crn-NUL"),
    pytest.param(windows("", crn="c" * 5000), id="windows-crn-5000-chars"),
    pytest.param(run({"start_ms": 0, "end_ms": 10**30}), id="run-end_ms-10**30"),
    pytest.param(run({"start_ms": 10**30, "end_ms": 10**31}), id="run-both-past-bigint"),
    pytest.param(run({"start_ms": 0, "end_ms": 2**63}), id="run-end_ms-2**63"),
    pytest.param(run({"start_ms": 0, "end_ms": 2**62}), id="run-window-of-146-million-years"),
    pytest.param(run({"start_ms": 0, "end_ms": MAX_WINDOW_MS + 1}), id="run-window-over-366-days"),
    pytest.param(run({"start_ms": 5}), id="run-start_ms-only"),
    pytest.param(run({"end_ms": 5}), id="run-end_ms-only"),
    pytest.param(run({"start_ms": 10, "end_ms": 5}), id="run-reversed"),
    pytest.param(run({"start_ms": 10, "end_ms": 10}), id="run-empty"),
    pytest.param(run({"start_ms": -60_000, "end_ms": 5}), id="run-start_ms-negative"),
    pytest.param(run({"start_ms": 1.5, "end_ms": 3}), id="run-start_ms-fraction"),
    pytest.param(run({"start_ms": "now", "end_ms": 3}), id="run-start_ms-string"),
    pytest.param(run({"start_ms": [0], "end_ms": 3}), id="run-start_ms-array"),
    pytest.param(run(text='{"start_ms": 0, "end_ms": NaN}'), id="run-end_ms-NaN"),
    pytest.param(run(text='{"start_ms": 0, "end_ms": Infinity}'), id="run-end_ms-Infinity"),
    pytest.param(run(text="[0, 60000]"), id="run-body-array"),
    pytest.param(run(text='"0..60000"'), id="run-body-string"),
    pytest.param(run(text='{"start_ms": 0,'), id="run-body-truncated"),
    pytest.param(run(text=nested(100_000)), id="run-body-nested-100000"),
    pytest.param(run(None, crn="a%00b"), id="run-crn-NUL"),
    pytest.param(run(None, crn="not-a-crn"), id="run-crn-malformed"),
    pytest.param(lambda w: w.client.get(f"{MONITORS}/a%00b", headers=ADMIN), id="get-crn-NUL"),
    pytest.param(lambda w: w.client.get(f"{MONITORS}/" + "c" * 5000, headers=ADMIN), id="get-crn-5000-chars"),
    pytest.param(lambda w: w.client.get(f"{MONITORS}/%1b%5b2J", headers=ADMIN), id="get-crn-escape-sequence"),
    pytest.param(lambda w: w.client.get(f"{MONITORS}/..%2F..%2Fetc%2Fpasswd", headers=ADMIN),
                 id="get-crn-path-traversal"),
    pytest.param(lambda w: w.client.delete(f"{MONITORS}/a%00b", headers=ADMIN), id="delete-crn-NUL"),
    pytest.param(lambda w: w.client.delete(f"{MONITORS}/" + "c" * 5000, headers=ADMIN), id="delete-crn-5000-chars"),
    pytest.param(lambda w: w.client.delete(f"{MONITORS}/crn:x", headers=ADMIN), id="delete-crn-malformed"),
]


@pytest.mark.parametrize("send", READ_AND_RUN_CASES)
def test_a_hostile_read_or_run_is_refused(world: World, caplog: pytest.LogCaptureFixture, send: Send) -> None:
    refused(world, caplog, send, 400, "invalid_input")


NOT_FOUND_CASES = [
    pytest.param(add(deployment_crn=UNKNOWN_CRN), id="add-unknown-crn"),
    pytest.param(add(deployment_crn="/00000000-0000-4000-8000-000000000000"), id="add-unknown-bare-id"),
    pytest.param(lambda w: w.client.get(f"{MONITORS}/{UNKNOWN_CRN}", headers=ADMIN), id="get-unknown-crn"),
    pytest.param(lambda w: w.client.get(f"{MONITORS}/{w.free}", headers=ADMIN), id="get-unmonitored"),
    pytest.param(lambda w: w.client.delete(f"{MONITORS}/{UNKNOWN_CRN}", headers=ADMIN), id="delete-unknown-crn"),
    pytest.param(lambda w: w.client.delete(f"{MONITORS}/{w.free}", headers=ADMIN), id="delete-unmonitored"),
    pytest.param(windows("", crn=UNKNOWN_CRN), id="windows-unknown-crn"),
    pytest.param(lambda w: w.client.get(f"{MONITORS}/{w.free}/windows", headers=ADMIN), id="windows-unmonitored"),
    pytest.param(run({"start_ms": 0, "end_ms": 60_000}, crn=UNKNOWN_CRN), id="run-unknown-crn"),
    pytest.param(lambda w: run({"start_ms": 0, "end_ms": 60_000}, crn=w.free)(w), id="run-unmonitored"),
]


@pytest.mark.parametrize("send", NOT_FOUND_CASES)
def test_an_unknown_target_is_404(world: World, caplog: pytest.LogCaptureFixture, send: Send) -> None:
    refused(world, caplog, send, 404, "not_found")


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no-credential"),
    pytest.param({"Authorization": "Bearer wrong-key-0123456789"}, id="wrong-key"),
    pytest.param({"Authorization": f"Basic {ADMIN_KEY}"}, id="wrong-scheme"),
    pytest.param({"Authorization": "Bearer "}, id="empty-key"),
    pytest.param({"Authorization": "Bearer " + "k" * 8000}, id="8000-character-key"),
    pytest.param({"Authorization": f"Bearer {ADMIN_KEY}\u00e9"}, id="key-with-non-ascii"),
])
def test_adding_without_a_valid_credential_is_refused(world: World, caplog: pytest.LogCaptureFixture,
                                                      headers: dict[str, str]) -> None:
    def send(w: World) -> Any:
        # as bytes: a client library would refuse to send a header that is not ASCII
        return w.client.post(MONITORS, json=w.add_body(), headers={k.encode(): v.encode() for k, v in headers.items()})

    # no credential is 401; one that is not a valid key, 401 or 403 (the platform's auth says which)
    allowed = {401: "unauthorized"} if not headers else {401: "unauthorized", 403: "forbidden"}
    refused(world, caplog, send, allowed)


def test_adding_a_second_monitor_is_409(world: World, caplog: pytest.LogCaptureFixture) -> None:
    refused(world, caplog, add(deployment_crn=world.monitored), 409, "conflict")


def test_running_a_computed_window_again_is_409(world: World, caplog: pytest.LogCaptureFixture) -> None:
    refused(world, caplog, run({"start_ms": world.window[0], "end_ms": world.window[1]}), 409, "conflict")


def test_the_body_the_cases_change_is_accepted(world: World) -> None:
    """Each refused POST differs from this body in one field only; this one adds a monitor (removed again)."""
    r = add()(world)
    assert r.status_code == 201, r.text
    assert json_of(world.client.get(f"{MONITORS}/{world.free}/windows", headers=ADMIN)) == []
    r = world.client.delete(f"{MONITORS}/{world.free}", headers=ADMIN)
    assert r.status_code == 200, r.text


def test_the_bounds_are_inclusive(world: World) -> None:
    """The largest values the routes take are answered, not refused."""
    r = world.client.get(f"{MONITORS}/{world.monitored}/windows", params={"start_ms": 0, "end_ms": MAX_MS,
                                                                          "limit": 10_000}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert [(x["start_ms"], x["end_ms"]) for x in json_of(r)] == [world.window]


# -- the checks every case makes -----------------------------------------------------------------------------


def refused(w: World, caplog: pytest.LogCaptureFixture, send: Send, status: int | dict[int, str],
            code: str | None = None) -> dict[str, Any]:
    """Send the request; it must be answered ``status`` in mlcatalog's shape with ``code`` (or one of the
    ``status: code`` pairs), naming no server path, logging at most one line, and writing nothing."""
    allowed = status if isinstance(status, dict) else {status: code}
    before = w.state()
    caplog.clear()
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    try:
        r = send(w)
        assert r.status_code in allowed, (r.status_code, r.text[:1000])
        body = assert_refusal_body(r, str(allowed[r.status_code]), w.server_paths(), caplog)
        assert time.monotonic() - started < 30
        assert w.state() == before
    finally:
        # a monitor added by a case that should have been refused would make every later case a 409
        if w.state()["monitor"] != before["monitor"]:
            w.client.delete(f"{MONITORS}/{w.free}", headers=ADMIN)
    return dict(body)
