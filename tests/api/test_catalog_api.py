"""The catalog REST API (/api/v1) as ``mlcatalog up`` assembles it, in the test's process (tests/inprocess.py).

One app per module: a project with two models is built through ``POST /api/v1/builds``, deployments are recorded
through ``PUT /api/v1/deployments/{crn}``, then the read side (projects, models, builds, deployments, lineage,
impact, classification propagation, OpenAPI) is checked. ``mlcatalog build`` itself is tested end to end in
tests/test_cli_catalog.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.support import (
    ACCOUNT,
    CHURN_METADATA,
    CHURN_MODEL,
    CHURN_TABLES,
    REGION,
    TWO_MODELS,
    WINE_MODEL,
    WINE_TABLES,
    WORKSPACE,
    make_project,
)
from tests.inprocess import ATLAS_PASSWORD, json_of, platform_app

TOKEN = "secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ATLAS_AUTH = ("admin", ATLAS_PASSWORD)
CRN_ENV = {"MLCATALOG_CRN_REGION": REGION, "MLCATALOG_CRN_ACCOUNT": ACCOUNT, "MLCATALOG_CRN_WORKSPACE": WORKSPACE}


def new_crn() -> str:
    return f"crn:cdp:ml:{REGION}:{ACCOUNT}:workspace:{WORKSPACE}/{uuid.uuid4()}"


@dataclass
class World:
    client: TestClient
    project_crn: str
    commit: str
    builds: dict[str, dict[str, Any]]  # model name -> build as POST /api/v1/builds answered
    build_output: dict[str, Any]
    wine_dep: str
    churn_dep: str

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(f"/api/v1{path}", **kw)


def deployment_body(crn: str, build: dict[str, Any], name: str, status: str = "deployed",
                    **extra: Any) -> dict[str, Any]:
    return {"crn": crn, "build_crn": build["build_crn"], "model_crn": build["model_crn"],
            "model_name": build["model_name"], "name": name, "status": status, "create_time_ms": 1_700_000_000_000,
            "deployed_time_ms": 1_700_000_060_000, "cpu_millicores": 500, "memory_mb": 2048, "replicas": 2,
            "endpoint_url": f"http://serving.local/{name}", "metadata": {"team": "ml"}, **extra}


def put_deployment(client: TestClient, body: dict[str, Any], headers: dict[str, str] | None = AUTH) -> Any:
    return client.put(f"/api/v1/deployments/{body['crn']}", json=body, headers=headers)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with platform_app(tmp_path_factory.mktemp("api") / "store", {"MLCATALOG_API_TOKEN": TOKEN, **CRN_ENV}) as c:
        yield c


@pytest.fixture(scope="module")
def world(client: TestClient, tmp_path_factory: pytest.TempPathFactory) -> World:
    repo = make_project(tmp_path_factory.mktemp("api-project"), TWO_MODELS)
    r = client.post("/api/v1/builds", json={"project_dir": str(repo)}, headers=AUTH)
    assert r.status_code == 200, r.text
    out = json_of(r)
    builds = {b["model_name"]: b for b in out["builds"]}
    assert set(builds) == {WINE_MODEL, CHURN_MODEL}
    wine_dep, churn_dep = new_crn(), new_crn()
    r = put_deployment(client, deployment_body(wine_dep, builds[WINE_MODEL], "wine-dep"))
    assert r.status_code == 200, r.text
    r = put_deployment(client, deployment_body(churn_dep, builds[CHURN_MODEL], "churn-dep"))
    assert r.status_code == 200, r.text
    return World(client, out["project_crn"], out["commit"], builds, out, wine_dep, churn_dep)


# -- the build the API reads ------------------------------------------------------------------------


def test_build_result(world: World) -> None:
    out = world.build_output
    assert out["project_crn"].startswith(f"crn:cdp:ml:{REGION}:{ACCOUNT}:workspace:{WORKSPACE}/")
    assert len(out["commit"]) == 40
    for b in out["builds"]:
        assert b["version"] == 1 and b["new"] is True
        assert b["build_crn"].startswith(f"crn:cdp:ml:{REGION}:{ACCOUNT}:workspace:{WORKSPACE}/")
        assert b["model_crn"].startswith(f"crn:cdp:ml:{REGION}:{ACCOUNT}:workspace:{WORKSPACE}/")
        assert b["guid"] == json_of(world.get(f"/builds/{b['build_crn']}"))["guid"]  # for Atlas's own clients
    assert out["creates"] > 0
    # declared-only is a note, not an error, and said once
    assert sum("declared" in n for n in out["notes"]) == 1, out["notes"]


# -- writes: auth and validation --------------------------------------------------------------------


def test_write_without_token_is_401(world: World) -> None:
    crn = new_crn()
    r = put_deployment(world.client, deployment_body(crn, world.builds[WINE_MODEL], "no-token"), headers=None)
    assert r.status_code == 401
    body = json_of(r)
    assert body["code"] == "unauthorized" and body["message"]
    assert world.get(f"/deployments/{crn}").status_code == 404


def test_write_with_wrong_token_is_403(world: World) -> None:
    crn = new_crn()
    r = put_deployment(world.client, deployment_body(crn, world.builds[WINE_MODEL], "bad-token"),
                       headers={"Authorization": "Bearer not-the-token"})
    assert r.status_code == 403
    assert json_of(r)["code"] == "forbidden"
    r = put_deployment(world.client, deployment_body(crn, world.builds[WINE_MODEL], "basic"),
                       headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert r.status_code == 401 and json_of(r)["code"] == "unauthorized"
    assert world.get(f"/deployments/{crn}").status_code == 404


@pytest.mark.parametrize("change", [{"status": "exploded"}, {"cpu_millicores": -1}, {"build_crn": None},
                                    {"create_time_ms": "yesterday"}])
def test_invalid_deployment_body_is_a_json_4xx(world: World, change: dict[str, Any]) -> None:
    crn = new_crn()
    body = {**deployment_body(crn, world.builds[WINE_MODEL], "invalid"), **change}
    r = put_deployment(world.client, body)
    assert r.status_code in (400, 422), r.text
    json_of(r)
    assert world.get(f"/deployments/{crn}").status_code == 404


def test_missing_body_is_a_json_4xx(world: World) -> None:
    r = world.client.put(f"/api/v1/deployments/{new_crn()}", headers=AUTH)
    assert r.status_code in (400, 422), r.text
    json_of(r)


def test_crn_mismatch_between_path_and_body_is_400(world: World) -> None:
    body = deployment_body(new_crn(), world.builds[WINE_MODEL], "mismatch")
    r = world.client.put(f"/api/v1/deployments/{new_crn()}", json=body, headers=AUTH)
    assert r.status_code == 400
    assert json_of(r)["code"] == "invalid_input"


def test_deployment_of_unknown_build_is_a_4xx_not_a_crash(world: World) -> None:
    crn = new_crn()
    body = {**deployment_body(crn, world.builds[WINE_MODEL], "orphan"), "build_crn": new_crn()}
    r = put_deployment(world.client, body)
    assert 400 <= r.status_code < 500, r.text
    assert json_of(r)["code"] in ("invalid_input", "not_found")
    assert world.get(f"/deployments/{crn}").status_code == 404


def test_recording_is_idempotent_and_updates_status(world: World) -> None:
    crn = new_crn()
    build = world.builds[CHURN_MODEL]
    r = put_deployment(world.client, deployment_body(crn, build, "churn-canary"))
    assert r.status_code == 200
    assert json_of(r)["creates"] >= 1
    guid = json_of(r)["guid"]
    assert guid == json_of(world.get(f"/deployments/{crn}"))["guid"]  # the entity's guid, for Atlas's clients
    again = put_deployment(world.client, deployment_body(crn, build, "churn-canary"))
    assert again.status_code == 200
    assert json_of(again) == {"creates": 0, "updates": 0, "written": 0, "guid": guid}
    stopped = put_deployment(world.client, deployment_body(crn, build, "churn-canary", status="stopped"))
    assert stopped.status_code == 200
    assert json_of(stopped)["creates"] == 0 and json_of(stopped)["updates"] >= 1
    d = json_of(world.get(f"/deployments/{crn}"))
    assert d["status"] == "stopped"
    assert crn in {x["crn"] for x in json_of(world.get("/deployments", params={"status": "stopped"}))}
    assert crn not in {x["crn"] for x in json_of(world.get("/deployments", params={"status": "deployed"}))}


# -- reads ------------------------------------------------------------------------------------------


def test_projects(world: World) -> None:
    projects = json_of(world.get("/projects"))
    p = next(p for p in projects if p["crn"] == world.project_crn)
    assert p["name"] == "wine-project"
    assert p["git_url"]
    one = json_of(world.get(f"/projects/{world.project_crn}"))
    assert one["crn"] == world.project_crn and one["guid"] == p["guid"]


def test_models(world: World) -> None:
    models = {m["name"]: m for m in json_of(world.get("/models"))}
    assert set(models) >= {WINE_MODEL, CHURN_MODEL}
    wine = models[WINE_MODEL]
    assert wine["crn"] == world.builds[WINE_MODEL]["model_crn"]
    assert wine["project_crn"] == world.project_crn
    assert wine["latest_version"] == 1
    assert wine["builds"] == [world.builds[WINE_MODEL]["build_crn"]]
    one = json_of(world.get(f"/models/{wine['crn']}"))
    assert one == wine
    by_project = json_of(world.get("/models", params={"project": world.project_crn}))
    assert {m["name"] for m in by_project} == {WINE_MODEL, CHURN_MODEL}


def test_builds(world: World) -> None:
    churn = world.builds[CHURN_MODEL]
    listed = json_of(world.get("/builds", params={"model": churn["model_crn"]}))
    assert [b["crn"] for b in listed] == [churn["build_crn"]]
    b = json_of(world.get(f"/builds/{churn['build_crn']}"))
    assert b["crn"] == churn["build_crn"]
    assert b["model_crn"] == churn["model_crn"] and b["model_name"] == CHURN_MODEL
    assert b["version"] == 1
    assert b["git_commit"] == world.commit
    assert b["lineage_file"] == "lineage.yml"
    assert b["project_crn"] == world.project_crn
    assert b["metadata"] == CHURN_METADATA
    everything = json_of(world.get("/builds"))
    assert {churn["build_crn"], world.builds[WINE_MODEL]["build_crn"]} <= {x["crn"] for x in everything}
    by_project = json_of(world.get("/builds", params={"project": world.project_crn}))
    assert {x["crn"] for x in by_project} == {churn["build_crn"], world.builds[WINE_MODEL]["build_crn"]}


def test_deployments(world: World) -> None:
    listed = {d["crn"]: d for d in json_of(world.get("/deployments"))}
    assert {world.wine_dep, world.churn_dep} <= set(listed)
    d = json_of(world.get(f"/deployments/{world.wine_dep}"))
    wine = world.builds[WINE_MODEL]
    assert d["crn"] == world.wine_dep
    assert d["name"] == "wine-dep"
    assert d["status"] == "deployed"
    assert d["build_crn"] == wine["build_crn"]
    assert d["model_crn"] == wine["model_crn"]
    assert d["model_name"] == WINE_MODEL
    assert d["endpoint_url"] == "http://serving.local/wine-dep"
    assert (d["cpu_millicores"], d["memory_mb"], d["replicas"]) == (500, 2048, 2)
    assert d["metadata"] == {"team": "ml"}
    assert d["create_time"] == 1_700_000_000_000 and d["deployed_time"] == 1_700_000_060_000
    assert listed[world.wine_dep] == d
    by_model = json_of(world.get("/deployments", params={"model": wine["model_crn"]}))
    assert [x["crn"] for x in by_model] == [world.wine_dep]


@pytest.mark.parametrize("kind", ["projects", "models", "builds", "deployments", "deployments/{}/lineage"])
def test_unknown_crn_is_404(world: World, kind: str) -> None:
    path = kind.format(new_crn()) if "{}" in kind else f"{kind}/{new_crn()}"
    r = world.get(f"/{path}")
    assert r.status_code == 404, r.text
    body = json_of(r)
    assert body["code"] == "not_found" and body["message"]


# -- lineage and impact -----------------------------------------------------------------------------


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for u in node.get("upstream", []):
        yield from _walk(u)


def _only(nodes: list[dict[str, Any]], type_name: str) -> dict[str, Any]:
    found = [n for n in nodes if n["type_name"] == type_name]
    assert len(found) == 1, (type_name, [(n["type_name"], n["qualified_name"]) for n in nodes])
    return found[0]


def test_deployment_lineage_tree(world: World) -> None:
    r = world.get(f"/deployments/{world.wine_dep}/lineage")
    assert r.status_code == 200, r.text
    body = json_of(r)
    assert body["deployment"]["crn"] == world.wine_dep
    wine = world.builds[WINE_MODEL]
    root = body["tree"]
    assert (root["type_name"], root["qualified_name"]) == ("ml_model_deployment", world.wine_dep)
    deploy = _only(root["upstream"], "ml_model_deploy_process")
    build = _only(deploy["upstream"], "ml_model_build")
    assert build["qualified_name"] == wine["build_crn"]
    train = _only(build["upstream"], "ml_model_train_build_process")
    inputs = {(n["type_name"], n["qualified_name"]) for n in train["upstream"]}
    assert {("hive_table", t) for t in WINE_TABLES} <= inputs
    assert ("ml_project", world.project_crn) in inputs
    for n in _walk(root):
        assert n["status"] == "ACTIVE" and n["guid"]
    # nothing of the other model leaks in
    qns = {n["qualified_name"] for n in _walk(root)}
    assert not qns & set(CHURN_TABLES) and world.builds[CHURN_MODEL]["build_crn"] not in qns

    raw = body["atlas_lineage"]
    assert raw["baseEntityGuid"] == root["guid"]
    assert root["guid"] in raw["guidEntityMap"]
    assert {n["guid"] for n in _walk(root)} <= set(raw["guidEntityMap"])
    assert raw["relations"] and all({"fromEntityId", "toEntityId"} <= set(rel) for rel in raw["relations"])


def test_impact_of_a_table(world: World) -> None:
    r = world.get("/impact", params={"qualifiedName": "default.wineds_ext@cm"})
    assert r.status_code == 200, r.text
    body = json_of(r)
    assert body["qualified_name"] == "default.wineds_ext@cm"
    assert len(body["sources"]) == 1
    deps = {d["crn"] for d in body["deployments"]}
    assert world.wine_dep in deps and world.churn_dep not in deps
    assert {b["crn"] for b in body["builds"]} == {world.builds[WINE_MODEL]["build_crn"]}
    churn = json_of(world.get("/impact", params={"qualifiedName": CHURN_TABLES[0]}))
    assert world.churn_dep in {d["crn"] for d in churn["deployments"]}
    assert world.wine_dep not in {d["crn"] for d in churn["deployments"]}


def test_impact_of_a_build(world: World) -> None:
    body = json_of(world.get("/impact", params={"qualifiedName": world.builds[WINE_MODEL]["build_crn"]}))
    assert world.wine_dep in {d["crn"] for d in body["deployments"]}
    assert world.churn_dep not in {d["crn"] for d in body["deployments"]}


def test_impact_of_unknown_name_is_404(world: World) -> None:
    r = world.get("/impact", params={"qualifiedName": "default.no_such_table@cm"})
    assert r.status_code == 404
    assert json_of(r)["code"] == "not_found"
    missing = world.get("/impact")
    assert 400 <= missing.status_code < 500
    json_of(missing)


# -- classification propagation ---------------------------------------------------------------------


def _create_classification(client: TestClient, name: str) -> None:
    r = client.post("/api/atlas/v2/types/typedefs", auth=ATLAS_AUTH, json={
        "classificationDefs": [{"name": name, "description": f"{name} (test)", "superTypes": [],
                                "attributeDefs": []}]})
    assert r.status_code == 200, r.text


def _classify(client: TestClient, type_name: str, qualified_name: str, classification: str) -> None:
    r = client.post(f"/api/atlas/v2/entity/uniqueAttribute/type/{type_name}/classifications",
                    params={"attr:qualifiedName": qualified_name}, json=[{"typeName": classification}],
                    auth=ATLAS_AUTH)
    assert r.status_code in (200, 204), r.text


def test_classification_on_a_table_propagates_to_downstream_deployments(world: World) -> None:
    assert "PII" not in json_of(world.get(f"/deployments/{world.wine_dep}"))["classifications"]
    _create_classification(world.client, "PII")
    assert json_of(world.get("/deployments", params={"classification": "PII"})) == []

    _classify(world.client, "hive_table", "default.wineds_ext@cm", "PII")

    wine = json_of(world.get(f"/deployments/{world.wine_dep}"))
    assert "PII" in wine["classifications"]
    churn = json_of(world.get(f"/deployments/{world.churn_dep}"))
    assert "PII" not in churn["classifications"]
    tagged = json_of(world.get("/deployments", params={"classification": "PII"}))
    assert world.wine_dep in {d["crn"] for d in tagged}
    assert world.churn_dep not in {d["crn"] for d in tagged}
    assert all("PII" in d["classifications"] for d in tagged)
    # the listing reports it too, and the lineage shows where it comes from
    listed = {d["crn"]: d for d in json_of(world.get("/deployments"))}
    assert "PII" in listed[world.wine_dep]["classifications"]
    assert "PII" not in listed[world.churn_dep]["classifications"]
    lineage = json_of(world.get(f"/deployments/{world.wine_dep}/lineage"))
    assert "PII" in lineage["deployment"]["classifications"]
    table = next(n for n in _walk(lineage["tree"]) if n["qualified_name"] == "default.wineds_ext@cm")
    assert "PII" in table["classifications"]
    other = next(n for n in _walk(lineage["tree"]) if n["qualified_name"] == "default.wineds_ext_nolabel@cm")
    assert "PII" not in other["classifications"]
    impact = json_of(world.get("/impact", params={"qualifiedName": "default.wineds_ext@cm"}))
    assert "PII" in next(d for d in impact["deployments"] if d["crn"] == world.wine_dep)["classifications"]


def test_classification_on_a_build_propagates_to_its_deployments(world: World) -> None:
    _create_classification(world.client, "Confidential")
    _classify(world.client, "ml_model_build", world.builds[CHURN_MODEL]["build_crn"], "Confidential")
    assert "Confidential" in json_of(world.get(f"/deployments/{world.churn_dep}"))["classifications"]
    assert "Confidential" not in json_of(world.get(f"/deployments/{world.wine_dep}"))["classifications"]
    tagged = {d["crn"] for d in json_of(world.get("/deployments", params={"classification": "Confidential"}))}
    assert world.churn_dep in tagged and world.wine_dep not in tagged


def test_unknown_classification_finds_nothing(world: World) -> None:
    # Atlas refuses an unknown classification (400 ATLAS-400-00-046); a filter no entity can match lists nothing
    r = world.get("/deployments", params={"classification": "NoSuchTag"})
    assert r.status_code == 200, r.text
    assert json_of(r) == []


# -- drift and build inputs (the model monitor's) ---------------------------------------------------


def drift_body(crn: str, status: str = "drifting", columns: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"crn": crn, "status": status, "columns": ["alcohol"] if columns is None else columns,
            "checked_time_ms": 1_700_000_900_000, "window_start_ms": 1_700_000_000_000,
            "window_end_ms": 1_700_000_600_000, **extra}


def put_drift(client: TestClient, body: dict[str, Any], headers: dict[str, str] | None = AUTH,
              crn: str | None = None) -> Any:
    return client.put(f"/api/v1/deployments/{crn or body['crn']}/drift", json=body, headers=headers)


@pytest.fixture(scope="module")
def drifting_dep(world: World) -> str:
    crn = new_crn()
    r = put_deployment(world.client, deployment_body(crn, world.builds[WINE_MODEL], "wine-monitored"))
    assert r.status_code == 200, r.text
    return crn


def test_drift_is_recorded_and_read_back(world: World, drifting_dep: str) -> None:
    guid = json_of(world.get(f"/deployments/{drifting_dep}"))["guid"]
    r = put_drift(world.client, drift_body(drifting_dep, columns=["alcohol", "ph"]))
    assert r.status_code == 200, r.text
    assert json_of(r) == {"creates": 0, "updates": 1, "written": 2, "guid": guid}
    d = json_of(world.get(f"/deployments/{drifting_dep}"))
    assert (d["drift_status"], d["drift_columns"]) == ("drifting", ["alcohol", "ph"])
    assert "DRIFTING" in d["classifications"]
    tagged = json_of(world.get("/deployments", params={"classification": "DRIFTING"}))
    assert [x["crn"] for x in tagged] == [drifting_dep]
    # the deployment's own: nothing upstream of it carries it, no other deployment of the build shows it
    assert "DRIFTING" not in json_of(world.get(f"/deployments/{world.wine_dep}"))["classifications"]
    lineage = json_of(world.get(f"/deployments/{drifting_dep}/lineage"))
    assert "DRIFTING" in lineage["deployment"]["classifications"]
    assert lineage["tree"]["classifications"] == ["DRIFTING"]
    assert all("DRIFTING" not in n["classifications"] for u in lineage["tree"]["upstream"] for n in _walk(u))
    # a deployment never checked says so
    d = json_of(world.get(f"/deployments/{world.churn_dep}"))
    assert (d["drift_status"], d["drift_columns"]) == (None, [])

    again = put_drift(world.client, drift_body(drifting_dep, columns=["alcohol", "ph"]))
    assert json_of(again) == {"creates": 0, "updates": 0, "written": 0, "guid": guid}
    ok = put_drift(world.client, drift_body(drifting_dep, "ok", []))
    assert ok.status_code == 200 and json_of(ok)["written"] == 2
    d = json_of(world.get(f"/deployments/{drifting_dep}"))
    assert (d["drift_status"], d["drift_columns"], "DRIFTING" in d["classifications"]) == ("ok", [], False)
    assert json_of(world.get("/deployments", params={"classification": "DRIFTING"})) == []
    # the Atlas entity carries it as typed attributes (dates as epoch ms)
    entity = world.client.get("/api/atlas/v2/entity/uniqueAttribute/type/ml_model_deployment",
                              params={"attr:qualifiedName": drifting_dep}, auth=ATLAS_AUTH).json()["entity"]
    attrs = entity["attributes"]
    assert (attrs["driftStatus"], attrs["driftCheckedTime"], attrs["driftWindowStart"], attrs["driftWindowEnd"]) == (
        "ok", 1_700_000_900_000, 1_700_000_000_000, 1_700_000_600_000)


def test_drift_write_needs_the_token(world: World, drifting_dep: str) -> None:
    r = put_drift(world.client, drift_body(drifting_dep), headers=None)
    assert r.status_code == 401 and json_of(r)["code"] == "unauthorized"
    r = put_drift(world.client, drift_body(drifting_dep), headers={"Authorization": "Bearer nope"})
    assert r.status_code == 403 and json_of(r)["code"] == "forbidden"


@pytest.mark.parametrize("change", [{"status": "exploded"}, {"columns": "alcohol"}, {"checked_time_ms": -1},
                                    {"window_end_ms": 1}, {"crn": None}])
def test_invalid_drift_body_is_a_json_4xx(world: World, drifting_dep: str, change: dict[str, Any]) -> None:
    r = put_drift(world.client, {**drift_body(drifting_dep), **change}, crn=drifting_dep)
    assert r.status_code in (400, 422), r.text
    assert set(json_of(r)) >= {"code", "message"}


def test_drift_crn_mismatch_is_400_and_an_unknown_deployment_404(world: World, drifting_dep: str) -> None:
    r = put_drift(world.client, drift_body(new_crn()), crn=drifting_dep)
    assert r.status_code == 400 and json_of(r)["code"] == "invalid_input"
    crn = new_crn()
    r = put_drift(world.client, drift_body(crn))
    assert r.status_code == 404, r.text
    assert json_of(r)["code"] == "not_found" and crn in json_of(r)["message"]
    # the drift route did not record a deployment named ".../drift"
    assert world.get(f"/deployments/{crn}/drift").status_code == 404


def test_build_inputs(world: World) -> None:
    wine = world.builds[WINE_MODEL]
    r = world.get(f"/builds/{wine['build_crn']}/inputs")
    assert r.status_code == 200, r.text
    assert json_of(r) == [{"type_name": "hive_table", "qualified_name": t, "name": t.split(".")[1].split("@")[0],
                           "columns": []} for t in WINE_TABLES]
    churn = json_of(world.get(f"/builds/{world.builds[CHURN_MODEL]['build_crn']}/inputs"))
    assert [x["qualified_name"] for x in churn] == CHURN_TABLES
    # the build itself is still at its own path
    assert json_of(world.get(f"/builds/{wine['build_crn']}"))["crn"] == wine["build_crn"]
    missing = world.get(f"/builds/{new_crn()}/inputs")
    assert missing.status_code == 404 and json_of(missing)["code"] == "not_found"


# -- OpenAPI ----------------------------------------------------------------------------------------


def test_openapi_lists_the_catalog_api_only(world: World) -> None:
    r = world.get("/openapi.json")
    assert r.status_code == 200
    doc = json_of(r)
    paths = set(doc["paths"])
    for p in ("/api/v1/projects", "/api/v1/models", "/api/v1/builds", "/api/v1/deployments", "/api/v1/impact"):
        assert p in paths, sorted(paths)
    assert any(p.startswith("/api/v1/deployments/") and p.endswith("/lineage") for p in paths)
    assert any(p.startswith("/api/v1/deployments/") and "put" in doc["paths"][p] for p in paths)
    assert "put" in doc["paths"]["/api/v1/deployments/{crn}/drift"]
    assert "get" in doc["paths"]["/api/v1/builds/{crn}/inputs"]
    # Atlas's own REST surface is not ours to document (other routers of `up`, e.g. serving, may add paths)
    assert not any(p.startswith("/api/atlas") for p in paths), sorted(paths)


def test_reads_need_no_token_by_default(world: World) -> None:
    assert world.get("/projects").status_code == 200
    assert world.get("/projects", headers={"Authorization": "Bearer wrong"}).status_code == 200


# -- MLCATALOG_API_READ_AUTH=true -------------------------------------------------------------------


def test_read_auth_requires_the_token_for_reads(tmp_path_factory: pytest.TempPathFactory) -> None:
    store = tmp_path_factory.mktemp("api-read-auth") / "store"
    env = {"MLCATALOG_API_TOKEN": TOKEN, "MLCATALOG_API_READ_AUTH": "true", **CRN_ENV}
    with platform_app(store, env) as c:
        for path in ("/projects", "/models", "/builds", "/deployments", f"/builds/{new_crn()}/inputs",
                     f"/deployments/{new_crn()}", "/impact?qualifiedName=default.wineds_ext@cm"):
            r = c.get(f"/api/v1{path}")
            assert r.status_code == 401, (path, r.status_code, r.text)
            assert json_of(r)["code"] == "unauthorized"
            wrong = c.get(f"/api/v1{path}", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 403, (path, wrong.status_code)
        assert c.get("/api/v1/projects", headers=AUTH).status_code == 200
        assert c.get(f"/api/v1/deployments/{new_crn()}", headers=AUTH).status_code == 404
        # the Atlas API keeps its own Basic auth
        assert c.get("/api/atlas/admin/status", auth=ATLAS_AUTH).status_code == 200
