"""Entity write and read semantics of the embedded store that clients lean on, checked through the in-process ASGI
client: one relationship per pair when both ends of a request name each other, shells reading back ``isIncomplete``
until a full create fills them in, integer placeholder guids (pyapacheatlas's hand-written dicts), ``referredEntities``
always present, and the system fields Atlas does (not) serialise on an entity and a relationship.
Expected behaviour is Apache Atlas 2.x's, from its Java sources (EntityGraphRetriever, AtlasEntityStoreV2,
EntityGraphMapper, AtlasRelationshipStoreV2).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from catalog.embedded.entity_read import entities_with_ext_info, load_entity
from catalog.embedded.entity_write import EntityWriter
from catalog.embedded.hook_shells import complete_shells, create_shells
from catalog.embedded.store import EmbeddedStore
from tests.embedded.conftest import InProcessApi, in_process_api


class Api(InProcessApi):
    def entity(self, guid: str, **params: str) -> dict[str, Any]:
        return self.call("GET", f"entity/guid/{guid}", params=params)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def api(store: EmbeddedStore) -> Iterator[Api]:
    yield from map(Api, in_process_api(store))


def uid() -> str:
    return uuid.uuid4().hex[:10]


def db(u: str, guid: Any = "-1") -> dict[str, Any]:
    return {"typeName": "hive_db", "guid": guid,
            "attributes": {"qualifiedName": f"d_{u}@cm", "name": f"d_{u}", "clusterName": "cm"}}


def table(u: str, guid: Any = "-2", db_guid: Any = "-1", columns: list[Any] | None = None) -> dict[str, Any]:
    rels: dict[str, Any] = {"db": {"guid": db_guid, "typeName": "hive_db"}}
    if columns is not None:
        rels["columns"] = [{"guid": g, "typeName": "hive_column"} for g in columns]
    return {"typeName": "hive_table", "guid": guid, "attributes": {"qualifiedName": f"d_{u}.t@cm", "name": "t"},
            "relationshipAttributes": rels}


def column(u: str, i: int, guid: Any, table_guid: Any = "-2") -> dict[str, Any]:
    return {"typeName": "hive_column", "guid": guid,
            "attributes": {"qualifiedName": f"d_{u}.t.c{i}@cm", "name": f"c{i}", "type": "int"},
            "relationshipAttributes": {"table": {"guid": table_guid, "typeName": "hive_table",
                                                 "relationshipType": "hive_table_columns"}}}


def rel_guids(values: list[dict[str, Any]]) -> list[str]:
    return [v["relationshipGuid"] for v in values]


# -- one relationship per pair -----------------------------------------------------------------------------------
@pytest.mark.parametrize("columns_first", [False, True], ids=["table-first", "columns-first"])
def test_a_table_and_its_columns_naming_each_other_make_one_relationship_per_pair(api: Api,
                                                                                    columns_first: bool) -> None:
    u = uid()
    cols = [column(u, i, f"-{10 + i}") for i in range(3)]
    tbl = table(u, columns=[c["guid"] for c in cols])
    ents = [db(u), *cols, tbl] if columns_first else [db(u), tbl, *cols]
    ga = api.call("POST", "entity/bulk", json={"entities": ents})["guidAssignments"]

    got = api.entity(ga["-2"])["entity"]["relationshipAttributes"]["columns"]
    assert sorted(c["guid"] for c in got) == sorted(ga[f"-{10 + i}"] for i in range(3))
    assert len(set(rel_guids(got))) == 3
    for i in range(3):
        back = api.entity(ga[f"-{10 + i}"])["entity"]["relationshipAttributes"]["table"]
        assert back["guid"] == ga["-2"] and back["relationshipGuid"] in rel_guids(got)

    # the same request again: nothing new, nothing changed
    again = api.call("POST", "entity/bulk", json={"entities": ents})
    assert "CREATE" not in again.get("mutatedEntities", {})
    assert rel_guids(api.entity(ga["-2"])["entity"]["relationshipAttributes"]["columns"]) == rel_guids(got)


def test_existing_table_and_new_column_naming_each_other_make_one_relationship(api: Api) -> None:
    u = uid()
    ga = api.call("POST", "entity/bulk", json={"entities": [db(u), table(u, columns=[])]})["guidAssignments"]
    tguid = ga["-2"]
    resp = api.call("POST", "entity/bulk", json={"entities": [
        table(u, guid=tguid, db_guid=ga["-1"], columns=["-20"]), column(u, 0, "-20", table_guid=tguid)]})
    got = api.entity(tguid)["entity"]["relationshipAttributes"]["columns"]
    assert [c["guid"] for c in got] == [resp["guidAssignments"]["-20"]]


# -- shells ---------------------------------------------------------------------------------------------------------
def _make_shell(store: EmbeddedStore, u: str) -> str:
    """What the hook consumer makes of a reference to a table it does not know (hook_shells)."""
    process = {"typeName": "hive_process", "attributes": {
        "qualifiedName": f"p_{u}@cm", "name": f"p_{u}",
        "inputs": [{"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": f"d_{u}.t@cm"}}], "outputs": []}}
    with store.db.write() as conn:
        (guid,) = create_shells(conn, store.registry, [process], "hook")
    return guid


def test_a_shell_reads_back_incomplete_until_a_full_create_fills_it_in(api: Api, store: EmbeddedStore) -> None:
    u = uid()
    shell = _make_shell(store, u)
    got = api.entity(shell)
    assert got["entity"]["isIncomplete"] is True and got["entity"]["attributes"] == {"qualifiedName": f"d_{u}.t@cm"}
    assert api.call("GET", f"entity/guid/{shell}/header")["isIncomplete"] is True
    by_qn = api.call("GET", "entity/uniqueAttribute/type/hive_table", params={"attr:qualifiedName": f"d_{u}.t@cm"})
    assert by_qn["entity"]["isIncomplete"] is True

    # a partial update leaves it a shell
    api.call("PUT", f"entity/guid/{shell}", params={"name": "description"}, json="seen")
    assert api.entity(shell)["entity"]["isIncomplete"] is True

    # the full entity, by its unique attributes: the same entity, filled in and complete, reported as an update
    resp = api.call("POST", "entity/bulk", json={"entities": [db(u), table(u)]})
    assert [h["guid"] for h in resp["mutatedEntities"]["UPDATE"]] == [shell]
    assert [h["isIncomplete"] for h in resp["mutatedEntities"]["UPDATE"]] == [False]
    filled = api.entity(shell)["entity"]
    assert filled["isIncomplete"] is False and filled["attributes"]["name"] == "t"
    assert filled["relationshipAttributes"]["db"]["guid"] == resp["guidAssignments"]["-1"]
    assert api.call("GET", f"entity/guid/{shell}/header")["isIncomplete"] is False

    # a later identical full update changes nothing (the completion is not reported twice)
    again = api.call("POST", "entity/bulk", json={"entities": [db(u), table(u)]})
    assert "mutatedEntities" not in again or shell not in {
        h["guid"] for hs in again["mutatedEntities"].values() for h in hs}


def test_the_hook_consumer_still_learns_which_shells_its_write_completed(api: Api, store: EmbeddedStore) -> None:
    """HookConsumer's sequence: the write, then complete_shells on the entities it updated."""
    u = uid()
    shell = _make_shell(store, u)
    with store.db.write() as conn:
        w = EntityWriter(conn, store.registry, "hook")
        w.create_or_update([db(u), table(u)], None, partial=False)
        assert w.result.completed == [shell]
        assert complete_shells(conn, [p.guid for p in w.pending if p.existing is not None]) == [shell]
        assert complete_shells(conn, [shell]) == []  # reported once
        row = load_entity(conn, shell)
        assert row is not None and not row.is_incomplete
    assert api.entity(shell)["entity"]["isIncomplete"] is False


# -- integer placeholder guids ------------------------------------------------------------------------------------
def test_integer_placeholder_guids_are_read_as_strings(api: Api) -> None:
    """Jackson reads a JSON number where AtlasEntity/AtlasObjectId hold a string: -1001 is the placeholder "-1001"."""
    u = uid()
    proc = {"typeName": "Process", "guid": -1004,
            "attributes": {"qualifiedName": f"p_{u}", "name": "p",
                           "inputs": [{"guid": -1002, "typeName": "hive_table", "qualifiedName": f"d_{u}.t@cm"}],
                           "outputs": []}}
    body = {"entities": [db(u, guid=-1001), table(u, guid=-1002, db_guid=-1001),
                         column(u, 0, -1003, table_guid=-1002), proc]}
    resp = api.call("POST", "entity/bulk", json=body)
    ga = resp["guidAssignments"]
    assert set(ga) == {"-1001", "-1002", "-1003", "-1004"}
    assert api.entity(ga["-1003"])["entity"]["relationshipAttributes"]["table"]["guid"] == ga["-1002"]
    got = api.entity(ga["-1004"])["entity"]
    assert [i["guid"] for i in got["relationshipAttributes"]["inputs"]] == [ga["-1002"]]

    # a referred entity keyed by its placeholder, its guid a number
    u2 = uid()
    one = api.call("POST", "entity", json={"entity": table(u2, guid=-7, db_guid=-8),
                                           "referredEntities": {"-8": db(u2, guid=-8)}})
    assert set(one["guidAssignments"]) == {"-7", "-8"}

    rel = api.call("POST", "relationship", json={"typeName": "hive_table_columns", "guid": -100,
                                                 "end1": {"guid": one["guidAssignments"]["-7"]},
                                                 "end2": {"guid": ga["-1003"]}})
    assert rel["guid"] != "-100" and rel["status"] == "ACTIVE"


def test_an_unknown_placeholder_is_a_referenced_entity_not_found(api: Api) -> None:
    u = uid()
    r = api.client.post("/api/atlas/v2/entity/bulk",
                        json={"entities": [table(u, guid=-5, db_guid=-404)]})
    assert r.status_code == 404 and r.json()["errorCode"] == "ATLAS-404-00-00A", r.text


# -- referredEntities -----------------------------------------------------------------------------------------------
def test_referred_entities_are_always_there(api: Api, store: EmbeddedStore) -> None:
    u = uid()
    ga = api.call("POST", "entity/bulk", json={"entities": [db(u), table(u), column(u, 0, "-10")]})["guidAssignments"]
    assert api.entity(ga["-1"])["referredEntities"] == {}
    assert api.call("GET", "entity/uniqueAttribute/type/hive_db",
                    params={"attr:qualifiedName": f"d_{u}@cm"})["referredEntities"] == {}
    assert set(api.entity(ga["-2"])["referredEntities"]) == {ga["-10"]}
    # ignoreRelationships: no relationship is mapped, so no owned entity either
    assert api.entity(ga["-2"], ignoreRelationships="true")["referredEntities"] == {}

    conn = store.db.reader()
    rows = [load_entity(conn, ga["-2"]), load_entity(conn, ga["-10"])]
    bulk = entities_with_ext_info(conn, store.registry, [r for r in rows if r is not None])
    # the column is listed, so it is not referred as well (AtlasEntitiesWithExtInfo.compact)
    assert bulk["referredEntities"] == {} and [e["guid"] for e in bulk["entities"]] == [ga["-2"], ga["-10"]]
    db_row = load_entity(conn, ga["-1"])
    assert db_row is not None
    assert entities_with_ext_info(conn, store.registry, [db_row])["referredEntities"] == {}
    assert entities_with_ext_info(conn, store.registry, []) == {}  # nothing found: neither key


def test_bulk_reads_carry_referred_entities_over_http(api: Api) -> None:
    u = uid()
    ga = api.call("POST", "entity/bulk", json={"entities": [db(u)]})["guidAssignments"]
    assert api.call("GET", "entity/bulk", params={"guid": ga["-1"]})["referredEntities"] == {}


def test_min_ext_info_refers_owned_entities_in_min_form(api: Api) -> None:
    """mapVertexToAtlasEntityMin: system attributes, classifications and the unique/header/schema attributes only."""
    u = uid()
    api.call("POST", "types/typedefs", json={"classificationDefs": [
        {"name": f"Sensitive_{u}", "attributeDefs": [], "superTypes": []}]})
    sd = {"typeName": "hive_storagedesc", "guid": "-3",
          "attributes": {"qualifiedName": f"d_{u}.t@cm_storage", "location": "hdfs://w/t", "compressed": False},
          "relationshipAttributes": {"table": {"guid": "-2", "typeName": "hive_table"}},
          "classifications": [{"typeName": f"Sensitive_{u}", "propagate": False}], "customAttributes": {"k": "v"}}
    ga = api.call("POST", "entity/bulk", json={"entities": [db(u), table(u), sd]})["guidAssignments"]
    full = api.entity(ga["-2"])["referredEntities"][ga["-3"]]
    assert full["attributes"]["location"] == "hdfs://w/t" and full["relationshipAttributes"]["table"]
    got = api.entity(ga["-2"], minExtInfo="true")
    assert got["entity"]["relationshipAttributes"]["sd"]["guid"] == ga["-3"]  # the entity itself in full
    child = got["referredEntities"][ga["-3"]]
    assert child["attributes"] == {"qualifiedName": f"d_{u}.t@cm_storage"} and "relationshipAttributes" not in child
    assert [c["typeName"] for c in child["classifications"]] == [f"Sensitive_{u}"]
    assert child["customAttributes"] == {"k": "v"} and child["status"] == "ACTIVE"


# -- system fields --------------------------------------------------------------------------------------------------
def test_entities_carry_no_proxy_provenance_type_or_home_id(api: Api) -> None:
    """Outside an import Atlas keeps none of them (EntityGraphMapper.updateSystemAttributes runs only then), and its
    retriever maps an absent one to null, which Jackson leaves out; an entity header has no such fields at all."""
    u = uid()
    sent = db(u)
    sent.update({"proxy": False, "isProxy": True, "provenanceType": 2, "homeId": "elsewhere"})
    guid = api.call("POST", "entity", json={"entity": sent})["guidAssignments"]["-1"]
    for got in (api.entity(guid)["entity"], api.entity(guid, minExtInfo="true")["entity"],
                api.call("GET", "entity/bulk", params={"guid": guid})["entities"][0]):
        assert not {"proxy", "isProxy", "provenanceType", "homeId"} & set(got), got
        assert got["isIncomplete"] is False
    header = api.call("GET", f"entity/guid/{guid}/header")
    assert not {"proxy", "isProxy", "provenanceType", "homeId"} & set(header)


def test_relationships_carry_provenance_type_zero(api: Api) -> None:
    """EntityGraphRetriever.mapSystemAttributes(edge): an absent provenanceType reads as 0."""
    u = uid()
    ga = api.call("POST", "entity/bulk", json={"entities": [db(u), table(u), column(u, 0, "-10")]})["guidAssignments"]
    rel_guid = api.entity(ga["-10"])["entity"]["relationshipAttributes"]["table"]["relationshipGuid"]
    got = api.call("GET", f"relationship/guid/{rel_guid}")["relationship"]
    assert got["provenanceType"] == 0 and "homeId" not in got
