"""``GET /api/v1/lineage``: any entity's lineage as a layered graph (catalog/lineage_graph.py).

One app per module (tests/inprocess.py, the embedded store): the Hive hook's part of the wine story is written
through the Atlas API (S3 directory -> hive_process -> ``wine`` -> hive_process -> ``nolabel``), the catalog builds
a model on ``nolabel`` and records its deployment through ``/api/v1``, a second model on a table of its own is
built and deployed to be deleted. ``wine`` carries PII and the project Confidential. Then lookups, layers, kinds,
depth, directions, classifications, deleted entities, errors and the response's shape (a golden file) are checked.
Two more tests take the paths a real Atlas takes: the catalog over HTTP with data written by Atlas's official
client and the UI link from the settings, and an Atlas that reports propagated classifications itself.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from apache_atlas.client.base_client import AtlasClient
from starlette.testclient import TestClient

from catalog.api.app import TokenAuth, create_catalog_app
from catalog.atlas.client import AtlasCatalogClient
from catalog.lineage_graph import LineageGraphs
from mlcatalog.assemble import local_catalog
from mlcatalog.settings import load_settings
from tests.api.support import make_project
from tests.conftest import ATLAS_PASSWORD as SERVER_PASSWORD
from tests.conftest import ATLAS_USER, RunningAtlas, free_port
from tests.embedded.official_client_helpers import bulk, entity, ref
from tests.embedded.test_wire import shape, shape_diff
from tests.inprocess import ATLAS_PASSWORD, json_of, platform_app

TOKEN = "secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ATLAS_AUTH = ("admin", ATLAS_PASSWORD)
T0 = 1_704_164_645_000
GOLDEN = Path(__file__).parent / "golden" / "lineage_graph.json"


@dataclass
class Story:
    client: TestClient
    uid: str
    guids: dict[str, str]  # D (S3 dir), T1 (wine), P1, T2 (nolabel), P2, PJ, B, P3 (train), Y, P4 (deploy), T3, B2, Y2
    crns: dict[str, str]  # PJ, B, Y, B2, Y2

    def lineage(self, **params: Any) -> Any:
        return self.client.get("/api/v1/lineage", params=params)

    def graph(self, **params: Any) -> dict[str, Any]:
        r = self.lineage(**params)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = json_of(r)
        return body


def _by_guid(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["guid"]: n for n in graph["nodes"]}


def _deploy(client: TestClient, build: dict[str, Any], name: str) -> str:
    crn = f"crn:cdp:ml:local:mlcatalog:workspace:default/{uuid.uuid4()}"
    r = client.put(f"/api/v1/deployments/{crn}", headers=AUTH, json={
        "crn": crn, "build_crn": build["build_crn"], "model_crn": build["model_crn"], "model_name": name,
        "name": name, "status": "deployed", "create_time_ms": T0, "deployed_time_ms": T0 + 60_000,
        "cpu_millicores": 500, "memory_mb": 1024, "replicas": 2, "endpoint_url": f"http://serving.local/{name}"})
    assert r.status_code == 200, r.text
    return crn


def _classify(client: TestClient, guid: str, name: str) -> None:
    r = client.post("/api/atlas/v2/types/typedefs", auth=ATLAS_AUTH, json={
        "classificationDefs": [{"name": name, "superTypes": [], "attributeDefs": []}]})
    assert r.status_code in (200, 409), r.text
    r = client.post(f"/api/atlas/v2/entity/guid/{guid}/classifications", auth=ATLAS_AUTH, json=[{"typeName": name}])
    assert r.status_code == 204, r.text


def _hook_entities(uid: str) -> list[dict[str, Any]]:
    """As Atlas's Hive hook records an external table on S3 and an INSERT ... SELECT into a second table."""
    def process(guid: str, qn: str, op: str, source: str, target: str) -> dict[str, Any]:
        return {"typeName": "hive_process", "guid": guid, "attributes": {
            "qualifiedName": qn, "name": qn, "startTime": T0, "endTime": T0 + 1000, "userName": "hive",
            "operationType": op, "queryText": f"{op} {target}", "queryPlan": "Not Supported", "queryId": qn,
            "inputs": [{"guid": source}], "outputs": [{"guid": target}]}}

    def table(guid: str, name: str) -> dict[str, Any]:
        return {"typeName": "hive_table", "guid": guid, "attributes": {
            "qualifiedName": f"lg{uid}.{name}@cm", "name": name, "owner": "hive", "createTime": T0,
            "tableType": "EXTERNAL_TABLE"}, "relationshipAttributes": {"db": {"guid": "-3"}}}

    return [
        {"typeName": "aws_s3_v2_bucket", "guid": "-1", "attributes": {"qualifiedName": f"s3a://lg{uid}@cm",
                                                                      "name": f"lg{uid}"}},
        {"typeName": "aws_s3_v2_directory", "guid": "-2", "attributes": {
            "qualifiedName": f"s3a://lg{uid}/wine/data/@cm", "name": "data", "objectPrefix": "/wine/data/"},
         "relationshipAttributes": {"container": {"guid": "-1"}}},
        {"typeName": "hive_db", "guid": "-3", "attributes": {"qualifiedName": f"lg{uid}@cm", "name": f"lg{uid}",
                                                             "clusterName": "cm"}},
        table("-4", "wine"), table("-5", "nolabel"), table("-6", "other"),
        {"typeName": "hive_column", "guid": "-7", "attributes": {"qualifiedName": f"lg{uid}.wine.quality@cm",
                                                                 "name": "quality", "type": "string"},
         "relationshipAttributes": {"table": {"guid": "-4", "relationshipType": "hive_table_columns"}}},
        process("-8", f"lg{uid}.wine@cm:{T0}", "CREATETABLE", "-2", "-4"),
        process("-9", f"QUERY:lg{uid}.wine@cm->:INSERT:lg{uid}.nolabel@cm", "QUERY", "-4", "-5"),
    ]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with platform_app(tmp_path_factory.mktemp("lineage") / "store", {"MLCATALOG_API_TOKEN": TOKEN}) as client:
        uid = uuid.uuid4().hex[:8]
        r = client.post("/api/atlas/v2/entity/bulk", auth=ATLAS_AUTH, json={"entities": _hook_entities(uid)})
        assert r.status_code == 200, r.text
        ga = r.json()["guidAssignments"]
        repo = make_project(tmp_path_factory.mktemp("lineage-project"), json.dumps({
            "wine": {"hive_table_qualified_names": [f"lg{uid}.nolabel@cm"]},
            "doomed": {"hive_table_qualified_names": [f"lg{uid}.other@cm"]}}))
        r = client.post("/api/v1/builds", json={"project_dir": str(repo)}, headers=AUTH)
        assert r.status_code == 200, r.text
        out = json_of(r)
        builds = {b["model_name"]: b for b in out["builds"]}
        crns = {"PJ": out["project_crn"], "B": builds["wine"]["build_crn"], "B2": builds["doomed"]["build_crn"],
                "Y": _deploy(client, builds["wine"], "wine-dep"), "Y2": _deploy(client, builds["doomed"], "doomed")}
        guids = {"D": ga["-2"], "T1": ga["-4"], "T2": ga["-5"], "T3": ga["-6"], "P1": ga["-8"], "P2": ga["-9"]}
        y = json_of(client.get("/api/v1/lineage", params={"crn": crns["Y"], "depth": 4}))
        for n in y["nodes"]:
            key = {"ml_project": "PJ", "ml_model_build": "B", "ml_model_deployment": "Y",
                   "ml_model_train_build_process": "P3", "ml_model_deploy_process": "P4"}.get(n["type_name"])
            if key:
                guids[key] = n["guid"]
        guids["B2"] = builds["doomed"]["guid"]
        guids["Y2"] = json_of(client.get(f"/api/v1/deployments/{crns['Y2']}"))["guid"]
        _classify(client, guids["T1"], "PII")
        _classify(client, guids["PJ"], "Confidential")
        yield Story(client, uid, guids, crns)


# -- layers and kinds ---------------------------------------------------------------------------------


def test_chain_from_s3_to_deployment_in_layers(story: Story) -> None:
    g = story.graph(crn=story.crns["Y"], depth=4)
    assert g["base_guid"] == story.guids["Y"] and g["direction"] == "BOTH" and g["depth"] == 4
    nodes = _by_guid(g)
    assert set(nodes) == {story.guids[k] for k in ("D", "P1", "T1", "P2", "T2", "PJ", "P3", "B", "P4", "Y")}
    chain = [nodes[story.guids[k]] for k in ("D", "P1", "T1", "P2", "T2", "P3", "B", "P4", "Y")]
    assert [n["kind"] for n in chain] == ["s3", "process", "table", "process", "table", "process", "build",
                                          "process", "deployment"]
    assert [n["layer"] for n in chain] == list(range(-8, 1))
    assert [n["name"] for n in chain[::2]] == ["data", "wine", "nolabel", "wine v1", "wine-dep"]
    assert nodes[story.guids["PJ"]]["kind"] == "project"
    assert nodes[story.guids["PJ"]]["layer"] == -4  # an input of the training, just left of it
    # every edge goes left to right, and processes have layers of their own
    for e in g["edges"]:
        assert nodes[e["from_guid"]]["layer"] < nodes[e["to_guid"]]["layer"], e
    process_layers = {n["layer"] for n in g["nodes"] if n["kind"] == "process"}
    assert process_layers.isdisjoint(n["layer"] for n in g["nodes"] if n["kind"] != "process")
    assert {(e["from_guid"], e["to_guid"]) for e in g["edges"]} >= {
        (story.guids["D"], story.guids["P1"]), (story.guids["T2"], story.guids["P3"]),
        (story.guids["PJ"], story.guids["P3"]), (story.guids["P4"], story.guids["Y"])}
    assert [n["layer"] for n in g["nodes"]] == sorted(n["layer"] for n in g["nodes"])
    assert g["more_upstream"] is False and g["more_downstream"] is False


def test_node_details(story: Story) -> None:
    nodes = _by_guid(story.graph(crn=story.crns["Y"], depth=4))
    dep = nodes[story.guids["Y"]]
    assert dep["qualified_name"] == story.crns["Y"] and dep["status"] == "ACTIVE"
    assert dep["details"]["crn"] == story.crns["Y"]
    assert dep["details"]["modelEndpointURL"] == "http://serving.local/wine-dep"
    assert (dep["details"]["replicas"], dep["details"]["status"]) == (2, "deployed")
    assert dep["details"]["deployedTime"] == T0 + 60_000
    build = nodes[story.guids["B"]]["details"]
    assert build["crn"] == story.crns["B"] and len(str(build["gitCommit"])) == 40 and build["version"] == 1
    assert nodes[story.guids["T1"]]["details"]["owner"] == "hive"
    assert nodes[story.guids["P2"]]["details"]["operationType"] == "QUERY"
    for n in nodes.values():
        assert all(isinstance(v, str | int | float | bool) for v in n["details"].values()), n
        assert n["atlas_url"] is None  # the embedded store has no Atlas UI, and none is configured


# -- depth and direction ----------------------------------------------------------------------------------


def test_depth_counts_data_sets_and_says_what_lies_beyond(story: Story) -> None:
    g = story.graph(crn=story.crns["Y"], depth=1)
    assert {n["guid"] for n in g["nodes"]} == {story.guids[k] for k in ("P4", "B", "Y")}
    assert (g["more_upstream"], g["more_downstream"]) == (True, False)
    g = story.graph(crn=story.crns["Y"])  # depth 3, Atlas's default
    assert g["depth"] == 3
    drawn = {n["guid"] for n in g["nodes"]}
    assert drawn == {story.guids[k] for k in ("T1", "P2", "T2", "PJ", "P3", "B", "P4", "Y")}  # T1: 3 data sets away
    assert g["more_upstream"] is True  # the S3 directory
    assert story.graph(crn=story.crns["Y"], depth=4)["more_upstream"] is False


def test_output_and_both_from_a_table(story: Story) -> None:
    g = story.graph(guid=story.guids["T2"], direction="OUTPUT", depth=2)
    layers = {n["guid"]: n["layer"] for n in g["nodes"]}
    assert layers == {story.guids["T2"]: 0, story.guids["P3"]: 1, story.guids["B"]: 2, story.guids["P4"]: 3,
                      story.guids["Y"]: 4}
    assert (g["more_upstream"], g["more_downstream"]) == (True, False)  # upstream exists but was not asked for

    g = story.graph(guid=story.guids["T2"], depth=1)
    layers = {n["guid"]: n["layer"] for n in g["nodes"]}
    assert layers == {story.guids["T1"]: -2, story.guids["P2"]: -1, story.guids["T2"]: 0, story.guids["P3"]: 1,
                      story.guids["B"]: 2}
    assert (g["more_upstream"], g["more_downstream"]) == (True, True)

    g = story.graph(guid=story.guids["T2"], direction="INPUT", depth=1)
    assert {n["layer"] for n in g["nodes"]} == {-2, -1, 0}
    assert (g["more_upstream"], g["more_downstream"]) == (True, True)


# -- classifications --------------------------------------------------------------------------------------


def _tags(node: dict[str, Any]) -> set[tuple[str, bool, str]]:
    return {(c["name"], c["propagated"], c["source_guid"]) for c in node["classifications"]}


def test_a_tag_on_a_table_reaches_the_deployment_beyond_the_drawn_depth(story: Story) -> None:
    g = story.graph(crn=story.crns["Y"], depth=1)  # the table is not drawn
    nodes = _by_guid(g)
    assert _tags(nodes[story.guids["Y"]]) == {("PII", True, story.guids["T1"]),
                                              ("Confidential", True, story.guids["PJ"])}
    assert ("PII", True, story.guids["T1"]) in _tags(nodes[story.guids["B"]])

    nodes = _by_guid(story.graph(crn=story.crns["Y"], depth=4))
    assert _tags(nodes[story.guids["T1"]]) == {("PII", False, story.guids["T1"])}
    assert _tags(nodes[story.guids["T2"]]) == {("PII", True, story.guids["T1"])}
    assert _tags(nodes[story.guids["D"]]) == set()
    assert _tags(nodes[story.guids["PJ"]]) == {("Confidential", False, story.guids["PJ"])}


def test_downstream_nodes_get_tags_from_inputs_that_are_not_drawn(story: Story) -> None:
    """The project is an input of the training, not downstream of the table: the build still carries its tag."""
    nodes = _by_guid(story.graph(guid=story.guids["T2"], direction="OUTPUT", depth=1))
    assert story.guids["PJ"] not in nodes
    assert _tags(nodes[story.guids["B"]]) == {("PII", True, story.guids["T1"]),
                                              ("Confidential", True, story.guids["PJ"])}
    assert _tags(nodes[story.guids["T2"]]) == {("PII", True, story.guids["T1"])}


# -- lookups ----------------------------------------------------------------------------------------------


def test_lookups_by_guid_crn_and_qualified_name(story: Story) -> None:
    y = story.guids["Y"]
    assert story.graph(guid=y)["base_guid"] == y
    assert story.graph(qualifiedName=story.crns["Y"])["base_guid"] == y
    assert story.graph(qualifiedName=story.crns["Y"], typeName="ml_model_deployment")["base_guid"] == y
    assert story.graph(crn=story.crns["B"])["base_guid"] == story.guids["B"]
    assert story.graph(crn=story.crns["PJ"])["base_guid"] == story.guids["PJ"]
    assert story.graph(qualifiedName=f"lg{story.uid}.wine@cm")["base_guid"] == story.guids["T1"]
    process = story.graph(qualifiedName=f"lg{story.uid}.wine@cm:{T0}", depth=1)
    assert process["base_guid"] == story.guids["P1"]
    assert {n["layer"] for n in process["nodes"]} == {-1, 0, 1}  # depth 1 from a process: its own data sets


@pytest.mark.parametrize("location", ["s3a://lg{uid}/wine/data/", "s3a://lg{uid}/wine/data",
                                      "s3a://lg{uid}/wine/data/@cm"])
def test_an_s3_location_resolves_without_its_namespace(story: Story, location: str) -> None:
    g = story.graph(qualifiedName=location.format(uid=story.uid), direction="OUTPUT", depth=1)
    nodes = _by_guid(g)
    assert g["base_guid"] == story.guids["D"] and nodes[story.guids["D"]]["kind"] == "s3"
    assert nodes[story.guids["T1"]]["layer"] == 2 and nodes[story.guids["T1"]]["kind"] == "table"


def test_an_entity_outside_lineage_stands_alone(story: Story) -> None:
    g = story.graph(qualifiedName=f"lg{story.uid}@cm", typeName="hive_db")
    assert [(n["kind"], n["layer"], n["name"]) for n in g["nodes"]] == [("other", 0, f"lg{story.uid}")]
    assert g["edges"] == [] and (g["more_upstream"], g["more_downstream"]) == (False, False)


# -- deleted entities -------------------------------------------------------------------------------------


def test_a_deleted_build_is_drawn_as_deleted(story: Story) -> None:
    r = story.client.delete(f"/api/atlas/v2/entity/guid/{story.guids['B2']}", auth=ATLAS_AUTH)
    assert r.status_code == 200, r.text
    nodes = _by_guid(story.graph(guid=story.guids["T3"], direction="OUTPUT", depth=2))
    assert nodes[story.guids["B2"]]["status"] == "DELETED" and nodes[story.guids["B2"]]["kind"] == "build"
    assert nodes[story.guids["Y2"]]["status"] == "DELETED"  # deleting a build deletes its deployments
    assert nodes[story.guids["T3"]]["status"] == "ACTIVE"
    assert nodes[story.guids["B2"]]["details"]["crn"] == story.crns["B2"]
    g = story.graph(crn=story.crns["B2"])  # a deleted entity is still found, and its lineage drawn
    assert g["base_guid"] == story.guids["B2"]
    assert _by_guid(g)[story.guids["B2"]]["status"] == "DELETED"


# -- errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {}, {"guid": "g", "crn": "c"}, {"crn": "c", "qualifiedName": "q"}, {"crn": "c", "typeName": "hive_table"},
    {"crn": "c", "depth": 0}, {"crn": "c", "depth": 21}, {"crn": "c", "depth": "x"}, {"crn": "c", "direction": "UP"},
    {"qualifiedName": ""}, {"qualifiedName": "t@cm", "typeName": "no_such_type"},
])
def test_bad_requests_are_400(story: Story, params: dict[str, Any]) -> None:
    r = story.lineage(**params)
    assert r.status_code == 400, r.text
    body = json_of(r)
    assert body["code"] == "invalid_input" and body["message"] and isinstance(body["problems"], list)


@pytest.mark.parametrize("params", [
    {"crn": "crn:cdp:ml:local:mlcatalog:workspace:default/nothing"},
    {"guid": str(uuid.uuid4())},
    {"qualifiedName": "nodb.notable@cm"},
    {"qualifiedName": "s3a://no-such-bucket/dir/"},
    {"crn": "{T1}"},  # a qualifiedName, but not of a project, build or deployment
])
def test_nothing_found_is_404(story: Story, params: dict[str, Any]) -> None:
    params = {k: v.format(T1=f"lg{story.uid}.wine@cm") for k, v in params.items()}
    r = story.lineage(**params)
    assert r.status_code == 404, r.text
    body = json_of(r)
    assert body["code"] == "not_found" and body["message"]


def test_response_shape_matches_the_golden_file(story: Story) -> None:
    """Keys and value types at every level (tests/embedded/test_wire.py's shapes), nodes grouped by kind: the
    details each kind of node carries are part of what the lineage page relies on."""
    g = story.graph(crn=story.crns["Y"], depth=4)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for n in g["nodes"]:
        by_kind.setdefault(n["kind"], []).append(n)
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    diff = shape_diff(expected, shape({**g, "nodes": by_kind}))
    assert not diff, "shape of GET /api/v1/lineage changed:\n  " + "\n  ".join(diff)


def test_reads_follow_the_read_rules(tmp_path: Path) -> None:
    env = {"MLCATALOG_API_TOKEN": TOKEN, "MLCATALOG_API_READ_AUTH": "true"}
    with platform_app(tmp_path / "store", env) as client:
        r = client.get("/api/v1/lineage", params={"crn": "crn:x"})
        assert r.status_code == 401 and json_of(r)["code"] == "unauthorized"
        r = client.get("/api/v1/lineage", params={"crn": "crn:x"}, headers=AUTH)
        assert r.status_code == 404 and json_of(r)["code"] == "not_found"


def test_an_atlas_that_does_not_answer_is_503(tmp_path: Path) -> None:
    settings = load_settings(environ={"MLCATALOG_ATLAS_URL": f"http://127.0.0.1:{free_port()}"}, cwd=tmp_path)
    catalog = local_catalog(settings, settings.atlas_url_client(), with_resolvers=False)
    try:
        with TestClient(create_catalog_app(catalog, TokenAuth(None, False))) as client:
            r = client.get("/api/v1/lineage", params={"crn": "crn:x"})
    finally:
        catalog.close()
    assert r.status_code == 503 and json_of(r)["code"] == "upstream_unavailable"


# -- the paths a real Atlas takes -------------------------------------------------------------------------


def test_over_http_with_entities_from_the_official_client(atlas: RunningAtlas, tmp_path: Path) -> None:
    """The catalog reaches Atlas over the network (as a real one), the entities come from Atlas's own Python
    client, and every node links to the configured Atlas's UI. Two trainings read the table and the project: the
    builds' tag from the project (not downstream of the table) comes from their upstreams, fetched side by side."""
    uid = uuid.uuid4().hex[:8]
    official = AtlasClient(atlas.url, (ATLAS_USER, SERVER_PASSWORD))
    t = entity("hive_table", {"qualifiedName": f"oc{uid}.t@cm", "name": "t"})
    pj = entity("ml_project", {"qualifiedName": f"crn:oc{uid}:project", "name": "p"})
    builds = [entity("ml_model_build", {"qualifiedName": f"crn:oc{uid}:build{i}", "name": f"b{i}", "version": 7},
                     {"project": ref(pj.guid)}) for i in range(2)]
    trainings = [entity("ml_model_train_build_process", {
        "qualifiedName": f"crn:oc{uid}:build{i}:train", "name": "train", "userName": "u",
        "inputs": [ref(t.guid), ref(pj.guid)], "outputs": [ref(b.guid)]}) for i, b in enumerate(builds)]
    ga = official.entity.create_entities(bulk(t, pj, *builds, *trainings)).guidAssignments
    tag = f"Secret{uid}"
    r = httpx.post(f"{atlas.url}/api/atlas/v2/types/typedefs", auth=(ATLAS_USER, SERVER_PASSWORD),
                   json={"classificationDefs": [{"name": tag, "superTypes": [], "attributeDefs": []}]})
    assert r.status_code == 200, r.text
    r = httpx.post(f"{atlas.url}/api/atlas/v2/entity/guid/{ga[pj.guid]}/classifications",
                   auth=(ATLAS_USER, SERVER_PASSWORD), json=[{"typeName": tag}])
    assert r.status_code == 204, r.text
    settings = load_settings(environ={"MLCATALOG_ATLAS_URL": atlas.url, "MLCATALOG_ATLAS_PASSWORD": SERVER_PASSWORD},
                             cwd=tmp_path)
    catalog = local_catalog(settings, settings.atlas_url_client(), with_resolvers=False)
    try:
        with TestClient(create_catalog_app(catalog, TokenAuth(None, False))) as client:
            got = client.get("/api/v1/lineage", params={"crn": f"crn:oc{uid}:build0"})
            assert got.status_code == 200, got.text
            g = json_of(got)
            got = client.get("/api/v1/lineage", params={"qualifiedName": f"oc{uid}.t@cm", "direction": "OUTPUT"})
            assert got.status_code == 200, got.text
            out = json_of(got)
    finally:
        catalog.close()
    b0, b1 = ga[builds[0].guid], ga[builds[1].guid]
    assert {n["guid"]: n["layer"] for n in g["nodes"]} == {ga[t.guid]: -2, ga[pj.guid]: -2,
                                                            ga[trainings[0].guid]: -1, b0: 0}
    nodes = _by_guid(g)
    assert nodes[b0]["details"]["version"] == 7
    for guid, n in nodes.items():
        assert n["atlas_url"] == f"{atlas.url}/index.html#!/detailPage/{guid}"
    nodes = _by_guid(out)
    assert ga[pj.guid] not in nodes and {nodes[b0]["layer"], nodes[b1]["layer"]} == {2}
    assert _tags(nodes[b0]) == _tags(nodes[b1]) == {(tag, True, ga[pj.guid])}
    assert _tags(nodes[ga[t.guid]]) == set()


# (superTypes, own attributes) of the types the Atlas below knows
_REAL_TYPES: dict[str, tuple[list[str], list[str]]] = {
    "Referenceable": ([], ["qualifiedName"]), "Asset": (["Referenceable"], ["name", "description", "owner"]),
    "DataSet": (["Asset"], []), "Process": (["Asset"], ["inputs", "outputs"]),
    "hive_table": (["DataSet"], ["tableType", "createTime", "comment"]),
    "ml_model_deployment": (["DataSet"], ["replicas", "modelCrn", "deployedTime"]),
    "ml_model_deploy_process": (["Process"], ["userName", "startTime"])}


def _real_chain(name: str) -> set[str]:
    return {name}.union(*(_real_chain(s) for s in _REAL_TYPES[name][0]))


def _real_attributes(name: str) -> set[str]:
    return {a for t in _real_chain(name) for a in _REAL_TYPES[t][1]}


def _refused(code: str, message: str) -> httpx.Response:
    return httpx.Response(400, json={"errorCode": code, "errorMessage": message})


def _wanted_names(crit: dict[str, Any], type_name: str) -> set[str] | httpx.Response:
    """The qualifiedNames a FilterCriteria asks for, or Atlas's refusal of it."""
    if crit.get("criterion"):
        if crit.get("condition") not in ("AND", "OR"):
            return _refused("ATLAS-400-00-029", f"invalid condition {crit.get('condition')}")
        parts = [_wanted_names(c, type_name) for c in crit["criterion"]]
        bad = [p for p in parts if isinstance(p, httpx.Response)]
        sets = [p for p in parts if isinstance(p, set)]
        return bad[0] if bad else set.union(*sets) if crit["condition"] == "OR" else set.intersection(*sets)
    if crit["attributeName"] not in _real_attributes(type_name):
        return _refused("ATLAS-400-00-023", f"Attribute {crit['attributeName']} not found for type {type_name}")
    if not isinstance(crit["attributeValue"], str):
        return _refused("ATLAS-400-00-029", "Cannot deserialize value of type `java.lang.String` from Array")
    assert crit["attributeName"] == "qualifiedName" and crit["operator"] in ("=", "eq"), crit
    return {crit["attributeValue"]}


def _real_search(entities: list[dict[str, Any]], body: dict[str, Any]) -> httpx.Response:
    type_name = body["typeName"]
    asked = body.get("attributes") or []
    unknown = [a for a in asked if a not in _real_attributes(type_name)]
    if unknown:
        return _refused("ATLAS-400-00-023", f"Attribute {unknown[0]} not found for type {type_name}")
    names = _wanted_names(body["entityFilters"], type_name)
    if isinstance(names, httpx.Response):
        return names
    # Search headers name classifications, own and propagated alike, without saying which is which.
    hits = [{**{k: v for k, v in h.items() if k != "classifications"},
             "attributes": {k: v for k, v in h["attributes"].items() if k in ("qualifiedName", "name", *asked)}}
            for h in entities if h["attributes"]["qualifiedName"] in names and type_name in _real_chain(h["typeName"])]
    return httpx.Response(200, json={"entities": hits} if hits else {})


def _atlas_as_a_real_one(answers: dict[str, Any]) -> httpx.MockTransport:
    """An Atlas answering lineage, typedef and search calls as Apache Atlas does, propagation included. Its basic
    search refuses what Atlas's refuses (SearchContext.validateAttributes: a result attribute or filter attribute
    the searched type lacks is ATLAS-400-00-023; FilterCriteria.attributeValue is one string) and answers headers
    with the attributes asked for."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/atlas/v2/")
        if path.startswith("types/typedef/name/"):
            name = path.rsplit("/", 1)[1]
            supertypes, attributes = _REAL_TYPES[name]
            return httpx.Response(200, json={"category": "ENTITY", "name": name, "superTypes": supertypes,
                                             "attributeDefs": [{"name": a, "typeName": "string"} for a in attributes]})
        if path.startswith("lineage/"):
            key = f"{path.split('/')[1]} {request.url.params['direction']}"
            return httpx.Response(200, json=answers.get(key, {"baseEntityGuid": path.split("/")[1],
                                                             "guidEntityMap": {}, "relations": []}))
        if path == "search/basic":
            return _real_search(answers["entities"], json.loads(request.content))
        return httpx.Response(404, json={"errorCode": "ATLAS-404-00-005", "errorMessage": path})

    return httpx.MockTransport(handle)


def test_propagations_atlas_reports_are_kept_apart_from_own_tags() -> None:
    """A real Atlas lists a propagated classification among the entity's classifications (with the guid of the
    entity it comes from) and in ``classificationNames``: it is reported as propagated, not as the node's own."""
    pii_on_t = {"typeName": "PII", "entityGuid": "t"}

    def header(guid: str, type_name: str, qn: str, tags: list[dict[str, Any]], **attributes: Any) -> dict[str, Any]:
        return {"guid": guid, "typeName": type_name, "status": "ACTIVE", "displayText": qn,
                "attributes": {"qualifiedName": qn, "name": qn, **attributes},
                "classificationNames": [c["typeName"] for c in tags], "classifications": tags}

    entities = [header("t", "hive_table", "db.t@cm", [pii_on_t], tableType="EXTERNAL_TABLE", owner="hive"),
                header("p", "ml_model_deploy_process", "p", [], userName="u"),
                header("y", "ml_model_deployment", "crn:y", [pii_on_t], replicas=2)]
    in_lineage = [{**h, "attributes": {k: h["attributes"][k] for k in ("qualifiedName", "name")}} for h in entities]
    upstream = {"baseEntityGuid": "y", "lineageDirection": "INPUT", "lineageDepth": 0,
                "guidEntityMap": {h["guid"]: h for h in in_lineage}, "relationsOnDemand": {},
                "relations": [{"fromEntityId": "t", "toEntityId": "p"}, {"fromEntityId": "p", "toEntityId": "y"}]}
    client = AtlasCatalogClient("https://atlas.example:31443", "u", "pw",
                                transport=_atlas_as_a_real_one({"y INPUT": upstream, "entities": entities}))
    with client:
        g = LineageGraphs(client, "https://atlas.example:31443/").graph(crn="crn:y")
    nodes = _by_guid(g.model_dump())
    assert _tags(nodes["y"]) == {("PII", True, "t")}
    assert _tags(nodes["t"]) == {("PII", False, "t")}
    assert [n["layer"] for n in g.model_dump()["nodes"]] == [-2, -1, 0]
    assert nodes["p"]["kind"] == "process" and nodes["t"]["kind"] == "table"
    assert nodes["y"]["atlas_url"] == "https://atlas.example:31443/index.html#!/detailPage/y"
    # details come from searches Atlas accepts: each type asked only for attributes it has
    assert nodes["t"]["details"] == {"owner": "hive", "tableType": "EXTERNAL_TABLE"}
    assert nodes["y"]["details"] == {"replicas": 2} and nodes["p"]["details"] == {"userName": "u"}
