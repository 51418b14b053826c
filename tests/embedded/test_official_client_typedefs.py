"""Typedefs through the official ``apache-atlas`` client (``client.typedef``) against the embedded store: creating
an enum, struct, classification, two entity defs and a relationship def in one request (the module-scoped
``custom_types`` fixture) and reading them back by name and guid, including the client's ``get_structdef_by_name``
quirk; 409 on re-creating an existing type, atomically; which typedef updates are accepted and which rejected; a null
``isOptional`` making an attribute mandatory; ``get_all_typedefs`` and the typedef headers with search filters; and
deleting types (404 when unknown, 409 while instances or relationship defs use them). Setup and shared helpers:
``official_client_helpers`` and this directory's ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
import requests
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.client.typedef import TypeDefClient
from apache_atlas.model.instance import AtlasEntityWithExtInfo
from apache_atlas.model.misc import SearchFilter
from apache_atlas.model.typedef import (
    AtlasAttributeDef,
    AtlasClassificationDef,
    AtlasEntityDef,
    AtlasEnumDef,
    AtlasEnumElementDef,
    AtlasRelationshipDef,
    AtlasRelationshipEndDef,
    AtlasStructDef,
    AtlasTypesDef,
)

from tests.conftest import ATLAS_PASSWORD, ATLAS_USER
from tests.embedded.official_client_helpers import GUID_RE, attr_def, create_hive, entity, expect_error, mutated, suffix


def search_filter(**params: str) -> SearchFilter:
    sf = SearchFilter()
    sf.params = params  # the client sends SearchFilter.params as the query string
    return sf


def entity_def(name: str, attrs: Iterable[AtlasAttributeDef] = (), super_types: Iterable[str] = ("DataSet",)
               ) -> AtlasEntityDef:
    return AtlasEntityDef({"name": name, "superTypes": list(super_types), "attributeDefs": list(attrs),
                           "serviceType": "mlcatalog_test", "typeVersion": "1.0"})


def relationship_def(name: str, category: str, end1: tuple[str, str, bool, str],
                     end2: tuple[str, str, bool, str]) -> AtlasRelationshipDef:
    def end(e: tuple[str, str, bool, str]) -> AtlasRelationshipEndDef:
        return AtlasRelationshipEndDef({"type": e[0], "name": e[1], "isContainer": e[2], "cardinality": e[3]})

    return AtlasRelationshipDef({"name": name, "relationshipCategory": category, "propagateTags": "NONE",
                                 "endDef1": end(end1), "endDef2": end(end2)})


def raw_delete_typedef(atlas_url: str, name: str) -> requests.Response:
    return requests.delete(f"{atlas_url}/api/atlas/v2/types/typedef/name/{name}",
                           auth=(ATLAS_USER, ATLAS_PASSWORD), timeout=30)


@pytest.fixture(scope="module")
def custom_types(client: AtlasClient) -> dict[str, Any]:
    """One new enum, struct, classification, two entity types and a relationship def."""
    uid = suffix()
    names: dict[str, Any] = {
        "enum": f"t_enum_{uid}", "struct": f"t_struct_{uid}", "classification": f"t_tag_{uid}",
        "entity": f"t_ent_{uid}", "entity2": f"t_ent2_{uid}", "relationship": f"t_rel_{uid}"}
    types = AtlasTypesDef({
        "enumDefs": [AtlasEnumDef({"name": names["enum"], "elementDefs": [
            AtlasEnumElementDef({"value": "LOW", "ordinal": 0}),
            AtlasEnumElementDef({"value": "HIGH", "ordinal": 1})]})],
        "structDefs": [AtlasStructDef({"name": names["struct"], "attributeDefs": [attr_def("k"), attr_def("v")]})],
        "classificationDefs": [AtlasClassificationDef({"name": names["classification"],
                                                       "attributeDefs": [attr_def("level", "int")]})],
        "entityDefs": [
            entity_def(names["entity"], [attr_def("a"), attr_def("level", names["enum"]),
                                         attr_def("kv", names["struct"]),
                                         # isOptional left unset: the client sends null -> mandatory (spec §1a)
                                         attr_def("req", "string", optional=None)]),
            entity_def(names["entity2"], [attr_def("b")]),
        ],
        "relationshipDefs": [relationship_def(names["relationship"], "AGGREGATION",
                                              (names["entity"], "children", True, "SET"),
                                              (names["entity2"], "parent", False, "SINGLE"))],
    })
    created = client.typedef.create_atlas_typedefs(types)
    names["_created"] = created
    return names


def test_typedef_create_returns_all_categories(custom_types: dict[str, Any]) -> None:
    created: AtlasTypesDef = custom_types["_created"]
    got = {
        "enumDefs": [d.name for d in created.enumDefs or []],
        "structDefs": [d.name for d in created.structDefs or []],
        "classificationDefs": [d.name for d in created.classificationDefs or []],
        "entityDefs": sorted(d.name for d in created.entityDefs or []),
        "relationshipDefs": [d.name for d in created.relationshipDefs or []],
    }
    assert got == {
        "enumDefs": [custom_types["enum"]],
        "structDefs": [custom_types["struct"]],
        "classificationDefs": [custom_types["classification"]],
        "entityDefs": sorted([custom_types["entity"], custom_types["entity2"]]),
        "relationshipDefs": [custom_types["relationship"]],
    }
    for group in ("enumDefs", "structDefs", "classificationDefs", "entityDefs", "relationshipDefs"):
        for d in created[group]:
            assert GUID_RE.match(d.guid), d
            assert d.createdBy == ATLAS_USER
            assert isinstance(d.createTime, int) and isinstance(d.updateTime, int)
            assert isinstance(d.version, int)
    categories = {d.name: d.category for g in ("enumDefs", "structDefs", "classificationDefs", "entityDefs",
                                               "relationshipDefs") for d in created[g]}
    assert categories[custom_types["enum"]] == "ENUM"
    assert categories[custom_types["struct"]] == "STRUCT"
    assert categories[custom_types["classification"]] == "CLASSIFICATION"
    assert categories[custom_types["entity"]] == "ENTITY"
    assert categories[custom_types["relationship"]] == "RELATIONSHIP"


def test_typedef_get_by_name_and_guid(client: AtlasClient, custom_types: dict[str, Any]) -> None:
    ed = client.typedef.get_entitydef_by_name(custom_types["entity"])
    assert ed.name == custom_types["entity"] and ed.category == "ENTITY"
    assert ed.superTypes == ["DataSet"]
    attrs = {a["name"]: a for a in ed.attributeDefs}
    assert set(attrs) == {"a", "level", "kv", "req"}
    assert attrs["a"]["isOptional"] is True
    assert attrs["req"]["isOptional"] is False  # null isOptional == Java default false
    assert attrs["a"]["cardinality"] == "SINGLE"
    # the relationship contributes a relationship attribute on both ends
    assert "children" in {a["name"] for a in ed.relationshipAttributeDefs}
    ed2 = client.typedef.get_entitydef_by_name(custom_types["entity2"])
    parent = [a for a in ed2.relationshipAttributeDefs if a["name"] == "parent"]
    assert parent and parent[0]["relationshipTypeName"] == custom_types["relationship"]

    by_guid = client.typedef.get_entitydef_by_guid(ed.guid)
    assert by_guid.name == ed.name and by_guid.guid == ed.guid

    en = client.typedef.get_enumdef_by_name(custom_types["enum"])
    assert [(e["value"], e["ordinal"]) for e in en.elementDefs] == [("LOW", 0), ("HIGH", 1)]
    cl = client.typedef.get_classificationdef_by_name(custom_types["classification"])
    assert cl.category == "CLASSIFICATION" and [a["name"] for a in cl.attributeDefs] == ["level"]
    rd = client.typedef.get_relationshipdef_by_name(custom_types["relationship"])
    assert rd.relationshipCategory == "AGGREGATION"
    assert rd.endDef1["type"] == custom_types["entity"] and rd.endDef1["name"] == "children"
    assert rd.endDef2["type"] == custom_types["entity2"] and rd.endDef2["isContainer"] is False
    assert client.typedef.get_relationshipdef_by_guid(rd.guid).name == rd.name

    # generic typedef/name and typedef/guid
    sd = client.call_api(TypeDefClient.GET_TYPEDEF_BY_NAME.format_path_with_params(custom_types["struct"]),
                         AtlasStructDef)
    assert sd.category == "STRUCT" and sorted(a["name"] for a in sd.attributeDefs) == ["k", "v"]
    sd2 = client.call_api(TypeDefClient.GET_TYPEDEF_BY_GUID.format_path_with_params(sd.guid), AtlasStructDef)
    assert sd2.name == custom_types["struct"]
    assert client.typedef.type_with_name_exists(custom_types["struct"]) is True
    assert client.typedef.type_with_guid_exists(sd.guid) is True
    assert client.typedef.type_with_name_exists(f"no_such_type_{suffix()}") is False

    # client quirk: get_structdef_by_name asks types/entitydef/name/{n}; Atlas answers 404 for a struct there
    expect_error(404, "ATLAS-404-00-001", client.typedef.get_structdef_by_name, custom_types["struct"])
    expect_error(404, "ATLAS-404-00-001", client.typedef.get_entitydef_by_name, f"no_such_type_{suffix()}")


def test_typedef_create_existing_is_409_and_atomic(client: AtlasClient, custom_types: dict[str, Any]) -> None:
    expect_error(409, "ATLAS-409-00-001", client.typedef.create_atlas_typedefs,
                 AtlasTypesDef({"entityDefs": [entity_def(custom_types["entity"], [attr_def("a")])]}))
    # a request mixing a new and an existing type fails as a whole: the new one is not created
    fresh = f"t_fresh_{suffix()}"
    expect_error(409, "ATLAS-409-00-001", client.typedef.create_atlas_typedefs,
                 AtlasTypesDef({"entityDefs": [entity_def(fresh), entity_def(custom_types["entity2"],
                                                                             [attr_def("b")])]}))
    assert client.typedef.type_with_name_exists(fresh) is False
    # bundled types exist too
    expect_error(409, "ATLAS-409-00-001", client.typedef.create_atlas_typedefs,
                 AtlasTypesDef({"entityDefs": [entity_def("hive_table")]}))


def test_typedef_update_add_optional_attribute(client: AtlasClient) -> None:
    name = f"t_upd_{suffix()}"
    client.typedef.create_atlas_typedefs(AtlasTypesDef({"entityDefs": [entity_def(name, [attr_def("a")])]}))
    before = client.typedef.get_entitydef_by_name(name)
    updated = client.typedef.update_atlas_typedefs(
        AtlasTypesDef({"entityDefs": [entity_def(name, [attr_def("a"), attr_def("extra", "int")])]}))
    assert [d.name for d in updated.entityDefs] == [name]
    assert {a["name"] for a in updated.entityDefs[0].attributeDefs} == {"a", "extra"}
    after = client.typedef.get_entitydef_by_name(name)
    assert {a["name"]: a["typeName"] for a in after.attributeDefs} == {"a": "string", "extra": "int"}
    assert after.guid == before.guid
    assert after.version > before.version
    # the new attribute is usable right away
    resp = client.entity.create_entity(AtlasEntityWithExtInfo({"entity": entity(
        name, {"qualifiedName": f"{name}@cm", "name": name, "extra": 7})}))
    guid = mutated(resp, "CREATE")[0]
    assert client.entity.get_entity_by_guid(guid).entity.attributes["extra"] == 7


def test_typedef_update_rejected_changes(client: AtlasClient, custom_types: dict[str, Any]) -> None:
    name = custom_types["entity"]
    current = [attr_def("a"), attr_def("level", custom_types["enum"]), attr_def("kv", custom_types["struct"]),
               attr_def("req", "string", optional=False)]
    # removing an attribute
    expect_error(400, "ATLAS-400-00-00D", client.typedef.update_atlas_typedefs,
                 AtlasTypesDef({"entityDefs": [entity_def(name, current[1:])]}))
    # adding a mandatory attribute
    expect_error(400, "ATLAS-400-00-00C", client.typedef.update_atlas_typedefs,
                 AtlasTypesDef({"entityDefs": [entity_def(name, [*current, attr_def("must", optional=False)])]}))
    # removing a supertype
    expect_error(400, "ATLAS-400-00-00E", client.typedef.update_atlas_typedefs,
                 AtlasTypesDef({"entityDefs": [entity_def(name, current, super_types=[])]}))
    # changing a relationship category
    expect_error(400, "ATLAS-400-00-039", client.typedef.update_atlas_typedefs,
                 AtlasTypesDef({"relationshipDefs": [relationship_def(
                     custom_types["relationship"], "COMPOSITION",
                     (custom_types["entity"], "children", True, "SET"),
                     (custom_types["entity2"], "parent", False, "SINGLE"))]}))
    # PUT of a type that does not exist
    expect_error(404, "ATLAS-404-00-001", client.typedef.update_atlas_typedefs,
                 AtlasTypesDef({"entityDefs": [entity_def(f"t_missing_{suffix()}", [attr_def("a")])]}))
    # nothing changed
    ed = client.typedef.get_entitydef_by_name(name)
    assert {a["name"] for a in ed.attributeDefs} == {"a", "level", "kv", "req"}
    assert ed.superTypes == ["DataSet"]
    assert client.typedef.get_relationshipdef_by_name(custom_types["relationship"]).relationshipCategory \
        == "AGGREGATION"


def test_typedef_attribute_with_null_is_optional_is_mandatory(client: AtlasClient,
                                                             custom_types: dict[str, Any]) -> None:
    """The client serialises isOptional=None as null; Atlas's default is false -> mandatory (spec §1a)."""
    uid = suffix()
    e = entity(custom_types["entity"], {"qualifiedName": f"noreq_{uid}@cm", "name": "x"})
    expect_error(404, "ATLAS-404-00-007", client.entity.create_entity, AtlasEntityWithExtInfo({"entity": e}))
    e2 = entity(custom_types["entity"], {"qualifiedName": f"withreq_{uid}@cm", "name": "x", "req": "r",
                                         "level": "HIGH", "kv": {"k": "key", "v": "val"}})
    guid = mutated(client.entity.create_entity(AtlasEntityWithExtInfo({"entity": e2})), "CREATE")[0]
    got = client.entity.get_entity_by_guid(guid).entity
    assert got.attributes["level"] == "HIGH"
    assert got.attributes["kv"] == {"typeName": custom_types["struct"], "attributes": {"k": "key", "v": "val"}}


def test_get_all_typedefs_with_search_filter(client: AtlasClient, custom_types: dict[str, Any]) -> None:
    all_groups = ("enumDefs", "structDefs", "classificationDefs", "entityDefs", "relationshipDefs")

    def names(td: AtlasTypesDef, group: str) -> set[str]:
        return {d.name for d in td[group] or []}

    td = client.typedef.get_all_typedefs(search_filter(type="ENTITY", name=custom_types["entity"]))
    assert names(td, "entityDefs") == {custom_types["entity"]}
    assert all(not td[g] for g in all_groups if g != "entityDefs")

    # type is case-insensitive and accepts the legacy aliases CLASS / TRAIT
    for t in ("entity", "class", "CLASS"):
        td = client.typedef.get_all_typedefs(search_filter(type=t))
        assert {"hive_table", "ml_model_build", custom_types["entity"]} <= names(td, "entityDefs"), t
        assert all(not td[g] for g in all_groups if g != "entityDefs"), t
    for t in ("classification", "TRAIT"):
        td = client.typedef.get_all_typedefs(search_filter(type=t))
        assert custom_types["classification"] in names(td, "classificationDefs")
        assert all(not td[g] for g in all_groups if g != "classificationDefs")
    td = client.typedef.get_all_typedefs(search_filter(type="enum"))
    assert {custom_types["enum"], "ml_model_deployment_status", "hive_principal_type"} <= names(td, "enumDefs")
    td = client.typedef.get_all_typedefs(search_filter(type="STRUCT"))
    assert {custom_types["struct"], "hive_serde"} <= names(td, "structDefs")
    assert not names(td, "entityDefs")
    td = client.typedef.get_all_typedefs(search_filter(type="RELATIONSHIP", name=custom_types["relationship"]))
    assert names(td, "relationshipDefs") == {custom_types["relationship"]}

    # supertype: all (transitive) subtypes, not the type itself
    td = client.typedef.get_all_typedefs(search_filter(type="ENTITY", supertype="DataSet"))
    ds = names(td, "entityDefs")
    assert {"hive_table", "hive_column", "ml_model_build", "aws_s3_v2_directory", "hdfs_path",
            custom_types["entity"]} <= ds
    assert not ds & {"DataSet", "hive_process", "hive_db", "Process", "Referenceable"}
    td = client.typedef.get_all_typedefs(search_filter(type="ENTITY", supertype="Process"))
    assert {"hive_process", "ml_model_train_build_process", "ml_model_deploy_process"} <= names(td, "entityDefs")
    assert "hive_table" not in names(td, "entityDefs")

    # no filter: everything, including bundled types
    td = client.typedef.get_all_typedefs(search_filter())
    assert {"Referenceable", "hive_table", custom_types["entity"]} <= names(td, "entityDefs")
    assert {"process_dataset_outputs", custom_types["relationship"]} <= names(td, "relationshipDefs")


def test_typedef_headers(client: AtlasClient, custom_types: dict[str, Any]) -> None:
    headers = client.typedef.get_all_typedef_headers(search_filter(name=custom_types["entity"]))
    assert isinstance(headers, list) and len(headers) == 1
    h = headers[0]
    assert h["name"] == custom_types["entity"] and h["category"] == "ENTITY" and GUID_RE.match(h["guid"])
    assert h.get("serviceType") == "mlcatalog_test"
    assert set(h) <= {"guid", "name", "category", "serviceType"}
    headers = client.typedef.get_all_typedef_headers(search_filter(type="ENUM"))
    by_name = {x["name"]: x for x in headers}
    assert by_name[custom_types["enum"]]["category"] == "ENUM"
    assert {x["category"] for x in headers} == {"ENUM"}
    every = client.typedef.get_all_typedef_headers(search_filter())
    assert {"hive_table", "ml_model_deployment", custom_types["relationship"]} <= {x["name"] for x in every}


def test_typedef_delete(client: AtlasClient, atlas_url: str) -> None:
    uid = suffix()
    a, b = f"t_del_a_{uid}", f"t_del_b_{uid}"
    client.typedef.create_atlas_typedefs(AtlasTypesDef({"entityDefs": [entity_def(a), entity_def(b)],
                                                        "classificationDefs": [AtlasClassificationDef(
                                                            {"name": f"t_del_tag_{uid}"})]}))
    # the client's delete_type_by_name: DELETE types/typedef/name/{name} -> 204 (returns None)
    assert client.typedef.delete_type_by_name(a) is None
    expect_error(404, "ATLAS-404-00-001", client.typedef.get_entitydef_by_name, a)
    assert client.typedef.type_with_name_exists(a) is False
    # raw DELETE with Basic auth
    assert raw_delete_typedef(atlas_url, f"t_del_tag_{uid}").status_code == 204
    assert client.typedef.type_with_name_exists(f"t_del_tag_{uid}") is False
    # DELETE types/typedefs/ with an AtlasTypesDef body (what delete_atlas_typedefs should have sent)
    r = requests.delete(f"{atlas_url}/api/atlas/v2/types/typedefs/", auth=(ATLAS_USER, ATLAS_PASSWORD),
                        json={"entityDefs": [{"name": b}]}, timeout=30)
    assert r.status_code == 204, r.text
    assert client.typedef.type_with_name_exists(b) is False
    # deleting an unknown type
    expect_error(404, "ATLAS-404-00-001", client.typedef.delete_type_by_name, a)


def test_typedef_delete_with_instances_or_relationships_is_409(client: AtlasClient, atlas_url: str,
                                                               custom_types: dict[str, Any]) -> None:
    uid = suffix()
    name = f"t_inst_{uid}"
    client.typedef.create_atlas_typedefs(AtlasTypesDef({"entityDefs": [entity_def(name)]}))
    client.entity.create_entity(AtlasEntityWithExtInfo({"entity": entity(name, {"qualifiedName": f"i_{uid}",
                                                                               "name": "i"})}))
    expect_error(409, "ATLAS-409-00-002", client.typedef.delete_type_by_name, name)
    assert client.typedef.type_with_name_exists(name) is True
    # bundled type with instances
    create_hive(client, uid, ncols=0)
    expect_error(409, "ATLAS-409-00-002", client.typedef.delete_type_by_name, "hive_db")
    # an entity type that is an end of a relationship def
    expect_error(409, "ATLAS-409-00-005", client.typedef.delete_type_by_name, custom_types["entity2"])
    assert client.typedef.type_with_name_exists(custom_types["entity2"]) is True
