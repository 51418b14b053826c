"""The embedded store driven over HTTP by the OFFICIAL ``apache-atlas`` Python client.

Every test talks to the session server (``atlas_url`` fixture, real uvicorn over loopback) exactly the
way user code would: ``AtlasClient(url, (user, password))`` and the client's own model classes, which
serialise every unset field as an explicit ``null``.  Expected behaviour is Apache Atlas 2.x's, as
written down in ``shared/reference/atlas-rest-and-models.md`` (sections referenced as "spec §...").

The server is shared by the whole session, so every test uses names with a fresh random suffix.
"""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any, cast

import pytest
import requests
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.client.entity import EntityClient
from apache_atlas.client.typedef import TypeDefClient
from apache_atlas.exceptions import AtlasServiceException
from apache_atlas.model.discovery import FilterCriteria, SearchParameters
from apache_atlas.model.instance import (
    AtlasClassification,
    AtlasEntitiesWithExtInfo,
    AtlasEntity,
    AtlasEntityWithExtInfo,
    AtlasObjectId,
    AtlasRelatedObjectId,
    EntityMutationResponse,
)
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
from apache_atlas.utils import attributes_to_params

from tests.conftest import ATLAS_PASSWORD, ATLAS_USER

GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# AtlasServiceException has no status/errorCode attributes (spec §1c): parse its message.
ERROR_RE = re.compile(r"failed with status (\d+)\. Response body is: (.*)\Z", re.S)

# 2024-01-02T03:04:05.000Z
T0 = 1704164645000


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def parse_service_exception(exc: AtlasServiceException) -> tuple[int, Any]:
    """(HTTP status, parsed body) out of the client's exception message."""
    m = ERROR_RE.search(str(exc))
    assert m, f"unexpected AtlasServiceException message: {exc}"
    raw = m.group(2)
    try:
        body: Any = ast.literal_eval(raw)  # the client formats response.json() with str()
    except (ValueError, SyntaxError):
        body = raw
    return int(m.group(1)), body


def expect_error(status: int, error_code: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call ``fn``; it must raise AtlasServiceException with this HTTP status and Atlas errorCode."""
    with pytest.raises(AtlasServiceException) as info:
        fn(*args, **kwargs)
    got_status, body = parse_service_exception(info.value)
    got_code = body.get("errorCode") if isinstance(body, dict) else None
    assert (got_status, got_code) == (status, error_code), str(info.value)
    assert isinstance(body.get("errorMessage"), str) and body["errorMessage"], body
    return cast(dict[str, Any], body)  # the parsed JSON error body, a dict by the assertions above


def suffix() -> str:
    return uuid.uuid4().hex[:10]


def entity(type_name: str, attributes: dict[str, Any],
           relationship_attributes: dict[str, Any] | None = None) -> AtlasEntity:
    """An AtlasEntity as user code builds it: client model class, negative placeholder guid."""
    e = AtlasEntity({"typeName": type_name})
    e.attributes = attributes
    if relationship_attributes is not None:
        e.relationshipAttributes = relationship_attributes
    assert e.guid.startswith("-")
    return e


def ref(guid: str, relationship_type: str | None = None) -> AtlasObjectId:
    if relationship_type:
        return AtlasRelatedObjectId({"guid": guid, "relationshipType": relationship_type})
    return AtlasObjectId({"guid": guid})


def uref(type_name: str, qualified_name: str) -> AtlasObjectId:
    return AtlasObjectId({"typeName": type_name, "uniqueAttributes": {"qualifiedName": qualified_name}})


def bulk(*entities: AtlasEntity) -> AtlasEntitiesWithExtInfo:
    return AtlasEntitiesWithExtInfo({"entities": list(entities)})


def mutated(resp: EntityMutationResponse, op: str) -> list[str]:
    return [h.guid for h in (resp.mutatedEntities or {}).get(op) or []]


def rel_guids(value: Any) -> set[str]:
    """Guids of a relationship attribute value (one AtlasRelatedObjectId or a list of them)."""
    if value is None:
        return set()
    if isinstance(value, dict):
        return {value["guid"]}
    return {v["guid"] for v in value}


def search_filter(**params: str) -> SearchFilter:
    sf = SearchFilter()
    sf.params = params  # the client sends SearchFilter.params as the query string
    return sf


def attr_def(name: str, type_name: str = "string", optional: bool | None = True, **extra: Any) -> AtlasAttributeDef:
    d = {"name": name, "typeName": type_name, **extra}
    if optional is not None:
        d["isOptional"] = optional
    return AtlasAttributeDef(d)


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


# ------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(atlas_url: str) -> AtlasClient:
    return AtlasClient(atlas_url, (ATLAS_USER, ATLAS_PASSWORD))


def create_hive(client: AtlasClient, uid: str, ncols: int = 2, table_attrs: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """hive_db -> hive_table (db) -> hive_columns (table) in one bulk request with placeholders."""
    db = entity("hive_db", {"qualifiedName": f"db_{uid}@cm", "name": f"db_{uid}", "clusterName": "cm"})
    tbl = entity("hive_table", {"qualifiedName": f"db_{uid}.tbl@cm", "name": "tbl", "createTime": T0,
                                **(table_attrs or {})},
                 {"db": ref(db.guid)})
    cols = [entity("hive_column", {"qualifiedName": f"db_{uid}.tbl.c{i}@cm", "name": f"c{i}", "type": "int",
                                   "position": i},
                   {"table": ref(tbl.guid, "hive_table_columns")}) for i in range(ncols)]
    resp = client.entity.create_entities(bulk(db, tbl, *cols))
    ga = resp.guidAssignments
    return {"resp": resp, "db": ga[db.guid], "table": ga[tbl.guid], "columns": [ga[c.guid] for c in cols],
            "placeholders": [db.guid, tbl.guid, *[c.guid for c in cols]],
            "db_qn": f"db_{uid}@cm", "table_qn": f"db_{uid}.tbl@cm"}


def create_ml(client: AtlasClient, uid: str, metadata: dict[str, str] | None = None) -> dict[str, str]:
    """ml_project -> ml_model_build (project) -> ml_model_deployment (build)."""
    proj = entity("ml_project", {"qualifiedName": f"proj_{uid}@cm", "name": f"proj_{uid}"})
    build = entity("ml_model_build", {"qualifiedName": f"build_{uid}@cm", "name": f"build_{uid}", "version": 1,
                                      "metadata": metadata or {"k1": "v1"}},
                   {"project": ref(proj.guid)})
    dep = entity("ml_model_deployment", {"qualifiedName": f"dep_{uid}@cm", "name": f"dep_{uid}", "createTime": T0,
                                         "deployedTime": T0, "status": "deployed", "cpuMillicores": 500},
                 {"build": ref(build.guid)})
    resp = client.entity.create_entities(bulk(proj, build, dep))
    ga = resp.guidAssignments
    return {"project": ga[proj.guid], "build": ga[build.guid], "deployment": ga[dep.guid],
            "build_qn": f"build_{uid}@cm", "project_qn": f"proj_{uid}@cm", "deployment_qn": f"dep_{uid}@cm"}


# ================================================================================================
# typedefs
# ================================================================================================
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


# ================================================================================================
# entities
# ================================================================================================
def test_create_entities_with_placeholders(client: AtlasClient) -> None:
    uid = suffix()
    h = create_hive(client, uid, ncols=2)
    resp: EntityMutationResponse = h["resp"]
    # every placeholder is assigned a real guid
    assert set(resp.guidAssignments) == set(h["placeholders"])
    real = list(resp.guidAssignments.values())
    assert all(GUID_RE.match(g) for g in real) and len(set(real)) == len(real)
    assert set(mutated(resp, "CREATE")) == set(real)
    assert not mutated(resp, "UPDATE")
    types = {x.guid: x.typeName for x in resp.mutatedEntities["CREATE"]}
    assert types[h["db"]] == "hive_db" and types[h["table"]] == "hive_table"
    assert {types[c] for c in h["columns"]} == {"hive_column"}
    for x in resp.mutatedEntities["CREATE"]:
        assert x.status == "ACTIVE"
        assert x.attributes["qualifiedName"].endswith("@cm")
        assert x.displayText == x.attributes["name"]

    table = client.entity.get_entity_by_guid(h["table"])
    e = table.entity
    assert e.guid == h["table"] and e.typeName == "hive_table" and e.status == "ACTIVE"
    assert e.attributes["qualifiedName"] == h["table_qn"] and e.attributes["createTime"] == T0
    assert e.createdBy == ATLAS_USER and isinstance(e.createTime, int) and isinstance(e.updateTime, int)
    db_ref = e.relationshipAttributes["db"]
    assert db_ref["guid"] == h["db"] and db_ref["typeName"] == "hive_db"
    assert db_ref["relationshipType"] == "hive_table_db" and db_ref["entityStatus"] == "ACTIVE"
    assert db_ref["displayText"] == f"db_{uid}" and GUID_RE.match(db_ref["relationshipGuid"])
    assert rel_guids(e.relationshipAttributes["columns"]) == set(h["columns"])
    assert all(c["relationshipType"] == "hive_table_columns" for c in e.relationshipAttributes["columns"])
    # the owned columns come back as referred entities
    assert set(h["columns"]) <= set(table.referredEntities or {})

    col = client.entity.get_entity_by_guid(h["columns"][0]).entity
    assert col.relationshipAttributes["table"]["guid"] == h["table"]
    assert col.attributes["type"] == "int" and col.attributes["position"] == 0
    db = client.entity.get_entity_by_guid(h["db"]).entity
    assert rel_guids(db.relationshipAttributes["tables"]) == {h["table"]}


def test_create_entity_with_referred_entities(client: AtlasClient) -> None:
    """POST entity/ (create_entity): placeholders may point into referredEntities, which are created too."""
    uid = suffix()
    db = entity("hive_db", {"qualifiedName": f"rdb_{uid}@cm", "name": f"rdb_{uid}", "clusterName": "cm"})
    tbl = entity("hive_table", {"qualifiedName": f"rdb_{uid}.t@cm", "name": "t"}, {"db": ref(db.guid)})
    info = AtlasEntityWithExtInfo({"entity": tbl})
    info.add_referenced_entity(db)
    resp = client.entity.create_entity(info)
    assert set(resp.guidAssignments) == {db.guid, tbl.guid}
    assert set(mutated(resp, "CREATE")) == set(resp.guidAssignments.values())
    got = client.entity.get_entity_by_attribute("hive_table", {"qualifiedName": f"rdb_{uid}.t@cm"}).entity
    assert got.relationshipAttributes["db"]["guid"] == resp.guidAssignments[db.guid]


def test_repost_is_update_and_unchanged_entities_are_skipped(client: AtlasClient) -> None:
    uid = suffix()
    h = create_hive(client, uid, ncols=2)
    # the same entities again, new AtlasEntity objects (new placeholder guids), matched by qualifiedName
    h2 = create_hive(client, uid, ncols=2)
    resp: EntityMutationResponse = h2["resp"]
    assert set(resp.guidAssignments) == set(h2["placeholders"])
    assert (h2["db"], h2["table"], h2["columns"]) == (h["db"], h["table"], h["columns"])
    assert not mutated(resp, "CREATE")
    assert not mutated(resp, "UPDATE"), "unchanged entities must not be reported as updated"

    # one changed attribute: only that entity is UPDATEd
    h3 = create_hive(client, uid, ncols=2, table_attrs={"description": "changed"})
    resp = h3["resp"]
    assert h3["table"] == h["table"]
    assert not mutated(resp, "CREATE")
    assert set(mutated(resp, "UPDATE")) == {h["table"]}
    assert client.entity.get_entity_by_guid(h["table"]).entity.attributes["description"] == "changed"

    # full update through the client's update_entity (POST entity/)
    tbl = entity("hive_table", {"qualifiedName": h["table_qn"], "name": "tbl", "createTime": T0,
                                "description": "again", "owner": "bob"}, {"db": ref(h["db"])})
    resp = client.entity.update_entity(AtlasEntityWithExtInfo({"entity": tbl}))
    assert mutated(resp, "UPDATE") == [h["table"]]
    assert resp.guidAssignments == {tbl.guid: h["table"]}
    got = client.entity.get_entity_by_guid(h["table"]).entity
    assert (got.attributes["description"], got.attributes["owner"]) == ("again", "bob")
    # an update addressed by the real guid
    tbl2 = entity("hive_table", {"qualifiedName": h["table_qn"], "name": "tbl", "owner": "carol"})
    tbl2.guid = h["table"]
    resp = client.entity.update_entity(AtlasEntityWithExtInfo({"entity": tbl2}))
    assert mutated(resp, "UPDATE") == [h["table"]]
    assert client.entity.get_entity_by_guid(h["table"]).entity.attributes["owner"] == "carol"


def test_full_update_still_validates_mandatory_attributes(client: AtlasClient) -> None:
    uid = suffix()
    h = create_hive(client, uid, ncols=0)
    db = entity("hive_db", {"qualifiedName": h["db_qn"], "name": "renamed"})  # clusterName* missing
    expect_error(404, "ATLAS-404-00-007", client.entity.update_entity, AtlasEntityWithExtInfo({"entity": db}))
    assert client.entity.get_entity_by_guid(h["db"]).entity.attributes["name"] == f"db_{uid}"


@pytest.mark.parametrize("case", ["column_without_type", "column_without_table", "build_without_project",
                                  "deployment_without_mandatory_ints"])
def test_missing_mandatory_attribute_is_404_007_and_nothing_written(client: AtlasClient, case: str) -> None:
    uid = suffix()
    sibling_qn = f"sibling_{uid}@cm"
    sibling = entity("hive_db", {"qualifiedName": sibling_qn, "name": "sibling", "clusterName": "cm"})
    if case == "column_without_type":
        h = create_hive(client, uid, ncols=0)
        bad = entity("hive_column", {"qualifiedName": f"bad_{uid}@cm", "name": "bad"},
                     {"table": ref(h["table"], "hive_table_columns")})
    elif case == "column_without_table":  # COMPOSITION child end is mandatory (spec §1d)
        bad = entity("hive_column", {"qualifiedName": f"bad_{uid}@cm", "name": "bad", "type": "int"})
    elif case == "build_without_project":
        bad = entity("ml_model_build", {"qualifiedName": f"bad_{uid}@cm", "name": "bad", "version": 1})
    else:
        m = create_ml(client, uid)
        bad = entity("ml_model_deployment", {"qualifiedName": f"bad_{uid}@cm", "name": "bad", "createTime": T0,
                                             "deployedTime": T0, "status": "deployed"},  # cpuMillicores* missing
                     {"build": ref(m["build"])})
    body = expect_error(404, "ATLAS-404-00-007", client.entity.create_entities, bulk(sibling, bad))
    assert "mandatory" in body["errorMessage"].lower() or "missing" in body["errorMessage"].lower(), body
    # the whole request was rejected: the valid sibling was not written either
    expect_error(404, "ATLAS-404-00-009", client.entity.get_entity_by_attribute, "hive_db",
                 {"qualifiedName": sibling_qn})
    expect_error(404, "ATLAS-404-00-009", client.entity.get_entity_by_attribute, bad.typeName,
                 {"qualifiedName": f"bad_{uid}@cm"})


def test_unresolvable_references_are_404_00A(client: AtlasClient) -> None:
    uid = suffix()
    sibling_qn = f"sib_{uid}@cm"
    sibling = entity("hive_db", {"qualifiedName": sibling_qn, "name": "sib", "clusterName": "cm"})
    tbl = entity("hive_table", {"qualifiedName": f"x_{uid}.t@cm", "name": "t"}, {"db": ref("-98765432123")})
    expect_error(404, "ATLAS-404-00-00A", client.entity.create_entities, bulk(sibling, tbl))
    expect_error(404, "ATLAS-404-00-009", client.entity.get_entity_by_attribute, "hive_db",
                 {"qualifiedName": sibling_qn})
    # a unique-attribute reference to nothing
    tbl = entity("hive_table", {"qualifiedName": f"x_{uid}.t@cm", "name": "t"},
                 {"db": uref("hive_db", f"nope_{uid}@cm")})
    expect_error(404, "ATLAS-404-00-00A", client.entity.create_entities, bulk(tbl))
    expect_error(404, "ATLAS-404-00-009", client.entity.get_entity_by_attribute, "hive_table",
                 {"qualifiedName": f"x_{uid}.t@cm"})


def test_unknown_type_on_create(client: AtlasClient) -> None:
    e = entity(f"no_such_type_{suffix()}", {"qualifiedName": "x", "name": "x"})
    expect_error(400, "ATLAS-400-00-014", client.entity.create_entity, AtlasEntityWithExtInfo({"entity": e}))


def test_unknown_attribute_is_silently_dropped(client: AtlasClient) -> None:
    uid = suffix()
    db = entity("hive_db", {"qualifiedName": f"ua_{uid}@cm", "name": "ua", "clusterName": "cm",
                            "noSuchAttribute": "x", "anotherOne": {"nested": 1}})
    resp = client.entity.create_entity(AtlasEntityWithExtInfo({"entity": db}))
    guid = mutated(resp, "CREATE")[0]
    attrs = client.entity.get_entity_by_guid(guid).entity.attributes
    assert "noSuchAttribute" not in attrs and "anotherOne" not in attrs
    assert attrs["clusterName"] == "cm"
    # also on update
    db2 = entity("hive_db", {"qualifiedName": f"ua_{uid}@cm", "name": "ua", "clusterName": "cm",
                             "noSuchAttribute": "y"})
    resp = client.entity.create_entity(AtlasEntityWithExtInfo({"entity": db2}))
    assert resp.guidAssignments[db2.guid] == guid
    assert "noSuchAttribute" not in client.entity.get_entity_by_guid(guid).entity.attributes


def test_references_by_unique_attributes(client: AtlasClient) -> None:
    uid = suffix()
    h = create_hive(client, uid, ncols=0)
    tbl = entity("hive_table", {"qualifiedName": f"db_{uid}.other@cm", "name": "other"},
                 {"db": uref("hive_db", h["db_qn"])})
    col = entity("hive_column", {"qualifiedName": f"db_{uid}.other.c@cm", "name": "c", "type": "string"},
                 {"table": AtlasRelatedObjectId({"typeName": "hive_table",
                                                 "uniqueAttributes": {"qualifiedName": f"db_{uid}.other@cm"},
                                                 "relationshipType": "hive_table_columns"})})
    resp = client.entity.create_entities(bulk(tbl, col))
    t_guid, c_guid = resp.guidAssignments[tbl.guid], resp.guidAssignments[col.guid]
    t = client.entity.get_entity_by_guid(t_guid).entity
    assert t.relationshipAttributes["db"]["guid"] == h["db"]
    assert rel_guids(t.relationshipAttributes["columns"]) == {c_guid}
    db = client.entity.get_entity_by_guid(h["db"]).entity
    assert rel_guids(db.relationshipAttributes["tables"]) == {h["table"], t_guid}


def test_legacy_reference_in_attributes(client: AtlasClient) -> None:
    """Hooks put relationship references in ``attributes`` (legacy attrs): Process inputs/outputs, hive db."""
    uid = suffix()
    h = create_hive(client, uid, ncols=0)
    tbl = entity("hive_table", {"qualifiedName": f"db_{uid}.legacy@cm", "name": "legacy",
                                "db": uref("hive_db", h["db_qn"])})
    resp = client.entity.create_entity(AtlasEntityWithExtInfo({"entity": tbl}))
    got = client.entity.get_entity_by_guid(resp.guidAssignments[tbl.guid]).entity
    assert got.relationshipAttributes["db"]["guid"] == h["db"]


def test_read_apis(client: AtlasClient) -> None:
    uid = suffix()
    h = create_hive(client, uid, ncols=2)
    by_attr = client.entity.get_entity_by_attribute("hive_table", {"qualifiedName": h["table_qn"]})
    assert by_attr.entity.guid == h["table"]
    # a unique attribute lookup covers subtypes: DataSet finds the hive_table
    assert client.entity.get_entity_by_attribute("DataSet", {"qualifiedName": h["table_qn"]}).entity.guid \
        == h["table"]

    many = client.entity.get_entities_by_guids([h["db"], h["table"]])
    assert {e.guid for e in many.entities} == {h["db"], h["table"]}
    many = client.entity.get_entities_by_attribute("hive_column", [{"qualifiedName": f"db_{uid}.tbl.c0@cm"},
                                                                   {"qualifiedName": f"db_{uid}.tbl.c1@cm"}])
    assert {e.guid for e in many.entities} == set(h["columns"])

    header = client.entity.get_entity_header_by_guid(h["table"])
    assert header.guid == h["table"] and header.typeName == "hive_table" and header.status == "ACTIVE"
    assert header.displayText == "tbl"
    assert header.attributes["qualifiedName"] == h["table_qn"] and header.attributes["name"] == "tbl"
    assert header.attributes["createTime"] == T0
    header = client.entity.get_entity_header_by_attribute("hive_db", {"qualifiedName": h["db_qn"]})
    assert header.guid == h["db"]

    # ignoreRelationships=True: no relationship attributes
    e = client.entity.get_entity_by_guid(h["table"], ignore_relationships=True).entity
    assert not e.relationshipAttributes
    # minExtInfo=True: owned references (the columns) are still referred entities, but in minimal form
    # (EntityGraphRetriever.mapVertexToAtlasEntityMin: system attributes + min-info attributes only)
    e2 = client.entity.get_entity_by_guid(h["table"], min_ext_info=True)
    assert e2.entity.guid == h["table"]
    assert set(e2.referredEntities or {}) == set(h["columns"])
    col = e2.referredEntities[h["columns"][0]]
    assert col.typeName == "hive_column" and col.attributes["qualifiedName"] == f"db_{uid}.tbl.c0@cm"
    assert not col.relationshipAttributes
    full = client.entity.get_entity_by_guid(h["table"])
    assert full.referredEntities[h["columns"][0]].relationshipAttributes["table"]["guid"] == h["table"]

    expect_error(404, "ATLAS-404-00-005", client.entity.get_entity_by_guid, str(uuid.uuid4()))
    expect_error(404, "ATLAS-404-00-005", client.entity.get_entity_header_by_guid, str(uuid.uuid4()))
    expect_error(404, "ATLAS-404-00-009", client.entity.get_entity_by_attribute, "hive_table",
                 {"qualifiedName": f"missing_{uid}"})
    expect_error(404, "ATLAS-404-00-001", client.entity.get_entity_by_attribute, f"no_type_{uid}",
                 {"qualifiedName": "x"})


def test_partial_update_by_guid(client: AtlasClient) -> None:
    uid = suffix()
    h = create_hive(client, uid, ncols=0)
    resp = client.entity.partial_update_entity_by_guid(h["table"], "desc via PUT", "description")
    assert mutated(resp, "PARTIAL_UPDATE") == [h["table"]]
    e = client.entity.get_entity_by_guid(h["table"]).entity
    assert e.attributes["description"] == "desc via PUT"
    assert e.attributes["name"] == "tbl" and e.attributes["createTime"] == T0  # other attributes untouched
    assert e.relationshipAttributes["db"]["guid"] == h["db"]
    client.entity.partial_update_entity_by_guid(h["table"], 3, "retention")
    assert client.entity.get_entity_by_guid(h["table"]).entity.attributes["retention"] == 3
    expect_error(404, "ATLAS-404-00-005", client.entity.partial_update_entity_by_guid, str(uuid.uuid4()),
                 "x", "description")


def test_metadata_map_merged_on_partial_update_replaced_on_post(client: AtlasClient) -> None:
    uid = suffix()
    m = create_ml(client, uid, metadata={"k1": "v1"})

    def metadata() -> dict[str, str]:
        return dict(client.entity.get_entity_by_guid(m["build"]).entity.attributes["metadata"])

    assert metadata() == {"k1": "v1"}
    # PUT entity/guid/{g}?name=metadata: partial update -> isAppendOnPartialUpdate merges
    client.entity.partial_update_entity_by_guid(m["build"], {"k2": "v2"}, "metadata")
    assert metadata() == {"k1": "v1", "k2": "v2"}

    # PUT entity/uniqueAttribute/type/{t}?attr:qualifiedName= (client has the API constant, no method)
    upd = entity("ml_model_build", {"metadata": {"k3": "v3", "k1": "v1b"}, "description": "partial"})
    resp = client.call_api(EntityClient.UPDATE_ENTITY_BY_ATTRIBUTE.format_path_with_params("ml_model_build"),
                           EntityMutationResponse, attributes_to_params({"qualifiedName": m["build_qn"]}),
                           AtlasEntityWithExtInfo({"entity": upd}))
    assert mutated(resp, "PARTIAL_UPDATE") == [m["build"]]
    assert metadata() == {"k1": "v1b", "k2": "v2", "k3": "v3"}
    got = client.entity.get_entity_by_guid(m["build"]).entity
    assert got.attributes["description"] == "partial"
    assert got.attributes["version"] == 1  # untouched by the partial update
    assert got.relationshipAttributes["project"]["guid"] == m["project"]

    # POST entity/ (full create-or-update): the map is replaced, not merged
    full = entity("ml_model_build", {"qualifiedName": m["build_qn"], "name": f"build_{uid}", "version": 1,
                                     "metadata": {"only": "this"}}, {"project": ref(m["project"])})
    resp = client.entity.create_entity(AtlasEntityWithExtInfo({"entity": full}))
    assert mutated(resp, "UPDATE") == [m["build"]]
    assert metadata() == {"only": "this"}

    expect_error(404, "ATLAS-404-00-009", client.call_api,
                 EntityClient.UPDATE_ENTITY_BY_ATTRIBUTE.format_path_with_params("ml_model_build"),
                 EntityMutationResponse, attributes_to_params({"qualifiedName": f"nope_{uid}"}),
                 AtlasEntityWithExtInfo({"entity": entity("ml_model_build", {"description": "x"})}))


def test_soft_delete_and_composition_cascade_hive(client: AtlasClient) -> None:
    uid = suffix()
    h = create_hive(client, uid, ncols=2)
    # AGGREGATION: deleting the db does not delete its table
    resp = client.entity.delete_entity_by_guid(h["db"])
    assert mutated(resp, "DELETE") == [h["db"]]
    db = client.entity.get_entity_by_guid(h["db"]).entity  # still GET-able
    assert db.status == "DELETED"
    assert client.entity.get_entity_by_guid(h["table"]).entity.status == "ACTIVE"
    # COMPOSITION: deleting the table deletes its columns
    resp = client.entity.delete_entity_by_guid(h["table"])
    assert set(mutated(resp, "DELETE")) == {h["table"], *h["columns"]}
    for g in (h["table"], *h["columns"]):
        assert client.entity.get_entity_by_guid(g).entity.status == "DELETED"
    assert client.entity.get_entity_header_by_guid(h["table"]).status == "DELETED"
    # still found by unique attribute
    assert client.entity.get_entity_by_attribute("hive_table", {"qualifiedName": h["table_qn"]}).entity.status \
        == "DELETED"
    # deleting again: nothing more to delete
    resp = client.entity.delete_entity_by_guid(h["table"])
    assert not mutated(resp, "DELETE")
    # an unknown guid is not an error for delete (AtlasEntityStoreV2.deleteById: "treat as non-error")
    resp = client.entity.delete_entity_by_guid(str(uuid.uuid4()))
    assert not mutated(resp, "DELETE")


def test_soft_delete_composition_cascade_ml(client: AtlasClient) -> None:
    uid = suffix()
    m = create_ml(client, uid)
    resp = client.entity.delete_entity_by_guid(m["project"])
    assert set(mutated(resp, "DELETE")) == {m["project"], m["build"], m["deployment"]}
    for k in ("project", "build", "deployment"):
        assert client.entity.get_entity_by_guid(m[k]).entity.status == "DELETED", k


def test_delete_by_attribute_and_bulk(client: AtlasClient) -> None:
    uid = suffix()
    h = create_hive(client, uid, ncols=2)
    resp = client.entity.delete_entity_by_attribute("hive_column", {"qualifiedName": f"db_{uid}.tbl.c0@cm"})
    assert mutated(resp, "DELETE") == [h["columns"][0]]
    resp = client.entity.delete_entities_by_guids([h["columns"][1], h["db"]])
    assert set(mutated(resp, "DELETE")) == {h["columns"][1], h["db"]}
    assert client.entity.get_entity_by_guid(h["table"]).entity.status == "ACTIVE"
    # unknown unique attribute / guids: not an error, nothing deleted (deleteByUniqueAttributes, deleteByIds)
    resp = client.entity.delete_entity_by_attribute("hive_column", {"qualifiedName": f"nope_{uid}"})
    assert not mutated(resp, "DELETE")
    resp = client.entity.delete_entities_by_guids([str(uuid.uuid4())])
    assert not mutated(resp, "DELETE")


def test_purge(client: AtlasClient) -> None:
    uid = suffix()
    h = create_hive(client, uid, ncols=1)
    # purging an ACTIVE entity does nothing (Atlas only purges DELETED entities)
    resp = client.entity.purge_entities_by_guids([h["db"]])
    assert h["db"] not in mutated(resp, "PURGE")
    assert client.entity.get_entity_by_guid(h["db"]).entity.status == "ACTIVE"

    client.entity.delete_entity_by_guid(h["table"])  # table + column DELETED
    resp = client.entity.purge_entities_by_guids([h["table"], h["columns"][0]])
    assert set(mutated(resp, "PURGE")) == {h["table"], h["columns"][0]}
    for g in (h["table"], h["columns"][0]):
        expect_error(404, "ATLAS-404-00-005", client.entity.get_entity_by_guid, g)
    expect_error(404, "ATLAS-404-00-009", client.entity.get_entity_by_attribute, "hive_table",
                 {"qualifiedName": h["table_qn"]})
    # the db lost its (purged) table
    db = client.entity.get_entity_by_guid(h["db"]).entity
    assert h["table"] not in rel_guids(db.relationshipAttributes.get("tables"))
    # the qualifiedName is free again: re-creating makes a new entity
    h2 = create_hive(client, uid, ncols=0)
    assert h2["db"] == h["db"] and h2["table"] != h["table"]
    assert mutated(h2["resp"], "CREATE") == [h2["table"]]


def test_classifications(client: AtlasClient) -> None:
    uid = suffix()
    tag = f"PII_{uid}"
    client.typedef.create_atlas_typedefs(AtlasTypesDef({"classificationDefs": [AtlasClassificationDef(
        {"name": tag, "attributeDefs": [attr_def("level", "int")]})]}))
    h = create_hive(client, uid, ncols=1)
    client.entity.add_classifications_by_guid(
        h["table"], [AtlasClassification({"typeName": tag, "attributes": {"level": 2}})])

    cls = client.entity.get_classifications(h["table"])
    assert [c.typeName for c in cls.list] == [tag]
    assert cls.list[0].attributes == {"level": 2}
    assert cls.list[0].entityGuid == h["table"]
    e = client.entity.get_entity_by_guid(h["table"]).entity
    assert [c.typeName for c in e.classifications] == [tag]
    assert client.entity.get_entity_header_by_guid(h["table"]).classificationNames == [tag]

    # basic search by classification (alone and with a type)
    found = client.discovery.basic_search(None, tag, None, False)
    assert [x.guid for x in found.entities] == [h["table"]]
    found = client.discovery.basic_search("hive_table", tag, None, False)
    assert [x.guid for x in found.entities] == [h["table"]]
    assert found.entities[0].classificationNames == [tag]
    assert client.discovery.basic_search("hive_column", tag, None, False).entities is None

    # by unique attribute
    client.entity.add_classifications_by_type("hive_column", {"qualifiedName": f"db_{uid}.tbl.c0@cm"},
                                              [AtlasClassification({"typeName": tag})])
    assert [c.typeName for c in client.entity.get_classifications(h["columns"][0]).list] == [tag]

    # unknown classification type: CLASSIFICATION_NOT_FOUND; already associated: INVALID_PARAMETERS
    expect_error(404, "ATLAS-404-00-008", client.entity.add_classifications_by_guid, h["db"],
                 [AtlasClassification({"typeName": f"nope_{uid}"})])
    expect_error(400, "ATLAS-400-00-01A", client.entity.add_classifications_by_guid, h["table"],
                 [AtlasClassification({"typeName": tag})])
    expect_error(404, "ATLAS-404-00-005", client.entity.add_classifications_by_guid, str(uuid.uuid4()),
                 [AtlasClassification({"typeName": tag})])

    client.entity.delete_classification(h["table"], tag)
    assert client.entity.get_classifications(h["table"]).list == []
    assert not client.entity.get_entity_by_guid(h["table"]).entity.classifications
    assert client.discovery.basic_search("hive_table", tag, None, False).entities is None


# ================================================================================================
# lineage
# ================================================================================================
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


# ================================================================================================
# basic search
# ================================================================================================
@pytest.fixture(scope="module")
def searchable(client: AtlasClient) -> dict[str, Any]:
    """Five hive_tables and one ml_project, all carrying the unique token ``uid`` in their description."""
    uid = suffix()
    owners = ["alice", "bob", "alice", "carol", "bob"]
    tables = [entity("hive_table", {"qualifiedName": f"srch_{uid}.t{i}@cm", "name": f"t{i}",
                                    "description": f"training table {uid} number {i}", "owner": owners[i],
                                    "retention": i, "createTime": T0 + i * 1000}) for i in range(5)]
    proj = entity("ml_project", {"qualifiedName": f"srch_{uid}.proj@cm", "name": "proj",
                                 "description": f"project {uid}", "owner": "alice"})
    ga = client.entity.create_entities(bulk(*tables, proj)).guidAssignments
    deleted = entity("hive_table", {"qualifiedName": f"srch_{uid}.gone@cm", "name": "gone",
                                    "description": f"deleted table {uid}", "owner": "dave", "retention": 9})
    gone = client.entity.create_entity(AtlasEntityWithExtInfo({"entity": deleted})).guidAssignments[deleted.guid]
    client.entity.delete_entity_by_guid(gone)
    return {"uid": uid, "t": [ga[t.guid] for t in tables], "proj": ga[proj.guid], "gone": gone,
            "prefix": f"srch_{uid}."}


def guids_of(result: Any) -> list[str]:
    return [e.guid for e in result.entities or []]


def crit(attribute: str, operator: str, value: str) -> FilterCriteria:
    return FilterCriteria({"attributeName": attribute, "operator": operator, "attributeValue": value})


def group(condition: str, *criteria: FilterCriteria) -> FilterCriteria:
    return FilterCriteria({"condition": condition, "criterion": list(criteria)})


def faceted(client: AtlasClient, type_name: str, filters: FilterCriteria | None, **extra: Any) -> Any:
    params = SearchParameters({"typeName": type_name, "excludeDeletedEntities": True, "limit": 100, "offset": 0,
                               **extra})
    params.entityFilters = filters
    return client.discovery.faceted_search(params)


def test_basic_search_get(client: AtlasClient, searchable: dict[str, Any]) -> None:
    uid, t = searchable["uid"], searchable["t"]
    res = client.discovery.basic_search("hive_table", None, uid, True)
    assert res.queryType == "BASIC"
    assert set(guids_of(res)) == set(t)
    for hdr in res.entities:
        assert hdr.typeName == "hive_table" and hdr.status == "ACTIVE"
        assert hdr.attributes["qualifiedName"].startswith(searchable["prefix"]) and hdr.displayText
    # deleted entities are included unless excluded
    res = client.discovery.basic_search("hive_table", None, uid, False)
    assert set(guids_of(res)) == {*t, searchable["gone"]}
    statuses = {e.guid: e.status for e in res.entities}
    assert statuses[searchable["gone"]] == "DELETED"
    # typeName includes subtypes
    res = client.discovery.basic_search("DataSet", None, uid, True)
    assert set(guids_of(res)) == {*t, searchable["proj"]}
    res = client.discovery.basic_search("ml_project", None, uid, True)
    assert guids_of(res) == [searchable["proj"]]
    # no hits: `entities` is absent
    res = client.discovery.basic_search("hive_table", None, f"zz{uid}zz", True)
    assert res.entities is None
    res = client.discovery.basic_search("hive_process", None, uid, True)
    assert res.entities is None


def test_basic_search_paging_and_sorting(client: AtlasClient, searchable: dict[str, Any]) -> None:
    uid, t = searchable["uid"], searchable["t"]
    pages = [guids_of(client.discovery.basic_search("hive_table", None, uid, True, "name", "ASCENDING",
                                                    limit=2, offset=off)) for off in (0, 2, 4, 6)]
    assert pages == [[t[0], t[1]], [t[2], t[3]], [t[4]], []]
    desc = guids_of(client.discovery.basic_search("hive_table", None, uid, True, "name", "DESCENDING",
                                                  limit=3, offset=0))
    assert desc == [t[4], t[3], t[2]]
    # same through POST search/basic
    res = faceted(client, "hive_table", crit("qualifiedName", "startsWith", searchable["prefix"]),
                  sortBy="retention", sortOrder="DESCENDING", limit=2, offset=1)
    assert guids_of(res) == [t[3], t[2]]


def test_faceted_search_filters(client: AtlasClient, searchable: dict[str, Any]) -> None:
    t, prefix = searchable["t"], searchable["prefix"]
    in_prefix = crit("qualifiedName", "startsWith", prefix)

    def run(filters: FilterCriteria, type_name: str = "hive_table") -> set[str]:
        return set(guids_of(faceted(client, type_name, filters)))

    assert run(in_prefix) == set(t)
    assert run(in_prefix, "DataSet") == {*t, searchable["proj"]}
    assert run(group("AND", in_prefix, crit("owner", "=", "alice"))) == {t[0], t[2]}
    assert run(group("AND", in_prefix, crit("owner", "=", "alice")), "DataSet") == {t[0], t[2], searchable["proj"]}
    assert run(group("AND", in_prefix, crit("retention", ">=", "3"))) == {t[3], t[4]}
    assert run(group("AND", in_prefix, crit("retention", "<", "2"))) == {t[0], t[1]}
    assert run(group("AND", in_prefix, crit("owner", "contains", "aro"))) == {t[3]}
    assert run(group("AND", in_prefix, crit("name", "startsWith", "t"), crit("owner", "!=", "bob"))) \
        == {t[0], t[2], t[3]}
    assert run(group("AND", in_prefix, group("OR", crit("name", "=", "t0"), crit("name", "=", "t4"),
                                             crit("owner", "=", "carol")))) == {t[0], t[3], t[4]}
    assert run(group("AND", in_prefix, crit("name", "endsWith", "4"))) == {t[4]}
    assert run(group("AND", in_prefix, crit("owner", "=", "nobody"))) == set()
    # a single criterion at the top level and excludeDeletedEntities=False
    res = faceted(client, "hive_table", crit("qualifiedName", "startsWith", prefix), excludeDeletedEntities=False)
    assert set(guids_of(res)) == {*t, searchable["gone"]}
    # SearchParameters.excludeDeletedEntities is a Java boolean: null/absent means false -> deleted included
    params = SearchParameters({"typeName": "hive_table", "limit": 100, "offset": 0})
    params.entityFilters = crit("qualifiedName", "startsWith", prefix)
    assert params.excludeDeletedEntities is None  # the client sends an explicit null
    assert set(guids_of(client.discovery.faceted_search(params))) == {*t, searchable["gone"]}
    # query + filters together
    res = faceted(client, "hive_table", crit("owner", "=", "bob"), query=searchable["uid"])
    assert set(guids_of(res)) == {t[1], t[4]}


def test_search_without_parameters_is_400_047(client: AtlasClient) -> None:
    expect_error(400, "ATLAS-400-00-047", client.discovery.faceted_search, SearchParameters({}))
    expect_error(400, "ATLAS-400-00-047", client.discovery.basic_search, None, None, None, False)
