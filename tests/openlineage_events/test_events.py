"""Events of builds and deployments (catalog.openlineage): golden files, the OpenLineage spec's JSON schema (and each
facet's own), run ids, the deployment run's states, and the round trip through the outbox's JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from openlineage.client.event_v2 import RunState

from catalog.backend import DeploymentRecord
from catalog.crn import CrnScope
from catalog.identity import build_crn, model_crn
from catalog.openlineage import Naming, build_event, build_events, deployment_event, from_dict, run_id, to_dict
from catalog.openlineage.events import git_uri
from catalog.sync.snapshot import ColumnFacts, HiveFacts, ResolvedBuild, ResolvedModel, S3Lookup, TableLookup
from tests.openlineage_events.support import assert_golden, schema_errors

SCOPE = CrnScope("us-west-1", "acct", "ws")
PROJECT = SCOPE.crn("5c0ffee0-0000-4000-8000-000000000001")
WINE, CHURN = "Predict w/ Monitoring & Lineage", "churn"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
WHEN = datetime(2026, 12, 1, 10, 30, 0, 250_000, tzinfo=UTC)
LINEAGE = json.dumps({
    WINE: {"hive_table_qualified_names": ["default.wineds_ext@cm", "default.gone@cm"],
           "s3_sources": ["s3a://mlcatalog-demo/wine_dataset/data/", "s3://mlcatalog-demo"]},
    CHURN: {"hive_table_qualified_names": ["sales.churn@cm"]},
}, indent=2)


def model(name: str) -> ResolvedModel:
    crn = model_crn(SCOPE, PROJECT, name)
    return ResolvedModel(name=name, model_crn=crn, build_crn=build_crn(SCOPE, crn, COMMIT))


def resolved(models: tuple[str, ...] = (WINE, CHURN)) -> ResolvedBuild:
    cols = [ColumnFacts(name="quality", type="int", position=1),
            ColumnFacts(name="fixedacidity", type="double", comment="g/l", position=0)]
    tables = {"default.wineds_ext@cm": TableLookup(lookup="described", facts=HiveFacts(
                  columns=cols, partition_keys=[ColumnFacts(name="day", type="string")])),
              "default.gone@cm": TableLookup(lookup="not_found", message="no table default.gone"),
              "sales.churn@cm": TableLookup(lookup="unavailable", message="HiveServer2 down")}
    s3 = {"s3a://mlcatalog-demo/wine_dataset/data/": S3Lookup(lookup="described", kind="prefix", object_count=1,
                                                              total_size_bytes=10),
          "s3://mlcatalog-demo": S3Lookup(lookup="not_asked")}
    if models == (WINE,):
        tables.pop("sales.churn@cm")
    return ResolvedBuild(project_crn=PROJECT, project_name="wine", git_url="git@github.com:acme/wine.git",
                         commit=COMMIT, author="Data Scientist <ds@example.com>", commit_time_ms=1_780_000_000_000,
                         lineage_path="models/lineage.yml", lineage_text=LINEAGE,
                         models=[model(m) for m in models], reuse_unchanged=len(models) == 2, tables=tables, s3=s3)


def deployment(status: str, deployed_ms: int = 1_780_000_100_000) -> DeploymentRecord:
    wine = model(WINE)
    return DeploymentRecord(crn=SCOPE.crn("d0000000-0000-4000-8000-000000000002"), build_crn=wine.build_crn,
                            model_crn=wine.model_crn, model_name=WINE, name="wine-predict", status=status,
                            create_time_ms=1_780_000_000_000, deployed_time_ms=deployed_ms, cpu_millicores=500,
                            memory_mb=1024, replicas=2, endpoint_url="http://127.0.0.1:21000/model",
                            metadata={"accessKeyHint": "abc123"})


def test_build_event_golden_and_valid() -> None:
    event = to_dict(build_event(resolved(), WINE, event_type=RunState.COMPLETE, event_time=WHEN, naming=Naming()))
    assert schema_errors(event) == []
    assert_golden("build_complete", event)


def test_build_inputs_are_the_models_own_with_their_columns() -> None:
    events = [to_dict(e) for e in build_events(resolved(), event_type=RunState.START, event_time=WHEN,
                                               naming=Naming(namespace="prod", hive_namespace="hive://ms:9083"))]
    assert [e["job"]["name"] for e in events] == [f"wine/{WINE}/build", f"wine/{CHURN}/build"]
    wine, churn = events
    assert [(i["namespace"], i["name"]) for i in wine["inputs"]] == [
        ("hive://ms:9083", "default.wineds_ext"), ("hive://ms:9083", "default.gone"),
        ("s3://mlcatalog-demo", "wine_dataset/data"), ("s3://mlcatalog-demo", "/")]
    # columns in their order, then the partition keys; a table HiveServer2 did not describe has no schema
    assert [(f["name"], f["ordinal_position"]) for f in wine["inputs"][0]["facets"]["schema"]["fields"]] == [
        ("fixedacidity", 1), ("quality", 2), ("day", 3)]
    assert "schema" not in wine["inputs"][1]["facets"]
    assert [i["name"] for i in churn["inputs"]] == ["sales.churn"]
    assert churn["outputs"][0]["name"] == model(CHURN).build_crn
    assert {e["job"]["namespace"] for e in events} == {"prod"}
    assert all(schema_errors(e) == [] for e in events)


def test_a_build_the_catalog_kept_is_named_by_its_crn() -> None:
    kept = SCOPE.crn("b0000000-0000-4000-8000-00000000000b")
    event = to_dict(build_events(resolved(), event_type=RunState.COMPLETE, event_time=WHEN, naming=Naming(),
                                 recorded={WINE: kept})[0])
    assert event["outputs"][0]["name"] == kept
    assert event["outputs"][0]["facets"]["mlcatalog_build"]["buildCrn"] == kept
    assert event["run"]["runId"] == run_id(kept)


def test_build_facets_carry_commit_and_crns() -> None:
    event = to_dict(build_event(resolved(), WINE, event_type=RunState.START, event_time=WHEN, naming=Naming()))
    facet = event["outputs"][0]["facets"]["mlcatalog_build"]
    wine = model(WINE)
    assert (facet["commit"], facet["buildCrn"], facet["modelCrn"], facet["projectCrn"]) == (
        COMMIT, wine.build_crn, wine.model_crn, PROJECT)
    assert facet["_producer"] == event["producer"]
    location = event["job"]["facets"]["sourceCodeLocation"]
    assert (location["url"], location["version"], location["path"]) == ("ssh://git@github.com/acme/wine.git",
                                                                        COMMIT, "models")


@pytest.mark.parametrize(("status", "deployed_ms", "state"), [
    ("deploying", 1_780_000_000_000, "START"),
    ("deployed", 1_780_000_100_000, "RUNNING"),
    ("stopped", 1_780_000_100_000, "COMPLETE"),
    ("stopped", 1_780_000_000_000, "FAIL"),  # stopped at its creation time: it never came up
    ("unknown", 1_780_000_000_000, "OTHER"),
])
def test_deployment_events(status: str, deployed_ms: int, state: str) -> None:
    event = deployment_event(deployment(status, deployed_ms), "wine", event_time=WHEN, naming=Naming())
    assert event is not None
    data = to_dict(event)
    assert data["eventType"] == state
    assert schema_errors(data) == []
    assert_golden(f"deployment_{state.lower()}", data)


def test_one_run_per_deployment_and_stopping_is_no_step_of_it() -> None:
    runs = {to_dict(e)["run"]["runId"] for s in ("deploying", "deployed", "stopped")
            if (e := deployment_event(deployment(s), "wine", event_time=WHEN, naming=Naming())) is not None}
    assert runs == {run_id(deployment("deployed").crn)}
    assert deployment_event(deployment("stopping"), "wine", event_time=WHEN, naming=Naming()) is None
    data = to_dict(deployment_event(deployment("deployed"), "wine", event_time=WHEN, naming=Naming()))  # type: ignore[arg-type]
    assert data["inputs"] == [{"namespace": "mlcatalog", "name": model(WINE).build_crn, "facets": {},
                               "inputFacets": {}}]


def test_round_trip_through_the_outbox_json() -> None:
    events = [build_event(resolved(), WINE, event_type=RunState.COMPLETE, event_time=WHEN, naming=Naming()),
              deployment_event(deployment("deployed"), "wine", event_time=WHEN, naming=Naming())]
    for event in events:
        assert event is not None
        data = json.loads(json.dumps(to_dict(event)))
        assert to_dict(from_dict(data)) == data


@pytest.mark.parametrize("bad", [{}, {"eventType": "START"}, {"eventType": "NOPE", "eventTime": "x"}])
def test_what_is_no_event_of_ours_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        from_dict(bad)
    data = to_dict(build_event(resolved(), WINE, event_type=RunState.COMPLETE, event_time=WHEN, naming=Naming()))
    data["job"]["facets"]["someoneElses"] = {"_producer": "x", "_schemaURL": "y"}
    with pytest.raises(ValueError, match="unknown facet"):
        from_dict(data)


def test_event_time_needs_a_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        build_event(resolved(), WINE, event_type=RunState.START, event_time=datetime(2026, 1, 1), naming=Naming())


@pytest.mark.parametrize(("url", "uri"), [
    ("https://github.com/acme/wine.git", "https://github.com/acme/wine.git"),
    ("git@github.com:acme/wine.git", "ssh://git@github.com/acme/wine.git"),
    ("/home/ds/my wine", "file:///home/ds/my%20wine"),
])
def test_git_remote_as_uri(url: str, uri: str) -> None:
    assert git_uri(url) == uri


def test_the_schemas_catch_a_broken_event() -> None:
    data = to_dict(build_event(resolved(), WINE, event_type=RunState.COMPLETE, event_time=WHEN, naming=Naming()))
    del data["run"]["runId"]
    data["outputs"][0]["facets"]["mlcatalog_build"]["commit"] = "HEAD"
    data["inputs"][0]["facets"]["schema"]["fields"][0]["ordinal_position"] = "first"
    errors = schema_errors(data)
    assert any(e.startswith("RunEvent") and "runId" in e for e in errors), errors
    assert any(e.startswith("facet mlcatalog_build") for e in errors), errors
    assert any(e.startswith("facet schema") for e in errors), errors
