"""Soft delete as Atlas's default delete handler (SoftDeleteHandlerV1) leaves things, read back through the
in-process ASGI client: a deleted relationship, or one whose end entity was deleted or replaced, stays on both ends
with ``relationshipStatus: DELETED`` and the other end's ``entityStatus``
(EntityGraphRetriever.mapRelationshipAttributes, mapVertexToRelatedObjectId; a SINGLE end shows its ACTIVE
relationship, else the one deleted last); an attributeDef that a relationship fills (Process.inputs) keeps the
reference too; a deleted relationship reads back DELETED, and deleting it again is 404 ATLAS-404-00-00F
(AtlasRelationshipStoreV2.deleteById).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from catalog.embedded.store import EmbeddedStore
from tests.embedded.conftest import InProcessApi, in_process_api


class Api(InProcessApi):
    def entity(self, guid: str) -> dict[str, Any]:
        return self.call("GET", f"entity/guid/{guid}")["entity"]  # type: ignore[no-any-return]

    def rels(self, guid: str, attr: str) -> Any:
        return self.entity(guid)["relationshipAttributes"][attr]


@pytest.fixture(scope="module")
def api(store: EmbeddedStore) -> Iterator[Api]:
    yield from map(Api, in_process_api(store))


def hive(api: Api, ncols: int = 2, ntables: int = 1) -> dict[str, Any]:
    """A hive_db with ``ntables`` tables of ``ncols`` columns each; the guids by placeholder."""
    u = uuid.uuid4().hex[:10]
    ents: list[dict[str, Any]] = [{"typeName": "hive_db", "guid": "-1", "attributes": {
        "qualifiedName": f"sd_{u}@cm", "name": f"sd_{u}", "clusterName": "cm"}}]
    for t in range(ntables):
        ents.append({"typeName": "hive_table", "guid": f"-t{t}",
                     "attributes": {"qualifiedName": f"sd_{u}.t{t}@cm", "name": f"t{t}"},
                     "relationshipAttributes": {"db": {"guid": "-1", "typeName": "hive_db"}}})
        ents += [{"typeName": "hive_column", "guid": f"-t{t}c{c}",
                  "attributes": {"qualifiedName": f"sd_{u}.t{t}.c{c}@cm", "name": f"c{c}", "type": "int"},
                  "relationshipAttributes": {"table": {"guid": f"-t{t}", "typeName": "hive_table",
                                                       "relationshipType": "hive_table_columns"}}}
                 for c in range(ncols)]
    ga = api.call("POST", "entity/bulk", json={"entities": ents})["guidAssignments"]
    return {"u": u, **{k.lstrip("-"): v for k, v in ga.items()}}


def statuses(values: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """guid -> (entityStatus, relationshipStatus) of a relationship attribute's AtlasRelatedObjectIds."""
    return {v["guid"]: (v["entityStatus"], v["relationshipStatus"]) for v in values}


# -- DELETE relationship/guid ---------------------------------------------------------------------------------------
def test_a_deleted_relationship_stays_on_both_ends_and_can_not_be_deleted_again(api: Api) -> None:
    h = hive(api)
    col = api.rels(h["t0c0"], "table")
    rel = col["relationshipGuid"]
    before = api.call("GET", f"relationship/guid/{rel}")["relationship"]
    assert before["status"] == "ACTIVE"

    assert api.call("DELETE", f"relationship/guid/{rel}", status=204) is None
    after = api.call("GET", f"relationship/guid/{rel}")["relationship"]
    assert after["status"] == "DELETED" and after["version"] == before["version"]
    assert (after["end1"]["guid"], after["end2"]["guid"]) == (h["t0"], h["t0c0"])

    # the table still lists the column, through a DELETED relationship to an ACTIVE entity
    assert statuses(api.rels(h["t0"], "columns")) == {h["t0c0"]: ("ACTIVE", "DELETED"),
                                                      h["t0c1"]: ("ACTIVE", "ACTIVE")}
    # the column's single-valued end has no ACTIVE relationship left: it shows the deleted one
    table = api.rels(h["t0c0"], "table")
    assert (table["guid"], table["relationshipGuid"], table["relationshipStatus"], table["entityStatus"]) == \
        (h["t0"], rel, "DELETED", "ACTIVE")
    assert api.entity(h["t0c0"])["status"] == "ACTIVE"

    again = api.call("DELETE", f"relationship/guid/{rel}", status=404)
    assert again == {"errorCode": "ATLAS-404-00-00F",
                     "errorMessage": f"Attempting to delete a relationship which is already deleted : {rel}"}
    unknown = api.call("DELETE", f"relationship/guid/{uuid.uuid4()}", status=404)
    assert unknown["errorCode"] == "ATLAS-404-00-00C"


def test_a_single_valued_end_shows_its_active_relationship_over_deleted_ones(api: Api) -> None:
    h = hive(api, ncols=1, ntables=2)
    first = api.rels(h["t0c0"], "table")["relationshipGuid"]
    api.call("DELETE", f"relationship/guid/{first}", status=204)
    created = api.call("POST", "relationship", json={"typeName": "hive_table_columns", "end1": {"guid": h["t1"]},
                                                     "end2": {"guid": h["t0c0"]}})
    table = api.rels(h["t0c0"], "table")
    assert (table["guid"], table["relationshipGuid"], table["relationshipStatus"]) == \
        (h["t1"], created["guid"], "ACTIVE")
    assert statuses(api.rels(h["t0"], "columns"))[h["t0c0"]] == ("ACTIVE", "DELETED")


# -- deleting and replacing entities ----------------------------------------------------------------------------------
def test_deleting_an_entity_leaves_its_relationships_deleted_on_the_other_end(api: Api) -> None:
    h = hive(api, ncols=1, ntables=2)
    api.call("DELETE", f"entity/guid/{h['t0']}")  # the table, and with it its column (COMPOSITION)
    assert statuses(api.rels(h["1"], "tables")) == {h["t0"]: ("DELETED", "DELETED"), h["t1"]: ("ACTIVE", "ACTIVE")}
    # the deleted table still shows its own relationships, deleted, and its deleted column among the referred
    deleted = api.call("GET", f"entity/guid/{h['t0']}")
    assert deleted["entity"]["status"] == "DELETED"
    assert statuses(deleted["entity"]["relationshipAttributes"]["columns"]) == {h["t0c0"]: ("DELETED", "DELETED")}
    db = deleted["entity"]["relationshipAttributes"]["db"]
    assert (db["guid"], db["entityStatus"], db["relationshipStatus"]) == (h["1"], "ACTIVE", "DELETED")
    assert deleted["referredEntities"][h["t0c0"]]["status"] == "DELETED"
    assert api.rels(h["t0c0"], "table")["relationshipStatus"] == "DELETED"

    api.call("DELETE", f"entity/guid/{h['1']}")
    table = api.rels(h["t1"], "db")
    assert (table["guid"], table["entityStatus"], table["relationshipStatus"]) == (h["1"], "DELETED", "DELETED")
    assert api.entity(h["t1"])["status"] == "ACTIVE"  # hive_table_db is an AGGREGATION: the table stays


def test_moving_a_column_to_another_table_leaves_the_old_relationship_deleted(api: Api) -> None:
    h = hive(api, ncols=1, ntables=2)
    col = {"typeName": "hive_column", "guid": h["t0c0"],
           "attributes": {"qualifiedName": f"sd_{h['u']}.t0.c0@cm", "name": "c0", "type": "int"},
           "relationshipAttributes": {"table": {"guid": h["t1"], "typeName": "hive_table",
                                                "relationshipType": "hive_table_columns"}}}
    api.call("POST", "entity", json={"entity": col})
    assert api.rels(h["t0c0"], "table")["guid"] == h["t1"]
    assert statuses(api.rels(h["t0"], "columns")) == {h["t0c0"]: ("ACTIVE", "DELETED")}
    assert statuses(api.rels(h["t1"], "columns")) == {h["t1c0"]: ("ACTIVE", "ACTIVE"), h["t0c0"]: ("ACTIVE", "ACTIVE")}


def test_process_inputs_keep_replaced_and_deleted_datasets(api: Api) -> None:
    """Process.inputs is an attributeDef a relationship fills: Atlas's attribute read maps every edge of it
    (mapVertexToArray without ignoreInactive), as its relationship attribute does."""
    h = hive(api, ncols=0, ntables=3)
    qn = f"sd_{h['u']}.p@cm"

    def process(inputs: list[str]) -> dict[str, Any]:
        return {"entity": {"typeName": "Process", "attributes": {
            "qualifiedName": qn, "name": "p", "inputs": [{"guid": g, "typeName": "hive_table"} for g in inputs],
            "outputs": [{"guid": h["t2"], "typeName": "hive_table"}]}}}

    p = api.call("POST", "entity", json=process([h["t0"]]))["mutatedEntities"]["CREATE"][0]["guid"]
    api.call("POST", "entity", json=process([h["t1"]]))  # t0 replaced by t1
    got = api.entity(p)
    assert statuses(got["relationshipAttributes"]["inputs"]) == {h["t0"]: ("ACTIVE", "DELETED"),
                                                                 h["t1"]: ("ACTIVE", "ACTIVE")}
    assert [i["guid"] for i in got["attributes"]["inputs"]] == [h["t0"], h["t1"]]
    assert statuses(api.rels(h["t0"], "inputToProcesses")) == {p: ("ACTIVE", "DELETED")}

    api.call("DELETE", f"entity/guid/{h['t1']}")
    got = api.entity(p)
    assert statuses(got["relationshipAttributes"]["inputs"]) == {h["t0"]: ("ACTIVE", "DELETED"),
                                                                 h["t1"]: ("DELETED", "DELETED")}
    assert [i["guid"] for i in got["attributes"]["inputs"]] == [h["t0"], h["t1"]]
