"""End to end, with ``mlcatalog up`` and the CLI as users run them: a build and a deploy (and its stop) write their
events with the client's file transport; with an HTTP backend that is down, deploys go on, the catalog gets its
writes, and the events wait in the outbox until the backend (a stand-in Marquez) comes back, then arrive in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.openlineage_events.support import Marquez, file_config, http_config, schema_errors
from tests.servers import free_port, wait_until
from tests.serving.conftest import ADMIN_KEY, Platform, deploy, make_project, start_platform

MODEL_PY = '''
def predict(args):
    return {"echo": args.get("id")}
'''
LINEAGE = {"First": {"hive_table_qualified_names": ["default.first_input@cm"],
                     "s3_sources": ["s3://ol-bucket/first/"]}}

pytestmark = pytest.mark.slow


@pytest.fixture
def platforms() -> Iterator[list[Platform]]:
    started: list[Platform] = []
    yield started
    for p in started:
        p.stop()


def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project", {"model.py": MODEL_PY, "lineage.yml": json.dumps(LINEAGE)},
                        list(LINEAGE))


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def steps(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["job"]["name"].rsplit("/", 1)[1], e["eventType"]) for e in events]


def test_build_deploy_and_stop_write_events_to_a_file(tmp_path: Path, platforms: list[Platform]) -> None:
    log = tmp_path / "events.jsonl"
    config = file_config(tmp_path / "openlineage.yml", log)
    p = start_platform(tmp_path / "store", {"MLCATALOG_OPENLINEAGE_CONFIG": str(config)})
    platforms.append(p)
    proj = project(tmp_path)

    built = json.loads(p.cli("build", "--project-dir", str(proj), "--allow-unresolved", "--json").stdout)
    assert steps(lines(log)) == [("build", "START"), ("build", "COMPLETE")]
    assert lines(log)[1]["outputs"][0]["name"] == built["builds"][0]["buildCrn"]

    dep = deploy(p, ADMIN_KEY, proj, "First", "model.py", "predict")
    p.cli("stop", dep["crn"], env={"MLCATALOG_API_KEY": ADMIN_KEY})
    expected = [("build", "START"), ("build", "COMPLETE"), ("build", "START"), ("build", "COMPLETE"),
                ("deployment", "START"), ("deployment", "RUNNING"), ("deployment", "COMPLETE")]
    wait_until(lambda: steps(lines(log)) == expected, 30, 0.2, f"events {expected}")
    events = lines(log)
    assert all(schema_errors(e) == [] for e in events), [schema_errors(e) for e in events]
    deployment = events[4:]
    assert {e["run"]["runId"] for e in deployment} == {deployment[0]["run"]["runId"]}
    assert [e["outputs"][0]["facets"]["mlcatalog_deployment"]["status"] for e in deployment] == [
        "deploying", "deployed", "stopped"]
    assert deployment[0]["inputs"][0]["name"] == dep["buildCrn"]
    assert {i["namespace"] for i in events[0]["inputs"]} == {"hive://cm", "s3://ol-bucket"}


def test_a_build_through_the_catalog_api_writes_its_events_through_the_outbox(tmp_path: Path,
                                                                             platforms: list[Platform]) -> None:
    import httpx

    log = tmp_path / "events.jsonl"
    p = start_platform(tmp_path / "store", {"MLCATALOG_OPENLINEAGE_CONFIG": str(file_config(tmp_path / "ol.yml", log))})
    platforms.append(p)
    proj = project(tmp_path)
    r = httpx.post(f"{p.url}/api/v1/builds", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60,
                   json={"project_dir": f"{tmp_path.name}/project", "allow_unresolved": True})
    assert r.status_code == 200, r.text
    wait_until(lambda: steps(lines(log)) == [("build", "START"), ("build", "COMPLETE")], 30, 0.2, "build events")
    events = lines(log)
    assert events[1]["outputs"][0]["name"] == r.json()["builds"][0]["build_crn"]
    assert all(schema_errors(e) == [] for e in events) and proj.name == "project"
    assert all(e["status"] == "done" for e in json.loads(p.cli("outbox", "--json", "--all").stdout)
               if e["kind"] == "openlineage")


def outbox(p: Platform) -> list[dict[str, Any]]:
    return list(json.loads(p.cli("outbox", "--json").stdout))


def test_backend_down_the_events_wait_in_the_outbox(tmp_path: Path, platforms: list[Platform]) -> None:
    marquez = Marquez(free_port())
    config = http_config(tmp_path / "openlineage.yml", marquez.port)
    p = start_platform(tmp_path / "store", {"MLCATALOG_OPENLINEAGE_CONFIG": str(config)})
    platforms.append(p)
    try:
        dep = deploy(p, ADMIN_KEY, project(tmp_path), "First", "model.py", "predict")
        assert dep["guid"], "the catalog's writes are not held up by the lineage backend"

        def waiting() -> list[dict[str, Any]]:
            pending = [e for e in outbox(p) if e["kind"] == "openlineage"]
            return pending if len(pending) == 4 and pending[0]["attempts"] > 0 else []

        pending = wait_until(waiting, 30, 0.3, "the events to wait in the outbox")
        assert isinstance(pending, list) and {e["kind"] for e in outbox(p)} == {"openlineage"}
        assert "ConnectionError" in pending[0]["last_error"]

        marquez.start()
        wait_until(lambda: len(marquez.events) == 4, 40, 0.3, "the events once the backend is back")
        assert steps(marquez.events) == [("build", "START"), ("build", "COMPLETE"), ("deployment", "START"),
                                         ("deployment", "RUNNING")]
        wait_until(lambda: outbox(p) == [], 10, 0.2, "the outbox to drain")
        p.cli("stop", dep["crn"], env={"MLCATALOG_API_KEY": ADMIN_KEY})
        wait_until(lambda: len(marquez.events) == 5, 20, 0.2, "the stop's event")
        assert steps(marquez.events)[-1] == ("deployment", "COMPLETE")
        assert all(schema_errors(e) == [] for e in marquez.events)
    finally:
        marquez.stop()
