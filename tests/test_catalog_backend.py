"""``CatalogBackend``: one contract for the catalog in-process (``LocalCatalog``) and behind its REST API
(``RemoteCatalog``), which is what the serving platform records its builds and deployments through."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from catalog.backend import BuildRequest, CatalogBackend, DatasetRef, DeploymentRecord, DriftRecord
from catalog.crn import CrnScope
from catalog.errors import Forbidden, InvalidInput, NotFound, UpstreamUnavailable
from catalog.queries import Deployment
from catalog.remote import RemoteCatalog
from catalog.service import LocalCatalog
from catalog.sync.snapshot import ResolvedBuild
from mlcatalog.assemble import atlas_client
from mlcatalog.settings import load_settings
from tests.api.support import CHURN_MODEL, CHURN_TABLES, TWO_MODELS, WINE_MODEL, WINE_TABLES, commit_file, make_project
from tests.inprocess import ADMIN_KEY, ATLAS_PASSWORD, json_of, platform_app
from tests.servers import free_port

SCOPE = CrnScope("local", "mlcatalog", "default")


@dataclass
class Catalog:
    """A backend, plus what a test reads and seeds around it (the catalog's read side, Atlas itself)."""

    backend: CatalogBackend
    deployment: Callable[[str], Deployment]
    deployments: Callable[[str | None], list[Deployment]]  # by classification
    atlas_bulk: Callable[[dict[str, Any]], None]  # POST /api/atlas/v2/entity/bulk


@pytest.fixture(params=["local", "remote"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    if request.param == "local":
        settings = load_settings(environ={}, cwd=tmp_path)
        local = LocalCatalog(atlas_client(settings, f"atlas+embedded://{tmp_path / 'store'}"), SCOPE, "cm")
        yield Catalog(local, local.queries.deployment,
                      lambda c: local.queries.deployments(classification=c),
                      lambda body: local.client.call("entity/bulk", "POST", body=body))
        local.close()
        return
    with platform_app(tmp_path / "store") as client:
        remote = RemoteCatalog("http://testserver", ADMIN_KEY, client=client)

        def bulk(body: dict[str, Any]) -> None:
            r = client.post("/api/atlas/v2/entity/bulk", json=body, auth=("admin", ATLAS_PASSWORD))
            assert r.status_code == 200, r.text

        yield Catalog(remote, lambda crn: Deployment.model_validate(json_of(client.get(f"/api/v1/deployments/{crn}"))),
                      lambda c: [Deployment.model_validate(d) for d in json_of(client.get(
                          "/api/v1/deployments", params={"classification": c} if c else {}))],
                      bulk)
        remote.close()


@pytest.fixture
def backend(catalog: Catalog) -> CatalogBackend:
    return catalog.backend


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "work", TWO_MODELS)


def record(build_crn: str, model_crn: str, status: str = "deployed", crn: str | None = None) -> DeploymentRecord:
    return DeploymentRecord(crn=crn or SCOPE.crn(uuid.uuid4()), build_crn=build_crn, model_crn=model_crn,
                            model_name=WINE_MODEL, name="wine", status=status, create_time_ms=1,
                            deployed_time_ms=2, cpu_millicores=500, replicas=1)


def test_a_build_is_recorded_once_per_commit(backend: CatalogBackend, project: Path) -> None:
    first = backend.record_build(BuildRequest(project_dir=str(project)))
    assert {b.model_name for b in first.builds} == {WINE_MODEL, CHURN_MODEL}
    assert all(b.version == 1 and b.new and b.guid for b in first.builds)
    assert first.creates > 0 and any("declared" in n for n in first.notes)
    again = backend.record_build(BuildRequest(project_dir=str(project), models=[WINE_MODEL]))
    (b,) = again.builds
    assert (b.new, b.version, again.creates, again.updates) == (False, 1, 0, 0)
    assert b.guid == next(x.guid for x in first.builds if x.model_name == WINE_MODEL)


def test_a_resolved_build_is_recorded_without_its_project(backend: CatalogBackend, project: Path,
                                                          tmp_path: Path) -> None:
    # resolved by a catalog whose Atlas nobody serves: resolving never asks it
    settings = load_settings(environ={"MLCATALOG_ATLAS_PASSWORD": "pw"}, cwd=tmp_path)
    resolving = LocalCatalog(atlas_client(settings, f"http://127.0.0.1:{free_port()}"), SCOPE, "cm")
    try:
        resolved = resolving.resolve_build(BuildRequest(project_dir=str(project), models=[WINE_MODEL],
                                                        allow_unresolved=True))
    finally:
        resolving.close()
    shutil.rmtree(project)
    first = backend.record_resolved_build(resolved)
    (b,) = first.builds
    assert (b.model_name, b.build_crn, b.version, b.new) == (WINE_MODEL, resolved.models[0].build_crn, 1, True)
    assert (first.project_crn, first.commit) == (resolved.project_crn, resolved.commit)
    assert b.guid and first.creates > 0 and any("declared" in n for n in first.notes)
    assert [d.qualified_name for d in backend.build_inputs(b.build_crn)] == WINE_TABLES
    again = backend.record_resolved_build(resolved)
    assert (again.creates, again.updates, again.builds[0].guid) == (0, 0, b.guid)
    body = resolved.model_dump(mode="json")
    del body["tables"][WINE_TABLES[0]]
    with pytest.raises(InvalidInput, match="not the inputs its lineage file names"):
        backend.record_resolved_build(ResolvedBuild.model_validate(body))


def test_a_deployment_is_recorded_idempotently(backend: CatalogBackend, project: Path) -> None:
    (b,) = backend.record_build(BuildRequest(project_dir=str(project), models=[WINE_MODEL])).builds
    d = record(b.build_crn, b.model_crn)
    first = backend.record_deployment(d)
    assert first.creates >= 1 and first.guid
    assert backend.record_deployment(d).model_dump() == {"creates": 0, "updates": 0, "written": 0,
                                                          "guid": first.guid}
    stopped = backend.record_deployment(d.model_copy(update={"status": "stopped"}))
    assert stopped.updates >= 1 and stopped.guid == first.guid


def test_what_can_never_be_recorded_is_invalid_input(backend: CatalogBackend, project: Path,
                                                     tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no model named 'nope'"):
        backend.record_build(BuildRequest(project_dir=str(project), models=["nope"]))
    with pytest.raises(InvalidInput, match="not a directory"):
        backend.record_build(BuildRequest(project_dir=str(tmp_path / "missing")))
    commit_file(project, "lineage.yml", "Model:\n  hive_table_qualified_names: [\n", "broken")
    with pytest.raises(InvalidInput, match=r"lineage\.yml:\d+:\d+"):
        backend.record_build(BuildRequest(project_dir=str(project)))
    with pytest.raises(InvalidInput):  # its build is not in the catalog
        backend.record_deployment(record(SCOPE.crn(uuid.uuid4()), SCOPE.crn(uuid.uuid4())))


def test_an_unreachable_catalog_is_upstream_unavailable(tmp_path: Path, project: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    settings = load_settings(environ={"MLCATALOG_ATLAS_PASSWORD": "pw"}, cwd=tmp_path)
    backends: list[CatalogBackend] = [LocalCatalog(atlas_client(settings, down), SCOPE, "cm"),
                                      RemoteCatalog(down, "key", timeout_s=2)]
    for backend in backends:
        try:
            with pytest.raises(UpstreamUnavailable, match="not reachable"):
                backend.record_build(BuildRequest(project_dir=str(project)))
            with pytest.raises(UpstreamUnavailable, match="not reachable"):
                backend.record_deployment(record(SCOPE.crn(uuid.uuid4()), SCOPE.crn(uuid.uuid4())))
            with pytest.raises(UpstreamUnavailable, match="not reachable"):
                backend.record_drift(drift(SCOPE.crn(uuid.uuid4()), "ok"))
            with pytest.raises(UpstreamUnavailable, match="not reachable"):
                backend.build_inputs(SCOPE.crn(uuid.uuid4()))
        finally:
            backend.close()


def test_the_remote_catalog_refuses_a_wrong_credential(tmp_path: Path, project: Path) -> None:
    with platform_app(tmp_path / "store") as client:
        remote = RemoteCatalog("http://testserver", "not-a-key", client=client)
        with pytest.raises(Forbidden):
            remote.record_build(BuildRequest(project_dir=str(project)))
        assert json.loads(client.get("/api/v1/builds").text) == []


# -- drift ------------------------------------------------------------------------------------------


def drift(crn: str, status: str, columns: list[str] | None = None, at: int = 1_700_000_000_000) -> DriftRecord:
    return DriftRecord.model_validate({"crn": crn, "status": status, "columns": columns or [],
                                       "checked_time_ms": at, "window_start_ms": at - 3_600_000,
                                       "window_end_ms": at})


def deployed(backend: CatalogBackend, project: Path, model: str = WINE_MODEL) -> tuple[str, str]:
    """(deployment CRN, its guid): a build of ``model`` deployed."""
    (b,) = backend.record_build(BuildRequest(project_dir=str(project), models=[model])).builds
    d = record(b.build_crn, b.model_crn)
    guid = backend.record_deployment(d).guid
    assert guid
    return d.crn, guid


def test_drift_is_recorded_with_the_drifting_classification_while_it_drifts(catalog: Catalog,
                                                                            project: Path) -> None:
    backend = catalog.backend
    crn, guid = deployed(backend, project)
    other, _ = deployed(backend, project, CHURN_MODEL)
    before = catalog.deployment(crn)
    assert (before.drift_status, before.drift_columns, before.classifications) == (None, [], [])

    first = backend.record_drift(drift(crn, "drifting", ["alcohol", "ph"]))
    assert first.model_dump() == {"creates": 0, "updates": 1, "written": 2, "guid": guid}
    d = catalog.deployment(crn)
    assert (d.drift_status, d.drift_columns) == ("drifting", ["alcohol", "ph"])
    assert "DRIFTING" in d.classifications
    assert [x.crn for x in catalog.deployments("DRIFTING")] == [crn]
    assert "DRIFTING" in next(x for x in catalog.deployments(None) if x.crn == crn).classifications
    assert "DRIFTING" not in catalog.deployment(other).classifications

    # the same again writes nothing (the classification is not added twice); a new window only the attributes
    assert backend.record_drift(drift(crn, "drifting", ["alcohol", "ph"])).model_dump() == {
        "creates": 0, "updates": 0, "written": 0, "guid": guid}
    later = backend.record_drift(drift(crn, "drifting", ["ph"], at=1_700_003_600_000))
    assert (later.updates, later.written) == (1, 1)
    assert catalog.deployment(crn).drift_columns == ["ph"]

    # re-recording the deployment (its status) keeps its drift
    b_crn = before.build_crn
    assert b_crn is not None and before.model_crn is not None
    backend.record_deployment(record(b_crn, before.model_crn, status="stopped", crn=crn))
    d = catalog.deployment(crn)
    assert (d.status, d.drift_status, "DRIFTING" in d.classifications) == ("stopped", "drifting", True)

    # back to ok: the classification goes, the attributes say ok
    ok = backend.record_drift(drift(crn, "ok", at=1_700_007_200_000))
    assert ok.model_dump() == {"creates": 0, "updates": 1, "written": 2, "guid": guid}
    d = catalog.deployment(crn)
    assert (d.drift_status, d.drift_columns, d.classifications) == ("ok", [], [])
    assert catalog.deployments("DRIFTING") == []
    assert backend.record_drift(drift(crn, "ok", at=1_700_007_200_000)).written == 0
    # warning and unknown are not drifting either; removing an absent classification is not an error
    assert backend.record_drift(drift(crn, "warning", ["ph"], at=1_700_010_800_000)).written == 1
    assert backend.record_drift(drift(crn, "unknown", at=1_700_014_400_000)).written == 1
    d = catalog.deployment(crn)
    assert (d.drift_status, d.drift_columns, d.classifications) == ("unknown", [], [])


def test_drift_of_a_deployment_not_in_the_catalog_is_not_found(backend: CatalogBackend, project: Path) -> None:
    with pytest.raises(NotFound, match="no ml_model_deployment"):
        backend.record_drift(drift(SCOPE.crn(uuid.uuid4()), "drifting", ["ph"]))
    (b,) = backend.record_build(BuildRequest(project_dir=str(project), models=[WINE_MODEL])).builds
    with pytest.raises(NotFound):  # a build is not a deployment
        backend.record_drift(drift(b.build_crn, "ok"))


def test_a_drift_record_is_validated() -> None:
    with pytest.raises(ValueError, match="status"):
        DriftRecord.model_validate({**drift("crn", "ok").model_dump(), "status": "exploded"})
    with pytest.raises(ValueError, match="window_end_ms is before window_start_ms"):
        DriftRecord.model_validate({**drift("crn", "ok").model_dump(), "window_end_ms": 0})


# -- build inputs -----------------------------------------------------------------------------------

#: default.wineds_ext@cm as Atlas's Hive hook would have recorded it: columns listed out of position order, and a
#: partition key (SELECT * returns partition keys last).
WINE_COLUMNS = [("quality", "string", 2), ("fixedacidity", "double", 0), ("alcohol", "double", 1)]


def hook_recorded_table(qn: str, columns: list[tuple[str, str, int]], partition_keys: list[tuple[str, str, int]]
                        ) -> dict[str, Any]:
    db_table, _, ns = qn.partition("@")
    db, table = db_table.split(".")
    table_ref = {"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": qn}}
    entities: list[dict[str, Any]] = [
        {"typeName": "hive_db", "attributes": {"qualifiedName": f"{db}@{ns}", "name": db, "clusterName": ns}},
        {"typeName": "hive_table", "attributes": {"qualifiedName": qn, "name": table}, "relationshipAttributes": {
            "db": {"typeName": "hive_db", "uniqueAttributes": {"qualifiedName": f"{db}@{ns}"}}}}]
    for cols, rel in ((columns, "hive_table_columns"), (partition_keys, "hive_table_partitionkeys")):
        entities += [{"typeName": "hive_column", "attributes": {
            "qualifiedName": f"{db}.{table}.{name}@{ns}", "name": name, "type": type_, "position": position},
            "relationshipAttributes": {"table": {**table_ref, "relationshipType": rel}}}
            for name, type_, position in cols]
    return {"entities": entities}


def test_build_inputs_are_the_lineage_tables_in_order_with_their_columns(catalog: Catalog, project: Path) -> None:
    catalog.atlas_bulk(hook_recorded_table("default.wineds_ext@cm", WINE_COLUMNS, [("vintage", "int", 0)]))
    backend = catalog.backend
    builds = {b.model_name: b for b in backend.record_build(BuildRequest(project_dir=str(project))).builds}

    wine = backend.build_inputs(builds[WINE_MODEL].build_crn)
    assert wine == [
        # recorded as declared (no HiveServer2 here): no columns
        DatasetRef(type_name="hive_table", qualified_name="default.wineds_ext_nolabel@cm", name="wineds_ext_nolabel",
                   columns=[]),
        DatasetRef(type_name="hive_table", qualified_name="default.wineds_ext@cm", name="wineds_ext",
                   columns=["fixedacidity", "alcohol", "quality", "vintage"]),
    ]
    assert [d.qualified_name for d in wine] == WINE_TABLES  # as lineage.yml lists them
    (churn,) = backend.build_inputs(builds[CHURN_MODEL].build_crn)
    assert (churn.type_name, churn.qualified_name, churn.columns) == ("hive_table", CHURN_TABLES[0], [])


def test_build_inputs_keep_s3_sources_in_lineage_order(backend: CatalogBackend, tmp_path: Path) -> None:
    lineage = json.dumps({"m": {"hive_table_qualified_names": ["default.t@cm"],
                                "s3_sources": ["s3a://bucket/data/", "s3a://bucket/extra/file.csv"]}})
    repo = make_project(tmp_path / "s3", lineage)
    (b,) = backend.record_build(BuildRequest(project_dir=str(repo))).builds
    inputs = backend.build_inputs(b.build_crn)
    # (S3 names end in the catalog's namespace, which differs between the two backends here)
    assert [(d.type_name, d.qualified_name.rpartition("@")[0], d.name) for d in inputs] == [
        ("hive_table", "default.t", "t"),
        ("aws_s3_v2_directory", "s3a://bucket/data/", "data"),
        ("aws_s3_v2_object", "s3a://bucket/extra/file.csv", "file.csv"),
    ]
    assert all(d.columns == [] for d in inputs)


def test_build_inputs_of_an_unknown_build_are_not_found(backend: CatalogBackend, project: Path) -> None:
    with pytest.raises(NotFound, match="no ml_model_build"):
        backend.build_inputs(SCOPE.crn(uuid.uuid4()))
    crn, _ = deployed(backend, project)
    with pytest.raises(NotFound):  # a deployment is not a build
        backend.build_inputs(crn)
