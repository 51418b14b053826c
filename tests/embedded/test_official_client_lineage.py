"""Lineage through the official ``apache-atlas`` client (``client.lineage``) against the embedded store: one
module-scoped chain (S3 directory -> hive_process -> hive_table -> train process -> model build -> deploy process ->
deployment) drives a table of (base entity, direction, depth) cases; further tests check the relationship ids and
header types in the result, the server's defaults and lookup by unique attribute, the 404s for unknown entities and
for types that are neither DataSet nor Process, and that deleted entities still show up in lineage. Setup and shared
helpers: ``official_client_helpers`` and this directory's ``conftest.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.model.instance import AtlasEntityWithExtInfo

from tests.conftest import ATLAS_PASSWORD, ATLAS_USER
from tests.embedded.official_client_helpers import GUID_RE, T0, bulk, entity, expect_error, ref, rel_guids, suffix


@pytest.fixture(scope="module")
def chain(client: AtlasClient) -> dict[str, str]:
    """S3 dir -> hive_process -> hive_table -> train process -> build -> deploy process -> deployment.

    Keys: D (dir), P1 (hive_process), T (table), P2 (train), B (build), P3 (deploy), Y (deployment),
    plus bucket BK, project PJ, db DB.
    """
    uid = suffix()
    bk = entity("aws_s3_v2_bucket", {"qualifiedName": f"s3a://bkt{uid}@cm", "name": f"bkt{uid}"})
    d = entity("aws_s3_v2_directory", {"qualifiedName": f"s3a://bkt{uid}/data/@cm", "name": "data",
                                       "objectPrefix": "/data/"}, {"container": ref(bk.guid)})
    db = entity("hive_db", {"qualifiedName": f"lin_{uid}@cm", "name": f"lin_{uid}", "clusterName": "cm"})
    t = entity("hive_table", {"qualifiedName": f"lin_{uid}.train@cm", "name": "train", "createTime": T0},
               {"db": ref(db.guid)})
    p1 = entity("hive_process", {"qualifiedName": f"lin_{uid}.train@cm:{T0}", "name": f"lin_{uid}.train@cm:{T0}",
                                 "startTime": T0, "endTime": T0 + 1000, "userName": "hive",
                                 "operationType": "CREATETABLE", "queryText": "create external table ...",
                                 "queryPlan": "Not Supported", "queryId": f"q_{uid}",
                                 "inputs": [ref(d.guid)], "outputs": [ref(t.guid)]})
    pj = entity("ml_project", {"qualifiedName": f"lproj_{uid}@cm", "name": f"lproj_{uid}"})
    b = entity("ml_model_build", {"qualifiedName": f"lbuild_{uid}@cm", "name": f"lbuild_{uid}", "version": 3},
               {"project": ref(pj.guid)})
    p2 = entity("ml_model_train_build_process", {"qualifiedName": f"ltrain_{uid}@cm", "name": "train",
                                                 "userName": "alice", "inputs": [ref(t.guid)],
                                                 "outputs": [ref(b.guid)]})
    y = entity("ml_model_deployment", {"qualifiedName": f"ldep_{uid}@cm", "name": f"ldep_{uid}",
                                       "createTime": T0, "deployedTime": T0, "status": "deployed",
                                       "cpuMillicores": 1000}, {"build": ref(b.guid)})
    p3 = entity("ml_model_deploy_process", {"qualifiedName": f"ldeploy_{uid}@cm", "name": "deploy",
                                            "userName": "alice"},
                {"inputs": [ref(b.guid)], "outputs": [ref(y.guid)]})  # here as relationshipAttributes
    resp = client.entity.create_entities(bulk(bk, d, db, t, p1, pj, b, p2, y, p3))
    ga = resp.guidAssignments
    out = {"BK": ga[bk.guid], "D": ga[d.guid], "DB": ga[db.guid], "T": ga[t.guid], "P1": ga[p1.guid],
           "PJ": ga[pj.guid], "B": ga[b.guid], "P2": ga[p2.guid], "Y": ga[y.guid], "P3": ga[p3.guid],
           "uid": uid, "Y_qn": f"ldep_{uid}@cm"}
    return out


EDGES = {"e1": ("D", "P1"), "e2": ("P1", "T"), "e3": ("T", "P2"), "e4": ("P2", "B"), "e5": ("B", "P3"),
         "e6": ("P3", "Y")}
ALL = ("e1", "e2", "e3", "e4", "e5", "e6")

# (base, direction, depth) -> expected edges (spec §2a: depth counts DataSet->Process->DataSet hops,
# 0 = unlimited; a Process base takes one hop to its inputs/outputs then recurses with depth-1)
LINEAGE_CASES: dict[tuple[str, str, int], tuple[str, ...]] = {
    ("T", "INPUT", 1): ("e1", "e2"),
    ("T", "INPUT", 3): ("e1", "e2"),
    ("T", "OUTPUT", 1): ("e3", "e4"),
    ("T", "OUTPUT", 2): ("e3", "e4", "e5", "e6"),
    ("T", "BOTH", 1): ("e1", "e2", "e3", "e4"),
    ("T", "BOTH", 2): ALL,
    ("B", "INPUT", 1): ("e3", "e4"),
    ("B", "INPUT", 2): ("e1", "e2", "e3", "e4"),
    ("B", "OUTPUT", 3): ("e5", "e6"),
    ("B", "BOTH", 1): ("e3", "e4", "e5", "e6"),
    ("Y", "INPUT", 1): ("e5", "e6"),
    ("Y", "INPUT", 2): ("e3", "e4", "e5", "e6"),
    ("Y", "INPUT", 3): ALL,
    ("Y", "INPUT", 0): ALL,
    ("Y", "OUTPUT", 0): (),
    ("Y", "BOTH", 2): ("e3", "e4", "e5", "e6"),
    ("D", "OUTPUT", 1): ("e1", "e2"),
    ("D", "OUTPUT", 2): ("e1", "e2", "e3", "e4"),
    ("D", "OUTPUT", 3): ALL,
    ("D", "OUTPUT", 0): ALL,
    ("D", "INPUT", 3): (),
    ("D", "BOTH", 0): ALL,
    ("P2", "INPUT", 1): ("e3",),
    ("P2", "INPUT", 2): ("e1", "e2", "e3"),
    ("P2", "OUTPUT", 1): ("e4",),
    ("P2", "OUTPUT", 2): ("e4", "e5", "e6"),
    ("P2", "BOTH", 1): ("e3", "e4"),
    ("P2", "BOTH", 0): ALL,
    ("P1", "OUTPUT", 0): ("e2", "e3", "e4", "e5", "e6"),
}


def lineage_sets(chain: dict[str, str], info: Any) -> tuple[set[str], set[tuple[str, str]]]:
    names = {v: k for k, v in chain.items()}
    ents = {names.get(g, g) for g in (info.guidEntityMap or {})}
    rels = {(names.get(r.fromEntityId, r.fromEntityId), names.get(r.toEntityId, r.toEntityId))
            for r in info.relations or []}
    return ents, rels


@pytest.mark.parametrize(("base", "direction", "depth"), list(LINEAGE_CASES),
                         ids=[f"{b}-{d}-{n}" for b, d, n in LINEAGE_CASES])
def test_lineage(client: AtlasClient, chain: dict[str, str], base: str, direction: str, depth: int) -> None:
    expected_edges = LINEAGE_CASES[(base, direction, depth)]
    info = client.lineage.get_lineage_info(chain[base], direction, depth)
    assert info.baseEntityGuid == chain[base]
    assert info.lineageDirection == direction
    assert info.lineageDepth == depth  # echoed as requested, also 0 (EntityLineageService.getLineageInfoV2)
    ents, rels = lineage_sets(chain, info)
    assert rels == {EDGES[e] for e in expected_edges}
    assert ents == {n for e in expected_edges for n in EDGES[e]}
    assert len(info.relations or []) == len(expected_edges), "duplicate relations"
    for g, hdr in (info.guidEntityMap or {}).items():
        assert hdr.guid == g and hdr.typeName and hdr.status == "ACTIVE"
        assert hdr.attributes["qualifiedName"] and hdr.displayText
    for r in info.relations or []:
        assert GUID_RE.match(r.relationshipId), r


def test_lineage_relationship_ids_and_header_types(client: AtlasClient, chain: dict[str, str]) -> None:
    info = client.lineage.get_lineage_info(chain["T"], "BOTH", 1)
    types = {g: h.typeName for g, h in info.guidEntityMap.items()}
    assert types == {chain["D"]: "aws_s3_v2_directory", chain["P1"]: "hive_process", chain["T"]: "hive_table",
                     chain["P2"]: "ml_model_train_build_process", chain["B"]: "ml_model_build"}
    # relationshipId is the guid of the inputs/outputs relationship, as seen from the entities
    t = client.entity.get_entity_by_guid(chain["T"]).entity
    into = {x["guid"]: x["relationshipGuid"] for x in t.relationshipAttributes["inputToProcesses"]}
    outof = {x["guid"]: x["relationshipGuid"] for x in t.relationshipAttributes["outputFromProcesses"]}
    assert into[chain["P2"]] == next(r.relationshipId for r in info.relations
                                     if (r.fromEntityId, r.toEntityId) == (chain["T"], chain["P2"]))
    assert outof[chain["P1"]] == next(r.relationshipId for r in info.relations
                                      if (r.fromEntityId, r.toEntityId) == (chain["P1"], chain["T"]))
    assert into[chain["P2"]] != outof[chain["P1"]]
    # process side: inputs / outputs
    p2 = client.entity.get_entity_by_guid(chain["P2"]).entity
    assert rel_guids(p2.relationshipAttributes["inputs"]) == {chain["T"]}
    assert rel_guids(p2.relationshipAttributes["outputs"]) == {chain["B"]}
    p3 = client.entity.get_entity_by_guid(chain["P3"]).entity
    assert rel_guids(p3.relationshipAttributes["inputs"]) == {chain["B"]}


def test_lineage_default_params_and_unique_attribute(client: AtlasClient, chain: dict[str, str]) -> None:
    by_guid = client.lineage.get_lineage_info(chain["Y"], "INPUT", 0)
    by_attr = client.lineage.get_lineage_info_attr("ml_model_deployment", {"qualifiedName": chain["Y_qn"]},
                                                   "INPUT", 0)
    assert by_attr.baseEntityGuid == chain["Y"]
    assert lineage_sets(chain, by_attr) == lineage_sets(chain, by_guid)
    # server defaults: BOTH, depth 3
    r = requests.get(f"{client.host}/api/atlas/v2/lineage/{chain['T']}", auth=(ATLAS_USER, ATLAS_PASSWORD),
                     timeout=30)
    assert r.status_code == 200
    assert (r.json()["lineageDirection"], r.json()["lineageDepth"]) == ("BOTH", 3)
    assert len(r.json()["relations"]) == 6
    expect_error(404, "ATLAS-404-00-009", client.lineage.get_lineage_info_attr, "ml_model_deployment",
                 {"qualifiedName": f"nope_{chain['uid']}"}, "BOTH", 3)


def test_lineage_of_non_lineage_types_is_404_011(client: AtlasClient, chain: dict[str, str]) -> None:
    # hive_db is an Asset (neither DataSet nor Process); hive_storagedesc is a Referenceable
    expect_error(404, "ATLAS-404-00-011", client.lineage.get_lineage_info, chain["DB"], "BOTH", 3)
    uid = chain["uid"]
    sd = entity("hive_storagedesc", {"qualifiedName": f"lin_{uid}.train@cm_storage", "compressed": False,
                                     "location": f"s3a://bkt{uid}/data"},
                {"table": ref(chain["T"], "hive_table_storagedesc")})
    sd_guid = client.entity.create_entity(AtlasEntityWithExtInfo({"entity": sd})).guidAssignments[sd.guid]
    expect_error(404, "ATLAS-404-00-011", client.lineage.get_lineage_info, sd_guid, "INPUT", 1)
    expect_error(404, "ATLAS-404-00-005", client.lineage.get_lineage_info, str(uuid.uuid4()), "BOTH", 3)
    # an entity without lineage edges: empty result, not an error
    info = client.lineage.get_lineage_info(chain["PJ"], "BOTH", 3)
    assert info.baseEntityGuid == chain["PJ"]
    assert not info.guidEntityMap and not info.relations


def test_lineage_includes_deleted_entities(client: AtlasClient) -> None:
    uid = suffix()
    a = entity("hive_table", {"qualifiedName": f"del_{uid}.a@cm", "name": "a"})
    b = entity("hive_table", {"qualifiedName": f"del_{uid}.b@cm", "name": "b"})
    c = entity("hive_table", {"qualifiedName": f"del_{uid}.c@cm", "name": "c"})
    p = entity("ml_model_train_build_process", {"qualifiedName": f"del_{uid}.p@cm", "name": "p",
                                                "userName": "u", "inputs": [ref(a.guid)],
                                                "outputs": [ref(b.guid), ref(c.guid)]})
    ga = client.entity.create_entities(bulk(a, b, c, p)).guidAssignments
    client.entity.delete_entity_by_guid(ga[b.guid])
    info = client.lineage.get_lineage_info(ga[a.guid], "OUTPUT", 3)
    assert set(info.guidEntityMap) == {ga[a.guid], ga[p.guid], ga[b.guid], ga[c.guid]}
    assert info.guidEntityMap[ga[b.guid]].status == "DELETED"
    assert info.guidEntityMap[ga[c.guid]].status == "ACTIVE"
    assert {(r.fromEntityId, r.toEntityId) for r in info.relations} == {
        (ga[a.guid], ga[p.guid]), (ga[p.guid], ga[b.guid]), (ga[p.guid], ga[c.guid])}
    # lineage of the deleted entity itself still works
    info = client.lineage.get_lineage_info(ga[b.guid], "INPUT", 1)
    assert {(r.fromEntityId, r.toEntityId) for r in info.relations} == {
        (ga[a.guid], ga[p.guid]), (ga[p.guid], ga[b.guid])}
