"""Hostile input to mlcatalog's own API, as ``mlcatalog up`` assembles it (tests/inprocess.py): the catalog API
(``/api/v1`` builds, deployments, drift, reads), the serving admin API (``/api/v1/serving``) and the metrics API
(``/api/v1/metrics``).

Every case is a request a hostile or broken client may send: wrong JSON types for each field, numbers past what
the stores hold (SQLite and PostgreSQL integers, Atlas's 32-bit ``int``), NaN, deep nesting, NUL and other control
characters, lone surrogates, 1 MB strings, bodies that are not UTF-8, not JSON, empty, or an array where an object
belongs, unknown fields where they are refused, bodies over the limit. Each must be answered with a 4xx in
mlcatalog's body ``{code, message, problems}``, naming none of the server's paths, logging at most one line, and
change nothing: no deployment, outbox entry, API key, catalog entity or metric written.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastapi
import pytest
from starlette.testclient import TestClient

from tests.inprocess import ADMIN_KEY, PLATFORM_ERROR_KEYS, assert_refusal_body, json_of, platform_app
from tests.servers import wait_until
from tests.serving.conftest import ECHO_MODEL_PY as MODEL_PY
from tests.serving.conftest import make_project

TOKEN = "hostile-input-token"
WRITE = {"Authorization": f"Bearer {TOKEN}"}  # catalog writes
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}  # serving and metrics
JSON = {"content-type": "application/json"}
MODEL = "Echo"
# Fails when a replica imports it, after every check a deploy makes before it starts replicas.
BROKEN_PY = "open('/srv/models/weights.bin')\n\n\ndef predict(args):\n    return 1\n"
MB = 1024 * 1024
ONE_MB = "x" * MB


@dataclass
class World:
    client: TestClient
    store: Path
    project: Path
    build: dict[str, Any]  # as POST /api/v1/builds answered it
    crn: str  # the served deployment (also recorded in the catalog by the outbox)
    access_key: str
    prediction_uuid: str

    @property
    def scope(self) -> str:
        return self.crn.rsplit("/", 1)[0]

    def new_crn(self) -> str:
        return f"{self.scope}/{uuid.uuid4()}"

    def deployment_body(self, crn: str) -> dict[str, Any]:
        b = self.build
        return {"crn": crn, "build_crn": b["build_crn"], "model_crn": b["model_crn"], "model_name": MODEL,
                "name": "hostile", "status": "deployed", "create_time_ms": 1_700_000_000_000,
                "deployed_time_ms": 1_700_000_060_000, "cpu_millicores": 500, "memory_mb": 2048, "replicas": 1,
                "endpoint_url": "http://serving.local/model", "metadata": {"team": "ml"}}

    def drift_body(self) -> dict[str, Any]:
        return {"crn": self.crn, "status": "drifting", "columns": ["input"], "checked_time_ms": 1_700_000_000_000,
                "window_start_ms": 1_699_999_000_000, "window_end_ms": 1_700_000_000_000}

    def deploy_body(self) -> dict[str, Any]:
        return {"project_dir": str(self.project), "model": MODEL, "file": "model.py", "function": "predict"}

    def aggregate_body(self) -> dict[str, Any]:
        return {"metrics": {"accuracy": 0.9}, "start_timestamp_ms": 1_700_000_000_000,
                "end_timestamp_ms": 1_700_000_060_000, "model_deployment_crn": self.crn}

    def delayed_body(self) -> dict[str, Any]:
        return {"metrics": {"actual_result": "x"}, "prediction_uuid": self.prediction_uuid}

    def server_paths(self) -> list[str]:
        """Paths of the server's own that no answer may name (the store, the interpreter, the code, its cwd)."""
        return [str(self.store), str(self.store.resolve()), sys.executable, sys.prefix, sys.base_prefix,
                os.getcwd(), str(Path(fastapi.__file__).parents[1]), str(Path(__file__).resolve().parents[2])]

    def state(self) -> dict[str, Any]:
        """Everything a request could write: the platform's tables, the metrics store's rows, the catalog."""
        with closing(sqlite3.connect(f"file:{self.store / 'platform.db'}?mode=ro", uri=True)) as db:
            platform = {
                "deployment": db.execute("SELECT crn, name, status, replicas, memory_mb FROM deployment "
                                         "ORDER BY crn").fetchall(),
                "outbox": db.execute("SELECT seq, kind FROM outbox ORDER BY seq").fetchall(),
                "api_key": db.execute("SELECT key_id, name, revoked_ms FROM api_key ORDER BY key_id").fetchall(),
            }
        with closing(sqlite3.connect(f"file:{self.store / 'metrics.db'}?mode=ro", uri=True)) as db:
            metrics = db.execute("SELECT * FROM metric_record ORDER BY 1").fetchall()
        catalog = {path: sorted(str(sorted(x.items())) for x in json_of(self.client.get(f"/api/v1/{path}")))
                   for path in ("projects", "models", "builds", "deployments")}
        return {**platform, "metrics": metrics, **catalog}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    project = make_project(tmp_path_factory.mktemp("hostile-project") / "echo",
                           {"model.py": MODEL_PY, "broken.py": BROKEN_PY}, [MODEL])
    store = tmp_path_factory.mktemp("hostile") / "store"
    with platform_app(store, {"MLCATALOG_API_TOKEN": TOKEN, "MLCATALOG_MONITORING": "false"}) as client:
        r = client.post("/api/v1/builds", json={"project_dir": str(project)}, headers=WRITE)
        assert r.status_code == 200, r.text
        (build,) = json_of(r)["builds"]
        r = client.post("/api/v1/serving/deployments", json={"project_dir": str(project), "model": MODEL,
                                                             "file": "model.py", "function": "predict"},
                        headers=ADMIN)
        assert r.status_code == 200, r.text
        deployed = json_of(r)
        r = client.post("/model", json={"accessKey": deployed["accessKey"], "request": {"x": 1}}, headers=ADMIN)
        assert r.status_code == 200, r.text
        w = World(client, store, project, build, deployed["crn"], deployed["accessKey"], r.json()["response"]["uuid"])

        def settled() -> bool:  # the outbox delivered, the prediction's record written: nothing moves any more
            pending = json_of(client.get("/api/v1/serving/outbox", headers=ADMIN))
            rows = json_of(client.get("/api/v1/metrics", params={"model_deployment_crn": w.crn}, headers=ADMIN))
            return not pending and len(rows["metrics"]) == 1

        wait_until(settled, 30, what="the outbox and the metrics store to settle")
        yield w
        client.post(f"/api/v1/serving/stop/{w.crn}", headers=ADMIN)


Send = Callable[[World], Any]


def raw(method: str, path: str, content: bytes, headers: dict[str, str]) -> Send:
    return lambda w: w.client.request(method, path.format(w=w), content=content, headers={**headers, **JSON})


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


# -- the catalog API: PUT /api/v1/deployments/{crn} ---------------------------------------------------------


def put_deployment(**change: Any) -> Send:
    def send(w: World) -> Any:
        crn = w.new_crn()
        return w.client.put(f"/api/v1/deployments/{crn}", json={**w.deployment_body(crn), **change}, headers=WRITE)

    return send


def put_deployment_text(field: str, json_text: str) -> Send:
    """The deployment body with ``field`` set to ``json_text`` as written (NaN, lone surrogates, deep nesting)."""

    def send(w: World) -> Any:
        import json

        crn = w.new_crn()
        body = {k: v for k, v in w.deployment_body(crn).items() if k != field}
        text = json.dumps(body)[:-1] + f', "{field}": {json_text}}}'
        return w.client.put(f"/api/v1/deployments/{crn}", content=text.encode(), headers={**WRITE, **JSON})

    return send


def without(field: str) -> Send:
    def send(w: World) -> Any:
        crn = w.new_crn()
        body = {k: v for k, v in w.deployment_body(crn).items() if k != field}
        return w.client.put(f"/api/v1/deployments/{crn}", json=body, headers=WRITE)

    return send


DEPLOYMENT_RECORD_CASES = [
    pytest.param(put_deployment(create_time_ms=10**30), id="create_time_ms-10**30"),
    pytest.param(put_deployment(create_time_ms=2**63), id="create_time_ms-2**63"),
    pytest.param(put_deployment(create_time_ms=-1), id="create_time_ms-negative"),
    pytest.param(put_deployment(create_time_ms=1.5), id="create_time_ms-fraction"),
    pytest.param(put_deployment(create_time_ms="yesterday"), id="create_time_ms-string"),
    pytest.param(put_deployment(create_time_ms=[1]), id="create_time_ms-array"),
    pytest.param(put_deployment_text("create_time_ms", "NaN"), id="create_time_ms-NaN"),
    pytest.param(put_deployment_text("create_time_ms", "Infinity"), id="create_time_ms-Infinity"),
    pytest.param(put_deployment(deployed_time_ms=10**30), id="deployed_time_ms-10**30"),
    pytest.param(put_deployment(cpu_millicores=2**31), id="cpu_millicores-over-atlas-int"),
    pytest.param(put_deployment(cpu_millicores=-1), id="cpu_millicores-negative"),
    pytest.param(put_deployment(memory_mb=10**30), id="memory_mb-10**30"),
    pytest.param(put_deployment(gpus=-1), id="gpus-negative"),
    pytest.param(put_deployment(gpus=10**20), id="gpus-10**20"),
    pytest.param(put_deployment(replicas="two"), id="replicas-string"),
    pytest.param(put_deployment(replicas={"n": 2}), id="replicas-object"),
    pytest.param(put_deployment(status="exploded"), id="status-unknown"),
    pytest.param(put_deployment(status=None), id="status-null"),
    pytest.param(put_deployment(name=""), id="name-empty"),
    pytest.param(put_deployment(name=ONE_MB), id="name-1MB"),
    pytest.param(put_deployment(name="a\x00b"), id="name-NUL"),
    pytest.param(put_deployment(name="a\x1b[31mred"), id="name-escape-sequence"),
    pytest.param(put_deployment_text("name", '"a\\ud800b"'), id="name-lone-surrogate"),
    pytest.param(put_deployment(name=["hostile"]), id="name-array"),
    pytest.param(put_deployment(model_name=7), id="model_name-number"),
    pytest.param(put_deployment(build_crn="crn\x00"), id="build_crn-NUL"),
    pytest.param(put_deployment(model_crn="c" * 2000), id="model_crn-too-long"),
    pytest.param(put_deployment(endpoint_url="http://x/\r\nSet-Cookie: a=b"), id="endpoint_url-CRLF"),
    pytest.param(put_deployment(user=None), id="user-null"),
    pytest.param(put_deployment(metadata=["team", "ml"]), id="metadata-array"),
    pytest.param(put_deployment(metadata="team=ml"), id="metadata-string"),
    pytest.param(put_deployment(metadata={"team": 1}), id="metadata-value-number"),
    pytest.param(put_deployment(metadata={"team": {"a": "b"}}), id="metadata-value-object"),
    pytest.param(put_deployment(metadata={"team": "a\x00b"}), id="metadata-value-NUL"),
    pytest.param(put_deployment(metadata={"a\x07": "b"}), id="metadata-key-BEL"),
    pytest.param(put_deployment(metadata={"k" * 300: "v"}), id="metadata-key-300-chars"),
    pytest.param(put_deployment(metadata={"team": ONE_MB}), id="metadata-value-1MB"),
    pytest.param(put_deployment(metadata={f"k{i}": "v" for i in range(101)}), id="metadata-101-entries"),
    pytest.param(put_deployment_text("metadata", '{"\\ud800": "v"}'), id="metadata-key-lone-surrogate"),
    pytest.param(put_deployment_text("metadata", nested_objects(900)), id="metadata-nested-900"),
    pytest.param(put_deployment_text("metadata", nested(100_000)), id="metadata-nested-100000"),
    pytest.param(without("crn"), id="crn-missing"),
    pytest.param(without("cpu_millicores"), id="cpu_millicores-missing"),
    pytest.param(lambda w: w.client.put(f"/api/v1/deployments/{w.new_crn()}",
                                        json=w.deployment_body(w.new_crn()), headers=WRITE), id="crn-mismatch"),
    pytest.param(raw("PUT", "/api/v1/deployments/{w.crn}", b"", WRITE), id="body-empty"),
    pytest.param(raw("PUT", "/api/v1/deployments/{w.crn}", b"null", WRITE), id="body-null"),
    pytest.param(raw("PUT", "/api/v1/deployments/{w.crn}", b"[]", WRITE), id="body-array"),
    pytest.param(raw("PUT", "/api/v1/deployments/{w.crn}", b'"crn"', WRITE), id="body-string"),
    pytest.param(raw("PUT", "/api/v1/deployments/{w.crn}", b'{"crn": ', WRITE), id="body-truncated"),
    pytest.param(raw("PUT", "/api/v1/deployments/{w.crn}", b'\xff\xfe{"crn": 1}', WRITE), id="body-not-utf8"),
    pytest.param(raw("PUT", "/api/v1/deployments/{w.crn}", b"\xc3\x28" * 100, WRITE), id="body-bad-utf8"),
    pytest.param(raw("PUT", "/api/v1/deployments/{w.crn}", nested(100_000).encode(), WRITE),
                 id="body-nested-100000"),
    pytest.param(raw("PUT", "/api/v1/deployments/{w.crn}", b"<deployment/>", WRITE), id="body-xml"),
    pytest.param(lambda w: w.client.put("/api/v1/deployments/a%00b", json={"crn": "a\x00b"}, headers=WRITE),
                 id="path-NUL"),
    pytest.param(lambda w: w.client.put("/api/v1/deployments/" + "c" * 3000, json={"crn": "c" * 3000},
                                        headers=WRITE), id="path-3000-chars"),
]


@pytest.mark.parametrize("send", DEPLOYMENT_RECORD_CASES)
def test_a_hostile_deployment_record_is_refused(world: World, caplog: pytest.LogCaptureFixture, send: Send) -> None:
    refused(world, caplog, send, 400, "invalid_input")


# -- the catalog API: drift, builds ----------------------------------------------------------------------


def put_drift(**change: Any) -> Send:
    return lambda w: w.client.put(f"/api/v1/deployments/{w.crn}/drift", json={**w.drift_body(), **change},
                                  headers=WRITE)


def post_build(body: dict[str, Any] | list[Any] | str | None, **change: Any) -> Send:
    def send(w: World) -> Any:
        payload = {"project_dir": str(w.project), **change} if body is None else body
        return w.client.post("/api/v1/builds", json=payload, headers=WRITE)

    return send


CATALOG_WRITE_CASES = [
    pytest.param(put_drift(checked_time_ms=10**30), id="drift-checked_time_ms-10**30"),
    pytest.param(put_drift(window_start_ms=-5), id="drift-window_start_ms-negative"),
    pytest.param(put_drift(window_end_ms=1), id="drift-window-reversed"),
    pytest.param(put_drift(status="on-fire"), id="drift-status-unknown"),
    pytest.param(put_drift(columns="input"), id="drift-columns-string"),
    pytest.param(put_drift(columns=[1, 2]), id="drift-columns-numbers"),
    pytest.param(put_drift(columns=["in\x00put"]), id="drift-column-NUL"),
    pytest.param(put_drift(columns=[f"c{i}" for i in range(10_001)]), id="drift-10001-columns"),
    pytest.param(put_drift(columns=[ONE_MB]), id="drift-column-1MB"),
    pytest.param(put_drift(columns=["\x00"] * 10_000), id="drift-10000-bad-columns"),
    pytest.param(put_drift(crn=None), id="drift-crn-null"),
    pytest.param(post_build(None, project_dir="/tmp/x\x00y"), id="build-project_dir-NUL"),
    pytest.param(post_build(None, project_dir=42), id="build-project_dir-number"),
    pytest.param(post_build(None, project_dir="/" + "p" * 5000), id="build-project_dir-5000-chars"),
    pytest.param(post_build(None, models=MODEL), id="build-models-string"),
    pytest.param(post_build(None, models=[1]), id="build-models-number"),
    pytest.param(post_build(None, models=["Ec\x00ho"]), id="build-model-NUL"),
    pytest.param(post_build(None, models=[MODEL] * 1001), id="build-1001-models"),
    pytest.param(post_build(None, commit="HEAD\x00"), id="build-commit-NUL"),
    pytest.param(post_build(None, commit="a" * 300), id="build-commit-300-chars"),
    pytest.param(post_build(None, commit="--output=/tmp/owned"), id="build-commit-git-option"),
    pytest.param(post_build(None, commit=""), id="build-commit-empty"),
    pytest.param(post_build(None, allow_unresolved="sometimes"), id="build-allow_unresolved-string"),
    pytest.param(post_build([]), id="build-body-array"),
    pytest.param(post_build("project"), id="build-body-string"),
    pytest.param(raw("POST", "/api/v1/builds", b"", WRITE), id="build-body-empty"),
    pytest.param(raw("POST", "/api/v1/builds", b"\x80\x81", WRITE), id="build-body-not-utf8"),
]


@pytest.mark.parametrize("send", CATALOG_WRITE_CASES)
def test_a_hostile_catalog_write_is_refused(world: World, caplog: pytest.LogCaptureFixture, send: Send) -> None:
    refused(world, caplog, send, 400, "invalid_input")


def post_resolved(change: Callable[[dict[str, Any]], Any]) -> Send:
    """The world's project resolved as the platform resolves a deployed build, changed, sent to be recorded."""

    def send(w: World) -> Any:
        from catalog import BuildRequest

        resolve = w.client.app.state.runtime.catalog.resolve_build  # type: ignore[attr-defined]
        body = resolve(BuildRequest(project_dir=str(w.project), models=[MODEL])).model_dump(mode="json")
        return w.client.post("/api/v1/builds/resolved", json=change(body), headers=WRITE)

    return send


RESOLVED_BUILD_CASES = [
    pytest.param(post_resolved(lambda b: {**b, "lineage_text": "x" * (MB + 1)}), id="lineage-over-1MiB"),
    pytest.param(post_resolved(lambda b: {**b, "lineage_text": b["lineage_text"] + "\x00"}), id="lineage-NUL"),
    pytest.param(post_resolved(lambda b: {**b, "lineage_text": '"m":\n  hive_table_qualified_names: ["x"]\n'}),
                 id="lineage-unparseable"),
    pytest.param(post_resolved(lambda b: {**b, "commit": "HEAD"}), id="commit-HEAD"),
    pytest.param(post_resolved(lambda b: {**b, "commit": "--output=/tmp/owned"}), id="commit-git-option"),
    pytest.param(post_resolved(lambda b: {**b, "tables": {}}), id="tables-not-the-lineage-files"),
    pytest.param(post_resolved(lambda b: {**b, "tables": {f"d.t{i}@cm": {"lookup": "not_asked"}
                                                          for i in range(100_001)}}), id="tables-100001"),
    pytest.param(post_resolved(lambda b: {**b, "tables": {k: {"lookup": "described"} for k in b["tables"]}}),
                 id="table-described-without-facts"),
    pytest.param(post_resolved(lambda b: {**b, "models": [{**b["models"][0], "name": "Nope"}]}),
                 id="model-not-in-the-lineage-file"),
    pytest.param(post_resolved(lambda b: {**b, "models": [{**b["models"][0], "build_crn": "c\x00"}]}),
                 id="build_crn-NUL"),
    pytest.param(post_resolved(lambda b: {**b, "project_dir": "/srv/elsewhere"}), id="unknown-field"),
    pytest.param(post_resolved(lambda b: [b]), id="body-array"),
]


@pytest.mark.parametrize("send", RESOLVED_BUILD_CASES)
def test_a_hostile_resolved_build_is_refused(world: World, caplog: pytest.LogCaptureFixture, send: Send) -> None:
    refused(world, caplog, send, 400, "invalid_input")


CATALOG_READ_CASES = [
    pytest.param("/api/v1/projects/a%00b", id="project-crn-NUL"),
    pytest.param("/api/v1/models/" + "m" * 3000, id="model-crn-3000-chars"),
    pytest.param("/api/v1/models?project=%1b%5b2J", id="models-project-escape"),
    pytest.param("/api/v1/builds?model=%00", id="builds-model-NUL"),
    pytest.param("/api/v1/builds/x%07y/inputs", id="build-inputs-BEL"),
    pytest.param("/api/v1/deployments?classification=%00", id="deployments-classification-NUL"),
    pytest.param("/api/v1/deployments?status=" + "s" * 3000, id="deployments-status-3000-chars"),
    pytest.param("/api/v1/deployments/a%00/lineage", id="deployment-lineage-NUL"),
    pytest.param("/api/v1/impact?qualifiedName=", id="impact-empty"),
    pytest.param("/api/v1/impact?qualifiedName=t%00@cm", id="impact-NUL"),
    pytest.param("/api/v1/lineage", id="lineage-no-entity"),
    pytest.param("/api/v1/lineage?guid=%00", id="lineage-guid-NUL"),
    pytest.param("/api/v1/lineage?qualifiedName=" + "%F0%9F%94%91" * 2049, id="lineage-2049-emoji"),
    pytest.param("/api/v1/lineage?guid=g&depth=1000000000000000000000000000000", id="lineage-depth-10**30"),
    pytest.param("/api/v1/lineage?guid=g&depth=-1", id="lineage-depth-negative"),
    pytest.param("/api/v1/lineage?guid=g&depth=NaN", id="lineage-depth-NaN"),
    pytest.param("/api/v1/lineage?guid=g&direction=SIDEWAYS", id="lineage-direction-unknown"),
]


@pytest.mark.parametrize("path", CATALOG_READ_CASES)
def test_a_hostile_catalog_read_is_refused(world: World, caplog: pytest.LogCaptureFixture, path: str) -> None:
    refused(world, caplog, lambda w: w.client.get(path), 400, "invalid_input")


# -- the serving admin API ----------------------------------------------------------------------------------


def deploy(**change: Any) -> Send:
    return lambda w: w.client.post("/api/v1/serving/deployments", json={**w.deploy_body(), **change},
                                   headers=ADMIN)


def deploy_text(field: str, json_text: str) -> Send:
    def send(w: World) -> Any:
        import json

        body = {k: v for k, v in w.deploy_body().items() if k != field}
        text = json.dumps(body)[:-1] + f', "{field}": {json_text}}}'
        return w.client.post("/api/v1/serving/deployments", content=text.encode(), headers={**ADMIN, **JSON})

    return send


DEPLOY_CASES = [
    pytest.param(deploy(file="model.py\x00.txt"), id="file-NUL"),
    pytest.param(deploy(file="model\n.py"), id="file-newline"),
    pytest.param(deploy(file="f" * 2000), id="file-2000-chars"),
    pytest.param(deploy(file=""), id="file-empty"),
    pytest.param(deploy(file=["model.py"]), id="file-array"),
    pytest.param(deploy(file="missing.py"), id="file-missing"),
    pytest.param(deploy(file="../outside.py"), id="file-outside"),
    pytest.param(deploy(file="/etc/passwd"), id="file-absolute-elsewhere"),
    pytest.param(deploy(file="."), id="file-the-directory"),
    pytest.param(lambda w: w.client.post("/api/v1/serving/deployments", headers=ADMIN,
                                         json={**w.deploy_body(), "project_dir": f"{w.project}\x00"}),
                 id="project_dir-NUL"),
    pytest.param(deploy(project_dir="relative/project"), id="project_dir-relative"),
    pytest.param(deploy(project_dir="~/project"), id="project_dir-home"),
    pytest.param(deploy(project_dir="/" + "d" * 300), id="project_dir-name-too-long"),
    pytest.param(deploy(project_dir="/" + "d/" * 3000), id="project_dir-6000-chars"),
    pytest.param(deploy(project_dir="/nonexistent/project"), id="project_dir-missing"),
    pytest.param(deploy(project_dir=None), id="project_dir-null"),
    pytest.param(deploy(model="Ec\x00ho"), id="model-NUL"),
    pytest.param(deploy(model="M" * 2000), id="model-2000-chars"),
    pytest.param(deploy(model="Nope"), id="model-not-in-lineage"),
    pytest.param(deploy(model=1), id="model-number"),
    pytest.param(deploy(function="pred\x00ict"), id="function-NUL"),
    pytest.param(deploy(function="predict()"), id="function-not-identifier"),
    pytest.param(deploy(function="absent"), id="function-not-defined"),
    pytest.param(deploy(function="f" * 300), id="function-300-chars"),
    pytest.param(deploy(name="x" * MB), id="name-1MB"),
    pytest.param(deploy(name="x" * 201), id="name-201-chars"),
    pytest.param(deploy(name=""), id="name-empty"),
    pytest.param(deploy(name="a\x00b"), id="name-NUL"),
    pytest.param(deploy(name="a\u0085b"), id="name-C1-control"),
    pytest.param(deploy_text("name", '"\\udfff"'), id="name-lone-surrogate"),
    pytest.param(deploy(name={"n": 1}), id="name-object"),
    pytest.param(deploy(memory_mb=10**30), id="memory_mb-10**30"),
    pytest.param(deploy(memory_mb=0), id="memory_mb-zero"),
    pytest.param(deploy(memory_mb=2**31), id="memory_mb-2**31"),
    pytest.param(deploy(memory_mb="lots"), id="memory_mb-string"),
    pytest.param(deploy_text("memory_mb", "NaN"), id="memory_mb-NaN"),
    pytest.param(deploy(cpu_millicores=10**30), id="cpu_millicores-10**30"),
    pytest.param(deploy(cpu_millicores=-1000), id="cpu_millicores-negative"),
    pytest.param(deploy(cpu_millicores=0.5), id="cpu_millicores-fraction"),
    pytest.param(deploy(replicas=17), id="replicas-17"),
    pytest.param(deploy(replicas=0), id="replicas-zero"),
    pytest.param(deploy(replicas=10**30), id="replicas-10**30"),
    pytest.param(deploy_text("replicas", "-Infinity"), id="replicas-minus-Infinity"),
    pytest.param(deploy(auth_enabled="perhaps"), id="auth_enabled-string"),
    pytest.param(deploy(auth_enabled=[True]), id="auth_enabled-array"),
    pytest.param(deploy(replica=3), id="unknown-field"),
    pytest.param(deploy(env={"MLCATALOG_ADMIN_KEY": "x"}), id="unknown-field-env"),
    pytest.param(deploy_text("model", nested(900, '"Echo"')), id="model-nested-900"),
    pytest.param(raw("POST", "/api/v1/serving/deployments", b"", ADMIN), id="body-empty"),
    pytest.param(raw("POST", "/api/v1/serving/deployments", b"[]", ADMIN), id="body-array"),
    pytest.param(raw("POST", "/api/v1/serving/deployments", b"\xfe\xff\x00{", ADMIN), id="body-not-utf8"),
    pytest.param(raw("POST", "/api/v1/serving/deployments", nested(100_000).encode(), ADMIN),
                 id="body-nested-100000"),
]


@pytest.mark.parametrize("send", DEPLOY_CASES)
def test_a_hostile_deploy_is_refused_before_anything_is_written(world: World, caplog: pytest.LogCaptureFixture,
                                                                send: Send) -> None:
    refused(world, caplog, send, 400, "invalid_input")


def test_the_1mb_name_names_the_field_and_no_path(world: World, caplog: pytest.LogCaptureFixture) -> None:
    body = refused(world, caplog, deploy(name="x" * MB), 400, "invalid_input")
    assert body["problems"] == ["name: String should have at most 200 characters"]


def test_a_missing_model_file_is_named_as_given(world: World, caplog: pytest.LogCaptureFixture) -> None:
    body = refused(world, caplog, deploy(file="missing.py"), 400, "invalid_input")
    assert body["message"] == f"model file {world.project}/missing.py does not exist"


def test_a_model_that_fails_to_start_names_no_server_path(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """Not hostile input (the deploy was valid, so its stopped deployment is recorded), but its 409 quotes the
    replica's log tail: the model's error stays, the server's directories go."""
    caplog.set_level(logging.INFO)
    r = world.client.post("/api/v1/serving/deployments", json={**world.deploy_body(), "file": "broken.py"},
                          headers=ADMIN)
    assert r.status_code == 409, r.text
    body = json_of(r)
    assert set(body) == PLATFORM_ERROR_KEYS and body["code"] == "conflict"
    assert "No such file or directory: 'weights.bin'" in body["message"], body
    assert "/srv/models" not in body["message"] and "mlcatalog logs crn:" in body["message"]
    for path in world.server_paths():
        assert path not in r.text
    logged = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert len(logged) == 1 and "failed to start" in logged[0].getMessage() and "\n" not in logged[0].getMessage()
    crn = body["message"].split()[1]
    assert json_of(world.client.get(f"/api/v1/serving/deployments/{crn}", headers=ADMIN))["status"] == "stopped"


ADMIN_CASES = [
    pytest.param(lambda w: w.client.post("/api/v1/serving/api-keys", json={"name": "k\x00"}, headers=ADMIN),
                 id="key-name-NUL"),
    pytest.param(lambda w: w.client.post("/api/v1/serving/api-keys", json={"name": ONE_MB}, headers=ADMIN),
                 id="key-name-1MB"),
    pytest.param(lambda w: w.client.post("/api/v1/serving/api-keys", json={"name": ""}, headers=ADMIN),
                 id="key-name-empty"),
    pytest.param(lambda w: w.client.post("/api/v1/serving/api-keys", json={"name": "k", "expires_ms": 10**30},
                                         headers=ADMIN), id="key-expires_ms-10**30"),
    pytest.param(lambda w: w.client.post("/api/v1/serving/api-keys", json={"name": "k", "expires_ms": -5},
                                         headers=ADMIN), id="key-expires_ms-negative"),
    pytest.param(lambda w: w.client.post("/api/v1/serving/api-keys", json={"name": "k", "admin": "yes please"},
                                         headers=ADMIN), id="key-admin-string"),
    pytest.param(lambda w: w.client.post("/api/v1/serving/api-keys", json={"name": "k", "role": "root"},
                                         headers=ADMIN), id="key-unknown-field"),
    pytest.param(lambda w: w.client.post("/api/v1/serving/api-keys", json=["k"], headers=ADMIN),
                 id="key-body-array"),
    pytest.param(raw("POST", "/api/v1/serving/api-keys", b"\xff", ADMIN), id="key-body-not-utf8"),
    pytest.param(lambda w: w.client.delete("/api/v1/serving/api-keys/a%00b", headers=ADMIN), id="revoke-NUL"),
    pytest.param(lambda w: w.client.delete("/api/v1/serving/api-keys/" + "k" * 3000, headers=ADMIN),
                 id="revoke-3000-chars"),
    pytest.param(lambda w: w.client.post("/api/v1/serving/stop/a%00b", headers=ADMIN), id="stop-NUL"),
    pytest.param(lambda w: w.client.post("/api/v1/serving/stop/" + "c" * 3000, headers=ADMIN),
                 id="stop-3000-chars"),
    pytest.param(lambda w: w.client.get(f"/api/v1/serving/deployments/{w.crn}/logs?lines=10000000000000000000000",
                                        headers=ADMIN), id="logs-lines-huge"),
    pytest.param(lambda w: w.client.get(f"/api/v1/serving/deployments/{w.crn}/logs?lines=0", headers=ADMIN),
                 id="logs-lines-zero"),
    pytest.param(lambda w: w.client.get(f"/api/v1/serving/deployments/{w.crn}/traffic?start_ms=10{'0' * 30}",
                                        headers=ADMIN), id="traffic-start_ms-10**31"),
    pytest.param(lambda w: w.client.get(f"/api/v1/serving/deployments/{w.crn}/traffic?end_ms={2**63 - 1}",
                                        headers=ADMIN), id="traffic-end_ms-int64-max"),
    pytest.param(lambda w: w.client.get(f"/api/v1/serving/deployments/{w.crn}/traffic?step_ms={10**30}",
                                        headers=ADMIN), id="traffic-step_ms-10**30"),
    pytest.param(lambda w: w.client.get(f"/api/v1/serving/deployments/{w.crn}/traffic?step_ms=-10000",
                                        headers=ADMIN), id="traffic-step_ms-negative"),
    pytest.param(lambda w: w.client.get("/api/v1/serving/outbox?all=perhaps", headers=ADMIN), id="outbox-all-string"),
    pytest.param(lambda w: w.client.get("/api/v1/serving/deployments/%00", headers=ADMIN), id="deployment-NUL"),
]


@pytest.mark.parametrize("send", ADMIN_CASES)
def test_a_hostile_admin_call_is_refused(world: World, caplog: pytest.LogCaptureFixture, send: Send) -> None:
    refused(world, caplog, send, 400, "invalid_input")


# -- the metrics API ----------------------------------------------------------------------------------------


def aggregate(**change: Any) -> Send:
    return lambda w: w.client.post("/api/v1/metrics/aggregate", json={**w.aggregate_body(), **change},
                                   headers=ADMIN)


def aggregate_text(metrics_json: str) -> Send:
    def send(w: World) -> Any:
        b = w.aggregate_body()
        text = (f'{{"metrics": {metrics_json}, "start_timestamp_ms": {b["start_timestamp_ms"]}, '
                f'"end_timestamp_ms": {b["end_timestamp_ms"]}, "model_deployment_crn": "{w.crn}"}}')
        return w.client.post("/api/v1/metrics/aggregate", content=text.encode(), headers={**ADMIN, **JSON})

    return send


def delayed(**change: Any) -> Send:
    return lambda w: w.client.post("/api/v1/metrics/delayed", json={**w.delayed_body(), **change}, headers=ADMIN)


def delayed_text(metrics_json: str) -> Send:
    def send(w: World) -> Any:
        text = f'{{"metrics": {metrics_json}, "prediction_uuid": "{w.prediction_uuid}"}}'
        return w.client.post("/api/v1/metrics/delayed", content=text.encode(), headers={**ADMIN, **JSON})

    return send


def read(**params: Any) -> Send:
    return lambda w: w.client.get("/api/v1/metrics", params={"model_deployment_crn": w.crn, **params},
                                  headers=ADMIN)


METRICS_CASES = [
    pytest.param(aggregate_text('{"m": ' + nested(900) + "}"), id="aggregate-nested-900"),
    pytest.param(aggregate_text('{"m": ' + nested(65) + "}"), id="aggregate-nested-65"),
    pytest.param(aggregate_text('{"m": ' + nested_objects(300) + "}"), id="aggregate-objects-nested-300"),
    pytest.param(aggregate_text(nested(100_000)), id="aggregate-metrics-nested-100000"),
    pytest.param(aggregate_text('{"m": NaN}'), id="aggregate-NaN"),
    pytest.param(aggregate_text('{"m": -Infinity}'), id="aggregate-minus-Infinity"),
    pytest.param(aggregate_text('{"m": 1e999}'), id="aggregate-float-overflow"),
    pytest.param(aggregate_text('{"m": ' + str(2**64) + "}"), id="aggregate-int-2**64"),
    pytest.param(aggregate_text('{"m": ' + "9" * 5000 + "}"), id="aggregate-int-5000-digits"),
    pytest.param(aggregate_text('{"m": "a\\u0000b"}'), id="aggregate-value-NUL"),
    pytest.param(aggregate_text('{"a\\u0000": 1}'), id="aggregate-key-NUL"),
    pytest.param(aggregate_text('{"m": "\\ud800"}'), id="aggregate-lone-surrogate"),
    pytest.param(aggregate(metrics={}), id="aggregate-metrics-empty"),
    pytest.param(aggregate(metrics=[1, 2]), id="aggregate-metrics-array"),
    pytest.param(aggregate(metrics="accuracy=0.9"), id="aggregate-metrics-string"),
    pytest.param(aggregate(start_timestamp_ms=10**30), id="aggregate-start-10**30"),
    pytest.param(aggregate(start_timestamp_ms=-1), id="aggregate-start-negative"),
    pytest.param(aggregate(end_timestamp_ms=1), id="aggregate-end-before-start"),
    pytest.param(aggregate(start_timestamp_ms="now"), id="aggregate-start-string"),
    pytest.param(aggregate(model_deployment_crn="crn\x00"), id="aggregate-crn-NUL"),
    pytest.param(aggregate(model_deployment_crn="c" * 2000), id="aggregate-crn-2000-chars"),
    pytest.param(aggregate(model_deployment_crn=""), id="aggregate-crn-empty"),
    pytest.param(aggregate(model_deployment_crn=["crn"]), id="aggregate-crn-array"),
    pytest.param(aggregate(model_deployment_crn="not a crn"), id="aggregate-crn-malformed"),
    pytest.param(aggregate(model_crn="crn:x"), id="aggregate-unknown-field"),
    pytest.param(raw("POST", "/api/v1/metrics/aggregate", b"", ADMIN), id="aggregate-body-empty"),
    pytest.param(raw("POST", "/api/v1/metrics/aggregate", b"[{}]", ADMIN), id="aggregate-body-array"),
    pytest.param(raw("POST", "/api/v1/metrics/aggregate", b"\xed\xa0\x80", ADMIN), id="aggregate-body-not-utf8"),
    pytest.param(delayed_text('{"actual_result": ' + nested(900) + "}"), id="delayed-nested-900"),
    pytest.param(delayed_text('{"actual_result": NaN}'), id="delayed-NaN"),
    pytest.param(delayed_text('{"actual_result": "\\u0000"}'), id="delayed-value-NUL"),
    pytest.param(delayed(metrics={}), id="delayed-metrics-empty"),
    pytest.param(delayed(metrics=None), id="delayed-metrics-null"),
    pytest.param(delayed(prediction_uuid="u\x00"), id="delayed-uuid-NUL"),
    pytest.param(delayed(prediction_uuid="u" * 300), id="delayed-uuid-300-chars"),
    pytest.param(delayed(prediction_uuid=12345), id="delayed-uuid-number"),
    pytest.param(delayed(model_deployment_crn="x"), id="delayed-unknown-field"),
    pytest.param(read(start_timestamp_ms=10**30), id="read-start-10**30"),
    pytest.param(read(end_timestamp_ms=10**30), id="read-end-10**30"),
    pytest.param(read(start_timestamp_ms=-1), id="read-start-negative"),
    pytest.param(read(start_timestamp_ms="yesterday"), id="read-start-string"),
    pytest.param(read(model_deployment_crn="crn\x00"), id="read-crn-NUL"),
    pytest.param(lambda w: w.client.get("/api/v1/metrics", headers=ADMIN), id="read-no-crn"),
]


@pytest.mark.parametrize("send", METRICS_CASES)
def test_hostile_metrics_are_refused(world: World, caplog: pytest.LogCaptureFixture, send: Send) -> None:
    refused(world, caplog, send, 400, "invalid_input")


@pytest.mark.parametrize("send", [
    pytest.param(delayed(prediction_uuid=str(uuid.uuid4())), id="delayed-unknown-prediction"),
    pytest.param(aggregate(model_deployment_crn="/" + str(uuid.uuid4())), id="aggregate-unknown-bare-id"),
    pytest.param(read(model_deployment_crn="/" + str(uuid.uuid4())), id="read-unknown-bare-id"),
])
def test_unknown_targets_are_404(world: World, caplog: pytest.LogCaptureFixture, send: Send) -> None:
    before = world.state()
    caplog.clear()
    r = send(world)
    assert r.status_code == 404, r.text
    assert set(json_of(r)) == PLATFORM_ERROR_KEYS
    assert world.state() == before


def test_metrics_nested_to_the_limit_are_stored(world: World) -> None:
    """The bound refuses what no store could hold, not what metrics look like: 64 levels are kept."""
    r = aggregate_text('{"m": ' + nested(64) + "}")(world)
    assert r.status_code == 200, r.text
    rows = json_of(world.client.get("/api/v1/metrics", params={"model_deployment_crn": world.crn},
                                    headers=ADMIN))["metrics"]
    assert any(rec["metrics"].get("m") == json_of_nested(64) for rec in rows)


def json_of_nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


# -- body limits (mlcatalog up adds catalog.api.limits.BodyLimit in front of /api/v1) -------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """An app with a 1 MB body limit (MLCATALOG_API_MAX_BODY_MB); its state is compared like the world's."""
    store = tmp_path_factory.mktemp("limited") / "store"
    project = make_project(tmp_path_factory.mktemp("limited-project") / "echo", {"model.py": MODEL_PY}, [MODEL])
    with platform_app(store, {"MLCATALOG_API_TOKEN": TOKEN, "MLCATALOG_API_MAX_BODY_MB": "1",
                              "MLCATALOG_MONITORING": "false"}) as client:
        r = client.post("/api/v1/builds", json={"project_dir": str(project)}, headers=WRITE)
        assert r.status_code == 200, r.text
        (build,) = json_of(r)["builds"]
        crn = f"{build['build_crn'].rsplit('/', 1)[0]}/{uuid.uuid4()}"
        yield World(client, store, project, build, crn, "", str(uuid.uuid4()))


def chunks(total: int) -> Iterator[bytes]:
    """A JSON body of ``total`` bytes sent without a Content-Length (chunked)."""
    yield b'{"metrics": {"m": "'
    sent = 19
    while sent < total:
        yield b"x" * 65536
        sent += 65536
    yield b'"}}'


BODY_LIMIT_CASES = [
    pytest.param(lambda w: w.client.put(f"/api/v1/deployments/{w.crn}", headers=WRITE, json={
        **w.deployment_body(w.crn), "metadata": {f"k{i}": "v" * 16_000 for i in range(90)}}), id="metadata-1.4MB"),
    pytest.param(lambda w: w.client.put(f"/api/v1/deployments/{w.crn}", headers=WRITE, json={
        **w.deployment_body(w.crn), "metadata": {"k": "v" * 11 * MB}}), id="metadata-11MB"),
    pytest.param(lambda w: w.client.post("/api/v1/metrics/aggregate", headers=ADMIN, json={
        **w.aggregate_body(), "metrics": {"m": ["x" * 1000] * 11_000}}), id="aggregate-11MB"),
    pytest.param(lambda w: w.client.post("/api/v1/serving/deployments", headers=ADMIN, json={
        **w.deploy_body(), "name": "x" * (2 * MB)}), id="deploy-name-2MB"),
    pytest.param(lambda w: w.client.post("/api/v1/metrics/aggregate", headers={**ADMIN, **JSON},
                                         content=chunks(3 * MB)), id="aggregate-chunked-3MB"),
    pytest.param(lambda w: w.client.post("/api/v1/builds", headers=WRITE, json={"project_dir": "/" + "p" * MB}),
                 id="build-project_dir-1MB"),
]


@pytest.mark.parametrize("send", BODY_LIMIT_CASES)
def test_a_body_over_the_limit_is_413(limited: World, caplog: pytest.LogCaptureFixture, send: Send) -> None:
    body = refused(limited, caplog, send, 413, "too_large")
    assert body["message"] == "request body over 1 MB"


def test_a_body_within_the_limit_is_served(limited: World) -> None:
    r = limited.client.put(f"/api/v1/deployments/{limited.crn}", headers=WRITE, json={
        **limited.deployment_body(limited.crn), "metadata": {f"k{i}": "v" * 10_000 for i in range(90)}})
    assert r.status_code == 200, r.text  # 0.9 MB: one metadata value may hold 16 KB
    assert limited.client.get(f"/api/v1/deployments/{limited.crn}").status_code == 200


# -- the checks every case makes -----------------------------------------------------------------------------


def refused(w: World, caplog: pytest.LogCaptureFixture, send: Send, status: int, code: str) -> dict[str, Any]:
    """Send the request; it must be answered ``status`` in mlcatalog's shape with ``code``, naming no server path,
    logging at most one line, and writing nothing."""
    before = w.state()
    caplog.clear()
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    r = send(w)
    assert r.status_code == status, (r.status_code, r.text[:1000])
    body = assert_refusal_body(r, code, w.server_paths(), caplog)
    assert time.monotonic() - started < 30
    assert w.state() == before
    return body


def test_a_new_build_without_the_live_builds_key_check_is_refused(world: World,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A model has one access key: a canary served --no-auth would open a share of its calls to the key alone."""
    body = refused(world, caplog, deploy(auth_enabled=False, canary=10), 400, "invalid_input")
    assert "live build checks callers' API keys" in body["message"]


def test_a_streamed_deploy_tells_its_progress_and_ends_with_the_error_body(world: World) -> None:
    ndjson = {**ADMIN, "Accept": "application/x-ndjson"}
    r = world.client.post("/api/v1/serving/deployments", json={**world.deploy_body(), "function": "no such"},
                          headers=ndjson)
    assert r.status_code == 400 and json_of(r)["code"] == "invalid_input"  # refused before it started: plain
    with world.client.stream("POST", "/api/v1/serving/deployments", json={**world.deploy_body(), "file": "broken.py"},
                             headers=ndjson) as streamed:
        assert streamed.status_code == 200 and streamed.headers["content-type"] == "application/x-ndjson"
        events = [json.loads(line) for line in streamed.iter_lines() if line]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "stage" and kinds[-1] == "error" and "result" not in kinds
    last = events[-1]
    assert (last["status"], last["code"]) == (409, "conflict") and set(last) == {"event", "status", "code", "message",
                                                                                 "problems"}
    died = [line for e in events if e["event"] == "log" for line in e["lines"]]
    assert died and died[0].startswith("Traceback") and "weights.bin" in died[-1]
    for path in world.server_paths():
        assert path not in last["message"]
