"""Hostile input to the model gateway (``POST /model``, serving/platform/gateway.py) in the app ``mlcatalog up``
assembles (tests/inprocess.py), in front of a real replica.

Every case is answered with a 4xx in CML's body ``{success: false, code, message}`` (never mlcatalog's or Atlas's),
names no server path, logs nothing, and reaches no replica: no prediction record, no traffic recorded. A request
refused once its deployment is known (its access key routes it) is counted in the gateway's Prometheus counters for
that deployment; one refused before (not JSON, no access key) has no deployment to be counted for.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from serving.platform.gateway import MAX_BODY, MAX_NESTING
from tests.inprocess import ADMIN_KEY, platform_app
from tests.servers import wait_until
from tests.serving.conftest import make_project

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
MODEL = "Echo"
MODEL_PY = '''
import cdsw


@cdsw.model_metrics
def predict(args):
    return {"echo": args}
'''
CML_ERROR_KEYS = {"success", "code", "message"}


@dataclass
class Gateway:
    client: TestClient
    store: Path
    crn: str
    access_key: str

    def post(self, content: bytes, headers: dict[str, str] | None = None) -> Any:
        return self.client.post("/model", content=content, headers={**ADMIN, **(headers or {})})

    def call(self, request_json: str, headers: dict[str, str] | None = None) -> Any:
        """A call with this deployment's access key and ``request_json`` as written."""
        return self.post(f'{{"accessKey": "{self.access_key}", "request": {request_json}}}'.encode(), headers)

    def counters(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = self.client.get("/metrics").text  # _created: when a label set was first seen, not a count
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in text_string_to_metric_families(text)
                for s in family.samples if s.name.startswith("mlcatalog_model_") and not s.name.endswith("_created")}

    def state(self) -> dict[str, Any]:
        """What a request reaching the deployment leaves behind: its prediction record, its traffic."""
        with closing(sqlite3.connect(f"file:{self.store / 'metrics.db'}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT count(*) FROM metric_record").fetchone()[0]
        traffic = self.client.get(f"/api/v1/serving/deployments/{self.crn}/traffic", headers=ADMIN).json()
        return {"predictions": rows, "requests": traffic["requests"], "errors": traffic["errors"]}

    def server_paths(self) -> list[str]:
        return [str(self.store), sys.executable, sys.prefix, os.getcwd(), str(Path(__file__).resolve().parents[2])]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    project = make_project(tmp_path_factory.mktemp("gw-project") / "echo", {"model.py": MODEL_PY}, [MODEL])
    store = tmp_path_factory.mktemp("gw-hostile") / "store"
    with platform_app(store, {"MLCATALOG_MONITORING": "false"}) as client:
        r = client.post("/api/v1/serving/deployments", headers=ADMIN, json={
            "project_dir": str(project), "model": MODEL, "file": "model.py", "function": "predict"})
        assert r.status_code == 200, r.text
        g = Gateway(client, store, r.json()["crn"], r.json()["accessKey"])
        assert g.call('{"x": 1}').status_code == 200
        assert g.call(nested(MAX_NESTING - 10)).status_code == 200  # deep, but within what reaches a replica
        wait_until(lambda: g.state()["predictions"] == 2, 15, what="the prediction records")
        yield g
        client.post(f"/api/v1/serving/stop/{g.crn}", headers=ADMIN)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def chunked(total: int) -> Iterator[bytes]:
    """A body of ``total`` bytes without a Content-Length."""
    sent = 0
    while sent < total:
        yield b" " * 65536
        sent += 65536


Send = Callable[[Gateway], Any]

# Refused before routing: no deployment to count them for.
UNROUTED = [
    pytest.param(lambda g: g.post(b""), "bad_json", id="body-empty"),
    pytest.param(lambda g: g.post(b"null"), "bad_request", id="body-null"),
    pytest.param(lambda g: g.post(b"[]"), "bad_request", id="body-array"),
    pytest.param(lambda g: g.post(b'"accessKey"'), "bad_request", id="body-string"),
    pytest.param(lambda g: g.post(b"1"), "bad_request", id="body-number"),
    pytest.param(lambda g: g.post(b"{}"), "bad_request", id="body-empty-object"),
    pytest.param(lambda g: g.post(b"\xff\xfe{}"), "bad_json", id="body-not-utf8"),
    pytest.param(lambda g: g.post(b'\xef\xbb\xbf{"accessKey": "k", "request": {}}'), "bad_json", id="body-BOM"),
    pytest.param(lambda g: g.post(b'{"accessKey": "'), "bad_json", id="body-truncated"),
    pytest.param(lambda g: g.post(b'{"accessKey": "k", "request": {}} trailing'), "bad_json", id="body-trailing"),
    pytest.param(lambda g: g.post(b"accessKey=k&request=1"), "bad_json", id="body-form-encoded"),
    pytest.param(lambda g: g.call("NaN"), "bad_json", id="request-NaN"),
    pytest.param(lambda g: g.call("-Infinity"), "bad_json", id="request-minus-Infinity"),
    pytest.param(lambda g: g.call('"\\ud800"'), "bad_json", id="request-lone-surrogate"),
    pytest.param(lambda g: g.call(nested(1024)), "bad_json", id="request-nested-1024"),
    pytest.param(lambda g: g.call(nested(100_000)), "bad_json", id="request-nested-100000"),
    pytest.param(lambda g: g.post(b'{"accessKey": 1, "request": {}}'), "bad_request", id="accessKey-number"),
    pytest.param(lambda g: g.post(b'{"accessKey": null, "request": {}}'), "bad_request", id="accessKey-null"),
    pytest.param(lambda g: g.post(b'{"accessKey": ["k"], "request": {}}'), "bad_request", id="accessKey-array"),
    pytest.param(lambda g: g.post(b'{"accessKey": {"k": 1}, "request": {}}'), "bad_request", id="accessKey-object"),
    pytest.param(lambda g: g.post(f'{{"accessKey": "{g.access_key}"}}'.encode()), "bad_request",
                 id="request-missing"),
    pytest.param(lambda g: g.post(b'{"request": {}}'), "bad_request", id="accessKey-missing"),
]


@pytest.mark.parametrize(("send", "code"), UNROUTED)
def test_malformed_calls_are_400(gw: Gateway, caplog: pytest.LogCaptureFixture, send: Send, code: str) -> None:
    refused(gw, caplog, send, 400, code, counted=None)


@pytest.mark.parametrize("send", [
    pytest.param(lambda g: g.post(b'{"accessKey": "nope", "request": {}}'), id="unknown"),
    pytest.param(lambda g: g.post(b'{"accessKey": "' + b"k" * (1024 * 1024) + b'", "request": {}}'), id="1MB"),
    pytest.param(lambda g: g.post(f'{{"accessKey": "{g.access_key}\\u0000", "request": {{}}}}'.encode()),
                 id="NUL-after-the-key"),
    pytest.param(lambda g: g.post(b'{"accessKey": "\\u001b[2J", "request": {}}'), id="escape-sequence"),
    pytest.param(lambda g: g.post(f'{{"accessKey": " {g.access_key} ", "request": {{}}}}'.encode()),
                 id="padded-with-spaces"),
])
def test_access_keys_that_route_nowhere_are_404(gw: Gateway, caplog: pytest.LogCaptureFixture, send: Send) -> None:
    refused(gw, caplog, send, 404, "unknown_access_key", counted=None)


@pytest.mark.parametrize("send", [
    pytest.param(lambda g: g.call(nested(MAX_NESTING + 1)), id="lists-255"),
    pytest.param(lambda g: g.call(nested(300)), id="lists-300"),
    pytest.param(lambda g: g.call(nested(1023)), id="lists-1023"),
    pytest.param(lambda g: g.call(nested_objects(600)), id="objects-600"),
    pytest.param(lambda g: g.call('{"a": [' + nested_objects(400) + "]}"), id="objects-and-lists-402"),
    pytest.param(lambda g: g.call("[" + ", ".join([nested(10)] * 100 + [nested(260)]) + "]"), id="one-deep-branch"),
])
def test_a_request_nested_too_deep_is_400_and_counted(gw: Gateway, caplog: pytest.LogCaptureFixture,
                                                      send: Send) -> None:
    body = refused(gw, caplog, send, 400, "bad_request", counted="400")
    assert body["message"] == f"the request is nested more than {MAX_NESTING} lists/objects deep"


@pytest.mark.parametrize(("send", "status", "code"), [
    pytest.param(lambda g: g.call("{}", {"Authorization": ""}), 401, "unauthorized", id="no-key"),
    pytest.param(lambda g: g.call("{}", {"Authorization": "Basic YWRtaW46YWRtaW4="}), 401, "unauthorized",
                 id="basic-auth"),
    pytest.param(lambda g: g.call("{}", {"Authorization": "Bearer " + "k" * 100_000}), 403, "forbidden",
                 id="key-100KB"),
    pytest.param(lambda g: g.call("{}", {"Authorization": "Bearer mlk_zz_not-a-key"}), 403, "forbidden",
                 id="key-malformed"),
    pytest.param(lambda g: g.call(nested(300), {"Authorization": ""}), 401, "unauthorized",
                 id="no-key-and-too-deep"),
])
def test_calls_without_a_valid_key_are_refused_and_counted(gw: Gateway, caplog: pytest.LogCaptureFixture, send: Send,
                                                           status: int, code: str) -> None:
    refused(gw, caplog, send, status, code, counted=str(status))


@pytest.mark.parametrize("send", [
    pytest.param(lambda g: g.call('"' + "x" * (MAX_BODY + 1) + '"'), id="declared"),
    pytest.param(lambda g: g.client.post("/model", content=chunked(MAX_BODY + 65536), headers=ADMIN),
                 id="chunked"),
    pytest.param(lambda g: g.post(b"{}", {"content-length": "9" * 5000}), id="content-length-5000-digits"),
    pytest.param(lambda g: g.post(b"{}", {"content-length": str(2**64)}), id="content-length-2**64"),
])
def test_a_body_over_the_limit_is_413(gw: Gateway, caplog: pytest.LogCaptureFixture, send: Send) -> None:
    body = refused(gw, caplog, send, 413, "too_large", counted=None)
    assert body["message"] == f"request body over {MAX_BODY // (1024 * 1024)} MB"


def test_the_deployment_still_answers(gw: Gateway) -> None:
    r = gw.call('{"after": "all that"}')
    assert r.status_code == 200, r.text
    assert r.json()["response"]["prediction"] == {"echo": {"after": "all that"}}


def refused(g: Gateway, caplog: pytest.LogCaptureFixture, send: Send, status: int, code: str,
            counted: str | None) -> dict[str, Any]:
    """Send; the answer must be ``status`` in CML's shape with ``code``; nothing may reach the replica, nothing be
    logged; the deployment's request counter for ``counted`` goes up by one (no counter moves when None)."""
    before, counters = g.state(), g.counters()
    caplog.clear()
    caplog.set_level(logging.INFO)
    r = send(g)
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == CML_ERROR_KEYS and body["success"] is False and body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"] and len(r.content) < 1024
    for path in g.server_paths():
        assert path not in r.text
    assert [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING] == []
    assert g.state() == before
    expected = dict(counters)
    if counted is not None:
        key = ("mlcatalog_model_requests_total", (("code", counted), ("deployment", g.crn)))
        expected[key] = expected.get(key, 0.0) + 1
    assert g.counters() == expected
    return dict(body)
