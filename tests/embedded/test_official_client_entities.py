"""Entities through the official ``apache-atlas`` client (``client.entity``) against the embedded store: bulk and
single creates with placeholder guids and referred entities; re-posting as an update, with unchanged entities not
reported; validation errors (mandatory attributes, unresolvable references, unknown types) that write nothing; unknown
attributes dropped; references by unique attributes and legacy references in ``attributes``; the read APIs (by guid,
by unique attribute, headers, ``ignoreRelationships``/``minExtInfo``); partial updates and map merging; soft delete
with COMPOSITION cascade, delete by unique attribute and in bulk, purge; and classifications on entities. Setup and
shared helpers: ``official_client_helpers`` and this directory's ``conftest.py``.
"""

from __future__ import annotations

import uuid

import pytest
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.client.entity import EntityClient
from apache_atlas.model.instance import (
    AtlasClassification,
    AtlasEntityWithExtInfo,
    AtlasObjectId,
    AtlasRelatedObjectId,
    EntityMutationResponse,
)
from apache_atlas.model.typedef import AtlasClassificationDef, AtlasTypesDef
from apache_atlas.utils import attributes_to_params

from tests.conftest import ATLAS_USER
from tests.embedded.official_client_helpers import (
    GUID_RE,
    T0,
    attr_def,
    bulk,
    create_hive,
    entity,
    expect_error,
    mutated,
    ref,
    rel_guids,
    suffix,
)


def uref(type_name: str, qualified_name: str) -> AtlasObjectId:
    return AtlasObjectId({"typeName": type_name, "uniqueAttributes": {"qualifiedName": qualified_name}})


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
