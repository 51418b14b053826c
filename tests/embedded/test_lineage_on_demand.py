"""Lineage fields Atlas 2.3+ sends and the on-demand lineage (``POST lineage/{guid}``, ``catalog.embedded.lineage``).

``GET lineage`` always carries ``relationsOnDemand`` (empty), which Atlas's UI needs to draw the graph. ``POST`` takes
a LineageOnDemandConstraints per guid (defaults: BOTH, 3 input and 3 output relations per node, depth 3), follows at
most that many relations of each node, names in ``relationsOnDemand`` the nodes with more, and echoes the constraints
in ``lineageOnDemandPayload``, as Atlas's ``EntityLineageService.getLineageInfoOnDemand`` does.

The graph: five DataSets d1..d5 feed process P, which writes o1; process Q reads o1 and writes o2.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

DEFAULTS = {"direction": "BOTH", "inputRelationsLimit": 3, "outputRelationsLimit": 3, "depth": 3}


def ds(guid: str, name: str) -> dict[str, Any]:
    return {"typeName": "DataSet", "guid": guid, "attributes": {"qualifiedName": f"{name}@l", "name": name}}


def proc(guid: str, name: str, inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    return {"typeName": "Process", "guid": guid, "attributes": {
        "qualifiedName": f"{name}@l", "name": name, "inputs": [{"guid": g} for g in inputs],
        "outputs": [{"guid": g} for g in outputs]}}


@pytest.fixture(scope="module")
def g(api: TestClient) -> dict[str, str]:
    """name -> guid."""
    sources = [ds(f"-{i}", f"d{i}") for i in range(1, 6)]
    entities = [*sources, ds("-6", "o1"), ds("-7", "o2"), ds("-9", "db"),
                proc("-10", "P", [s["guid"] for s in sources], ["-6"]), proc("-11", "Q", ["-6"], ["-7"])]
    r = api.post("/api/atlas/v2/entity/bulk", json={"entities": entities})
    assert r.status_code == 200, r.text
    assigned = r.json()["guidAssignments"]
    return {e["attributes"]["name"]: assigned[e["guid"]] for e in entities}


def names(lineage: dict[str, Any]) -> set[tuple[str, str]]:
    shown = {guid: h["displayText"] for guid, h in lineage["guidEntityMap"].items()}
    return {(shown[r["fromEntityId"]], shown[r["toEntityId"]]) for r in lineage["relations"]}


def post(api: TestClient, guid: str, body: Any = None) -> dict[str, Any]:
    r = api.post(f"/api/atlas/v2/lineage/{guid}", json=body) if body is not None else api.post(
        f"/api/atlas/v2/lineage/{guid}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_get_lineage_always_has_relations_on_demand(api: TestClient, g: dict[str, str]) -> None:
    got = api.get(f"/api/atlas/v2/lineage/{g['o2']}").json()
    assert got["relationsOnDemand"] == {} and "lineageOnDemandPayload" not in got
    assert len(got["relations"]) == 8  # everything, whatever the fan-in
    alone = api.get(f"/api/atlas/v2/lineage/{g['db']}").json()
    assert (alone["relations"], alone["guidEntityMap"], alone["relationsOnDemand"]) == ([], {}, {})


def test_on_demand_follows_three_relations_per_node_and_says_there_are_more(api: TestClient, g: dict[str, str]
                                                                           ) -> None:
    got = post(api, g["o2"])
    assert (got["baseEntityGuid"], got["lineageDirection"], got["lineageDepth"]) == (g["o2"], "BOTH", 3)
    assert names(got) == {("Q", "o2"), ("o1", "Q"), ("P", "o1"), ("d1", "P"), ("d2", "P"), ("d3", "P")}
    assert got["relationsOnDemand"] == {g["P"]: {"hasMoreInputs": True, "hasMoreOutputs": False,
                                                 "inputRelationsCount": 3, "outputRelationsCount": 1}}
    assert got["lineageOnDemandPayload"] == {g["o2"]: DEFAULTS}  # no body: the base node's defaults


def test_a_nodes_own_constraints_widen_or_narrow_it(api: TestClient, g: dict[str, str]) -> None:
    got = post(api, g["o2"], {g["o2"]: {"direction": "INPUT", "depth": 0}, g["P"]: {"inputRelationsLimit": 10}})
    assert len(names(got)) == 8 and got["relationsOnDemand"] == {}  # P: ten allowed, five there
    assert got["lineageDirection"] == "INPUT" and got["lineageDepth"] == 3  # depth 0: the default
    assert got["lineageOnDemandPayload"][g["P"]] == {**DEFAULTS, "inputRelationsLimit": 10}  # defaults filled in
    narrow = post(api, g["o2"], {g["o2"]: {"direction": "INPUT", "depth": 1}})
    assert names(narrow) == {("Q", "o2"), ("o1", "Q")}
    one = post(api, g["o2"], {g["P"]: {"inputRelationsLimit": 1}})
    assert {f for f, t in names(one) if t == "P"} == {"d1"}
    assert one["relationsOnDemand"][g["P"]]["hasMoreInputs"] is True


def test_on_demand_from_a_process(api: TestClient, g: dict[str, str]) -> None:
    got = post(api, g["P"], {g["P"]: {"direction": "BOTH", "inputRelationsLimit": 2}})
    assert names(got) == {("d1", "P"), ("d2", "P"), ("P", "o1"), ("o1", "Q"), ("Q", "o2")}
    assert got["relationsOnDemand"][g["P"]]["hasMoreInputs"] is True
    outputs = post(api, g["P"], {g["P"]: {"direction": "OUTPUT"}})
    assert names(outputs) == {("P", "o1"), ("o1", "Q"), ("Q", "o2")} and outputs["relationsOnDemand"] == {}


def test_on_demand_refuses_what_atlas_refuses(api: TestClient, g: dict[str, str]) -> None:
    url = f"/api/atlas/v2/lineage/{g['o2']}"
    for body in ([1], {g["o2"]: {"direction": "UP"}}, {g["o2"]: {"depth": "deep"}}, {g["o2"]: 7},
                 {g["o2"]: {"inputRelationsLimit": 2**31}}):
        r = api.post(url, json=body)
        assert (r.status_code, r.json()["errorCode"]) == (400, "ATLAS-400-00-029"), (body, r.text)
    r = api.post("/api/atlas/v2/lineage/no-such-guid", json={})
    assert (r.status_code, r.json()["errorCode"]) == (404, "ATLAS-404-00-005")
    table = api.post("/api/atlas/v2/entity", json={"entity": {"typeName": "hive_db", "attributes": {
        "qualifiedName": "sales@l", "name": "sales", "clusterName": "l"}}}).json()
    [db] = table["mutatedEntities"]["CREATE"]
    r = api.post(f"/api/atlas/v2/lineage/{db['guid']}", json={})
    assert (r.status_code, r.json()["errorCode"]) == (404, "ATLAS-404-00-011")
    assert post(api, g["o2"], {g["o2"]: None})["lineageOnDemandPayload"] == {g["o2"]: DEFAULTS}  # null: defaults
