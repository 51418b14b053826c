"""The community client ``pyapacheatlas`` (0.16, unchanged) against the embedded store over real HTTP, next to the
official client's suites (``test_official_client_*``): what a pyapacheatlas user does — typedef uploads (plain and
``force_update``), reads and deletes; ``upload_entities`` with GuidTracker placeholders and AtlasProcess lineage;
reads by guid and qualifiedName; both ``partial_update_entity`` forms; relationships; classifications, labels and
business metadata; lineage and headers; the glossary client (terms, assignments); the dict readers and the offline
WhatIfValidator fed by the server's typedefs; deletes. Results are read back through pyapacheatlas and, where the
client hides them, raw HTTP, from a server of the module's own (real uvicorn over loopback). Expected behaviour is
Apache Atlas 2.x's (``shared/reference/atlas-rest-and-models.md``). Shared helpers: ``pyapacheatlas_helpers``.

Not here, being Azure Purview's and not Apache Atlas's: ``AtlasClient.search_entities`` (POST search/advanced),
``PurviewClient.discovery`` (search/query, autocomplete, suggest, browse), ``get_entity_next_lineage``, collections,
msgraph, graphql, glossary ``import_terms``/``export_terms``, ``update_entity_tags`` (Purview's name for labels,
tested here as labels).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pyapacheatlas.auth import BasicAuthentication  # type: ignore[import-untyped]
from pyapacheatlas.core import (  # type: ignore[import-untyped]
    AtlasAttributeDef,
    AtlasClassification,
    AtlasClient,
    AtlasEntity,
    ClassificationTypeDef,
    EntityTypeDef,
    TypeCategory,
)
from pyapacheatlas.core.glossary import AtlasGlossaryTerm  # type: ignore[import-untyped]
from pyapacheatlas.core.whatif import WhatIfValidator  # type: ignore[import-untyped]
from pyapacheatlas.readers.reader import Reader, ReaderConfiguration  # type: ignore[import-untyped]

from tests.conftest import ATLAS_PASSWORD, ATLAS_USER, RunningAtlas, start_atlas
from tests.embedded.pyapacheatlas_helpers import (
    GUID_RE,
    CustomTypes,
    Raw,
    atlas_error,
    custom_types,
    suffix,
    upload_lineage,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAtlas]:
    """A server of its own: the first glossary installs Atlas's glossary model, and the DataSets and Processes made
    here would show in other modules' searches over the session server."""
    running = start_atlas(tmp_path_factory.mktemp("pyapacheatlas-store"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def endpoint(server: RunningAtlas) -> str:
    return f"{server.url}/api/atlas/v2"


@pytest.fixture(scope="module")
def pyaa(endpoint: str) -> Any:
    return AtlasClient(endpoint_url=endpoint, authentication=BasicAuthentication(ATLAS_USER, ATLAS_PASSWORD))


@pytest.fixture(scope="module")
def raw(endpoint: str) -> Raw:
    return Raw(endpoint)


@pytest.fixture(scope="module")
def uploaded(pyaa: Any) -> tuple[CustomTypes, dict[str, Any]]:
    types = custom_types()
    return types, pyaa.upload_typedefs(**types.typedefs())


@pytest.fixture(scope="module")
def types(uploaded: tuple[CustomTypes, dict[str, Any]]) -> CustomTypes:
    return uploaded[0]


def names(defs: list[dict[str, Any]]) -> set[str]:
    return {d["name"] for d in defs}


def rel_guids(value: Any) -> set[str]:
    if not value:
        return set()
    return {value["guid"]} if isinstance(value, dict) else {v["guid"] for v in value}


def active_rel_guids(value: Any) -> set[str]:
    items = [value] if isinstance(value, dict) else (value or [])
    return {v["guid"] for v in items if v.get("relationshipStatus", "ACTIVE") == "ACTIVE"}


def entity_of(pyaa: Any, guid: str) -> dict[str, Any]:
    got: dict[str, Any] = pyaa.get_single_entity(guid)["entity"]
    return got


# -- typedefs --------------------------------------------------------------------------------------------------------
def test_upload_typedefs_answers_the_created_defs(uploaded: tuple[CustomTypes, dict[str, Any]]) -> None:
    types, resp = uploaded
    assert names(resp["entityDefs"]) == {types.table, types.column, types.job}
    assert names(resp["relationshipDefs"]) == {types.table_columns, types.column_refs}
    assert names(resp["classificationDefs"]) == {types.pii}
    for d in resp["entityDefs"] + resp["relationshipDefs"] + resp["classificationDefs"]:
        assert GUID_RE.match(d["guid"]) and d["createdBy"] == ATLAS_USER, d


def test_get_typedef_by_category_name_and_guid(pyaa: Any, types: CustomTypes) -> None:
    table = pyaa.get_typedef(TypeCategory.ENTITY, name=types.table)
    assert table["category"] == "ENTITY" and table["superTypes"] == ["DataSet"]
    assert table["description"] == "a pyapacheatlas table"
    attrs = {a["name"]: a for a in table["attributeDefs"]}
    assert set(attrs) == {"rowCount", "format"}
    assert attrs["rowCount"]["typeName"] == "long" and attrs["rowCount"]["isOptional"] is True
    # relationshipAttributeDefs are computed by the server from the relationshipDefs
    rel_attrs = {a["name"]: a for a in table["relationshipAttributeDefs"]}
    assert rel_attrs["columns"]["relationshipTypeName"] == types.table_columns
    assert rel_attrs["columns"]["typeName"] == f"array<{types.column}>"
    assert rel_attrs["refColumns"]["relationshipTypeName"] == types.column_refs

    assert pyaa.get_typedef(guid=table["guid"])["name"] == types.table
    column = pyaa.get_typedef(name=types.column)
    assert column["category"] == "ENTITY"
    # the child end of a COMPOSITION is mandatory
    assert {a["name"]: a["isOptional"] for a in column["relationshipAttributeDefs"]}["table"] is False

    owns = pyaa.get_typedef(TypeCategory.RELATIONSHIP, name=types.table_columns)
    assert owns["relationshipCategory"] == "COMPOSITION"
    assert (owns["endDef1"]["type"], owns["endDef1"]["name"], owns["endDef1"]["isContainer"],
            owns["endDef1"]["cardinality"]) == (types.table, "columns", True, "SET")
    assert (owns["endDef2"]["type"], owns["endDef2"]["name"], owns["endDef2"]["isContainer"],
            owns["endDef2"]["cardinality"]) == (types.column, "table", False, "SINGLE")
    pii = pyaa.get_typedef(TypeCategory.CLASSIFICATION, name=types.pii)
    assert [(a["name"], a["typeName"]) for a in pii["attributeDefs"]] == [("level", "int")]

    everything = pyaa.get_all_typedefs()
    assert {types.table, types.column, types.job, "DataSet", "Process"} <= names(everything["entityDefs"])
    assert {types.table_columns, types.column_refs} <= names(everything["relationshipDefs"])
    assert types.pii in names(everything["classificationDefs"])
    atlas_error("ATLAS-404-00-001", pyaa.get_typedef, name=f"no_such_type_{suffix()}")


def test_upload_typedefs_force_update_splits_new_and_existing(pyaa: Any) -> None:
    uid = suffix()
    evolving, fresh = f"pyaa_evolving_{uid}", f"pyaa_fresh_{uid}"
    pyaa.upload_typedefs(entityDefs=[EntityTypeDef(evolving, attributeDefs=[AtlasAttributeDef("a")])])
    # a plain upload of an existing type is a create: 409
    atlas_error("ATLAS-409-00-001", pyaa.upload_typedefs,
                entityDefs=[EntityTypeDef(evolving, attributeDefs=[AtlasAttributeDef("a")])])
    v2 = EntityTypeDef(evolving, description="v2", attributeDefs=[AtlasAttributeDef("a"), AtlasAttributeDef("b")])
    resp = pyaa.upload_typedefs(entityDefs=[v2, EntityTypeDef(fresh)], force_update=True)
    assert names(resp["entityDefs"]) == {evolving, fresh}
    got = pyaa.get_typedef(TypeCategory.ENTITY, name=evolving)
    assert [a["name"] for a in got["attributeDefs"]] == ["a", "b"] and got["description"] == "v2"
    assert pyaa.get_typedef(TypeCategory.ENTITY, name=fresh)["superTypes"] == ["DataSet"]


def test_delete_typedefs_and_delete_type(pyaa: Any) -> None:
    uid = suffix()
    first, second, tag = f"pyaa_gone1_{uid}", f"pyaa_gone2_{uid}", f"PyaaGone_{uid}"
    pyaa.upload_typedefs(entityDefs=[EntityTypeDef(first), EntityTypeDef(second)],
                         classificationDefs=[ClassificationTypeDef(tag)])
    resp = pyaa.delete_typedefs(entityDefs=[EntityTypeDef(first)], classificationDefs=[ClassificationTypeDef(tag)])
    assert resp == {"message": "Successfully deleted type(s)"}
    atlas_error("ATLAS-404-00-001", pyaa.get_typedef, name=first)
    atlas_error("ATLAS-404-00-001", pyaa.get_typedef, TypeCategory.CLASSIFICATION, name=tag)
    assert pyaa.delete_type(second) == {"message": f"successfully delete {second}"}
    atlas_error("ATLAS-404-00-001", pyaa.get_typedef, name=second)


# -- entities --------------------------------------------------------------------------------------------------------
def test_upload_entities_with_guid_tracker_placeholders(pyaa: Any, types: CustomTypes) -> None:
    uid = suffix()
    lin = upload_lineage(pyaa, types, uid, ncols=2)
    sent = [lin.source, lin.target, *lin.columns, lin.job]
    ga = lin.response["guidAssignments"]
    assert set(ga) == {e.guid for e in sent}  # GuidTracker's "-1001", "-1002", ...
    assert all(GUID_RE.match(g) for g in ga.values()) and len(set(ga.values())) == len(sent)
    created = {h["guid"]: h["typeName"] for h in lin.response["mutatedEntities"]["CREATE"]}
    assert created == {ga[e.guid]: e.typeName for e in sent}

    src, dst, job = lin.guid(lin.source), lin.guid(lin.target), lin.guid(lin.job)
    cols = {lin.guid(c) for c in lin.columns}
    read = pyaa.get_entity(guid=[src, dst, job])
    assert {e["guid"] for e in read["entities"]} == {src, dst, job}
    assert isinstance(read["referredEntities"], dict)
    by_guid = {e["guid"]: e for e in read["entities"]}
    assert by_guid[src]["attributes"]["rowCount"] == 10 and by_guid[src]["attributes"]["format"] == "parquet"
    assert rel_guids(by_guid[src]["relationshipAttributes"]["columns"]) == cols
    assert rel_guids(by_guid[job]["relationshipAttributes"]["inputs"]) == {src}
    assert rel_guids(by_guid[job]["relationshipAttributes"]["outputs"]) == {dst}
    assert by_guid[job]["attributes"]["schedule"] == "daily"
    assert rel_guids(by_guid[src]["relationshipAttributes"]["inputToProcesses"]) == {job}
    assert rel_guids(by_guid[dst]["relationshipAttributes"]["outputFromProcesses"]) == {job}
    col = entity_of(pyaa, lin.guid(lin.columns[0]))
    assert col["relationshipAttributes"]["table"]["guid"] == src and col["attributes"]["dataType"] == "int"


def test_integer_placeholder_guids_in_hand_written_dicts(pyaa: Any, types: CustomTypes) -> None:
    """pyapacheatlas's docs and readers also produce plain ints (``"guid": -100``); Jackson reads them as strings."""
    uid = suffix()
    table = {"typeName": types.table, "guid": -100,
             "attributes": {"name": f"int_{uid}", "qualifiedName": f"pyaa://int_{uid}"}}
    column = {"typeName": types.column, "guid": -101,
              "attributes": {"name": "c", "qualifiedName": f"pyaa://int_{uid}#c"},
              "relationshipAttributes": {"table": {"guid": -100, "typeName": types.table}}}
    resp = pyaa.upload_entities([table, column])
    ga = resp["guidAssignments"]
    assert set(ga) == {"-100", "-101"}
    assert entity_of(pyaa, ga["-101"])["relationshipAttributes"]["table"]["guid"] == ga["-100"]


def test_get_entity_by_guid_and_by_qualified_name(pyaa: Any, types: CustomTypes) -> None:
    uid = suffix()
    lin = upload_lineage(pyaa, types, uid, ncols=2)
    src, dst = lin.guid(lin.source), lin.guid(lin.target)
    one = pyaa.get_entity(guid=src)
    assert [e["guid"] for e in one["entities"]] == [src]
    # the owned columns come back as referred entities
    assert {lin.guid(c) for c in lin.columns} <= set(one["referredEntities"])

    by_qn = pyaa.get_entity(qualifiedName=[lin.source.qualifiedName, lin.target.qualifiedName], typeName=types.table)
    assert {e["guid"] for e in by_qn["entities"]} == {src, dst}
    assert {e["attributes"]["qualifiedName"] for e in by_qn["entities"]} == {f"pyaa://src_{uid}", f"pyaa://dst_{uid}"}
    single_qn = pyaa.get_entity(qualifiedName=lin.target.qualifiedName, typeName=types.table)
    assert [e["guid"] for e in single_qn["entities"]] == [dst]

    single = pyaa.get_single_entity(src)
    assert single["entity"]["guid"] == src and single["entity"]["status"] == "ACTIVE"
    assert single["entity"]["createdBy"] == ATLAS_USER
    # pyapacheatlas sends Python bools as "True"/"False"
    bare = pyaa.get_single_entity(src, ignoreRelationships=True)
    assert not bare["entity"].get("relationshipAttributes")
    assert pyaa.get_single_entity(src, minExtInfo=True)["entity"]["attributes"]["rowCount"] == 10
    atlas_error("ATLAS-404-00-005", pyaa.get_single_entity, str(uuid.uuid4()))


def test_partial_update_entity_by_guid(pyaa: Any, types: CustomTypes) -> None:
    lin = upload_lineage(pyaa, types, suffix(), ncols=0)
    dst = lin.guid(lin.target)
    resp = pyaa.partial_update_entity(guid=dst, attributes={"description": "written by pyapacheatlas"})
    assert [h["guid"] for h in resp["mutatedEntities"]["PARTIAL_UPDATE"]] == [dst]
    pyaa.partial_update_entity(guid=dst, attributes={"rowCount": 42})
    got = entity_of(pyaa, dst)
    assert got["attributes"]["description"] == "written by pyapacheatlas" and got["attributes"]["rowCount"] == 42
    assert got["attributes"]["name"] == lin.target.name


def test_partial_update_entity_by_qualified_name(pyaa: Any, types: CustomTypes) -> None:
    """pyapacheatlas GETs the entity (bulk, by unique attribute) and PUTs it back whole with its referredEntities."""
    lin = upload_lineage(pyaa, types, suffix(), ncols=2)
    src = lin.guid(lin.source)
    resp = pyaa.partial_update_entity(typeName=types.table, qualifiedName=lin.source.qualifiedName,
                                      attributes={"format": "orc", "rowCount": 11})
    assert [h["guid"] for h in resp["mutatedEntities"]["PARTIAL_UPDATE"]] == [src]
    got = entity_of(pyaa, src)
    assert (got["attributes"]["format"], got["attributes"]["rowCount"]) == ("orc", 11)
    # what was read and sent back is unchanged
    assert active_rel_guids(got["relationshipAttributes"]["columns"]) == {lin.guid(c) for c in lin.columns}
    assert rel_guids(got["relationshipAttributes"]["inputToProcesses"]) == {lin.guid(lin.job)}


def test_partial_update_by_qualified_name_without_referred_entities(pyaa: Any, types: CustomTypes) -> None:
    """The client indexes ``referredEntities`` of the bulk read even when the entity owns nothing."""
    lin = upload_lineage(pyaa, types, suffix(), ncols=0)
    dst = lin.guid(lin.target)
    resp = pyaa.partial_update_entity(typeName=types.table, qualifiedName=lin.target.qualifiedName,
                                      attributes={"format": "csv"})
    assert [h["guid"] for h in resp["mutatedEntities"]["PARTIAL_UPDATE"]] == [dst]
    assert entity_of(pyaa, dst)["attributes"]["format"] == "csv"


def test_partial_update_of_an_unknown_qualified_name(pyaa: Any, types: CustomTypes) -> None:
    """Atlas's bulk read by unique attributes skips what it does not find (EntityGraphRetriever
    .getEntitiesByUniqueAttributes): no ``entities`` key, which pyapacheatlas turns into its ValueError."""
    missing = f"pyaa://nothing_{suffix()}"
    assert "entities" not in pyaa.get_entity(qualifiedName=missing, typeName=types.table)
    with pytest.raises(ValueError, match="does not exist"):
        pyaa.partial_update_entity(typeName=types.table, qualifiedName=missing, attributes={"format": "x"})


def test_upload_get_and_delete_relationship(pyaa: Any, types: CustomTypes) -> None:
    lin = upload_lineage(pyaa, types, suffix(), ncols=1)
    dst, col = lin.guid(lin.target), lin.guid(lin.columns[0])
    # the shape of AtlasClient.upload_relationship's docstring, integer placeholder guid included
    rel = pyaa.upload_relationship({"typeName": types.column_refs, "attributes": {}, "guid": -100,
                                    "end1": {"guid": dst}, "end2": {"guid": col}})
    assert GUID_RE.match(rel["guid"]) and rel["typeName"] == types.column_refs and rel["status"] == "ACTIVE"
    assert (rel["end1"]["guid"], rel["end2"]["guid"]) == (dst, col)
    got = pyaa.get_relationship(rel["guid"])["relationship"]
    assert (got["guid"], got["end1"]["guid"], got["end2"]["guid"]) == (rel["guid"], dst, col)
    assert rel_guids(entity_of(pyaa, dst)["relationshipAttributes"]["refColumns"]) == {col}
    assert rel_guids(entity_of(pyaa, col)["relationshipAttributes"]["refTables"]) == {dst}

    assert pyaa.delete_relationship(rel["guid"]) == {
        "message": f"Successfully deleted relationship with guid {rel['guid']}"}
    assert pyaa.get_relationship(rel["guid"])["relationship"]["status"] == "DELETED"  # soft delete
    assert active_rel_guids(entity_of(pyaa, dst)["relationshipAttributes"]["refColumns"]) == set()


# -- classifications, labels, business metadata, header ------------------------------------------------------------
def test_classify_declassify_and_read(pyaa: Any, types: CustomTypes) -> None:
    lin = upload_lineage(pyaa, types, suffix(), ncols=0)
    src, dst, job = lin.guid(lin.source), lin.guid(lin.target), lin.guid(lin.job)
    resp = pyaa.classify_entity(src, AtlasClassification(types.pii, attributes={"level": 2}))
    assert (resp["adds"], resp["updates"]) == ([types.pii], [])
    listed = pyaa.get_entity_classifications(src)
    assert [(c["typeName"], c["attributes"]) for c in listed["list"]] == [(types.pii, {"level": 2})]
    one = pyaa.get_entity_classification(src, types.pii)
    assert (one["typeName"], one["entityGuid"], one["attributes"]["level"]) == (types.pii, src, 2)
    # already there: a plain add is refused, force_update sorts it into the PUT
    atlas_error("ATLAS-400-00-01A", pyaa.classify_entity, src, AtlasClassification(types.pii))
    resp = pyaa.classify_entity(src, AtlasClassification(types.pii, attributes={"level": 5}), force_update=True)
    assert (resp["adds"], resp["updates"]) == ([], [types.pii])
    assert pyaa.get_entity_classification(src, types.pii)["attributes"]["level"] == 5

    bulk = pyaa.classify_bulk_entities([dst, job], AtlasClassification(types.pii, attributes={"level": 1}))
    assert bulk["entityGuids"] == [dst, job]
    for guid in (dst, job):
        assert [c["typeName"] for c in entity_of(pyaa, guid)["classifications"]] == [types.pii]

    assert pyaa.declassify_entity(src, types.pii)["guid"] == src
    assert pyaa.get_entity_classifications(src)["list"] == []
    atlas_error("ATLAS-404-00-008", pyaa.get_entity_classification, src, types.pii)


def test_entity_header(pyaa: Any, types: CustomTypes) -> None:
    lin = upload_lineage(pyaa, types, suffix(), ncols=0)
    src = lin.guid(lin.source)
    pyaa.classify_entity(src, AtlasClassification(types.pii, attributes={"level": 3}))
    header = pyaa.get_entity_header(src)
    assert (header["guid"], header["typeName"], header["status"]) == (src, types.table, "ACTIVE")
    assert header["displayText"] == lin.source.name
    assert header["attributes"]["qualifiedName"] == lin.source.qualifiedName
    assert header["attributes"]["name"] == lin.source.name
    assert header["classificationNames"] == [types.pii]
    assert header["classifications"][0]["attributes"] == {"level": 3}


def test_labels(pyaa: Any, types: CustomTypes) -> None:
    lin = upload_lineage(pyaa, types, suffix(), ncols=0)
    src = lin.guid(lin.source)
    assert pyaa.update_entity_labels(["gold", "finance"], guid=src)["message"].startswith("Successfully added")
    pyaa.update_entity_labels(["raw"], typeName=types.table, qualifiedName=lin.source.qualifiedName)
    assert sorted(entity_of(pyaa, src)["labels"]) == ["finance", "gold", "raw"]
    pyaa.delete_entity_labels(["gold"], guid=src)
    pyaa.delete_entity_labels(["raw"], typeName=types.table, qualifiedName=lin.source.qualifiedName)
    assert entity_of(pyaa, src)["labels"] == ["finance"]
    pyaa.update_entity_labels(["only"], guid=src, force_update=True)  # POST: replaces
    assert entity_of(pyaa, src)["labels"] == ["only"]


def test_business_metadata(pyaa: Any, types: CustomTypes) -> None:
    bm = f"pyaa_ops_{suffix()}"
    pyaa.upload_typedefs(businessMetadataDefs=[{
        "category": "BUSINESS_METADATA", "name": bm, "attributeDefs": [
            {"name": "costCenter", "typeName": "string", "isOptional": True, "cardinality": "SINGLE",
             "options": {"applicableEntityTypes": f'["{types.table}"]', "maxStrLength": "50"}},
            {"name": "tier", "typeName": "int", "isOptional": True, "cardinality": "SINGLE",
             "options": {"applicableEntityTypes": f'["{types.table}"]'}}]}])
    assert pyaa.get_typedef(name=bm)["category"] == "BUSINESS_METADATA"
    lin = upload_lineage(pyaa, types, suffix(), ncols=0)
    src = lin.guid(lin.source)
    pyaa.update_businessMetadata(src, {bm: {"costCenter": "cc-7", "tier": 1}})
    assert entity_of(pyaa, src)["businessAttributes"] == {bm: {"costCenter": "cc-7", "tier": 1}}
    assert pyaa.delete_businessMetadata(src, {bm: {"tier": ""}})["message"].startswith("Successfully deleted")
    assert entity_of(pyaa, src)["businessAttributes"] == {bm: {"costCenter": "cc-7"}}


# -- lineage ---------------------------------------------------------------------------------------------------------
def test_get_entity_lineage(pyaa: Any, types: CustomTypes) -> None:
    lin = upload_lineage(pyaa, types, suffix(), ncols=0)
    src, dst, job = lin.guid(lin.source), lin.guid(lin.target), lin.guid(lin.job)
    # pyapacheatlas adds Purview's width/includeParent/getDerivedLineage, which Atlas ignores
    both = pyaa.get_entity_lineage(dst, depth=3, width=10, direction="BOTH")
    assert (both["baseEntityGuid"], both["lineageDirection"], both["lineageDepth"]) == (dst, "BOTH", 3)
    assert set(both["guidEntityMap"]) == {src, job, dst}
    assert both["guidEntityMap"][job]["typeName"] == types.job
    assert {(r["fromEntityId"], r["toEntityId"]) for r in both["relations"]} == {(src, job), (job, dst)}
    upstream = pyaa.get_entity_lineage(job, direction="INPUT")
    assert {(r["fromEntityId"], r["toEntityId"]) for r in upstream["relations"]} == {(src, job)}
    downstream = pyaa.get_entity_lineage(dst, direction="OUTPUT")
    assert (downstream["relations"], downstream["guidEntityMap"]) == ([], {})


# -- glossary --------------------------------------------------------------------------------------------------------
def new_glossary(raw: Raw) -> dict[str, Any]:
    """GlossaryClient has no create call: a pyapacheatlas user POSTs the glossary themselves."""
    created: dict[str, Any] = raw.ok("POST", "glossary", {"name": f"pyaa_glossary_{suffix()}",
                                                          "shortDescription": "for pyapacheatlas"})
    return created


def test_glossary_terms(pyaa: Any, raw: Raw) -> None:
    g = new_glossary(raw)
    assert g["name"] in names(pyaa.glossary.get_glossaries())
    assert pyaa.glossary.get_glossary(name=g["name"])["guid"] == g["guid"]
    with pytest.warns(UserWarning, match="deprecated"):  # the pre-0.12 spelling still in many scripts
        assert pyaa.get_glossary(name=g["name"])["guid"] == g["guid"]
    one = pyaa.glossary.upload_term(AtlasGlossaryTerm(
        name="revenue", qualifiedName=f"revenue@{g['name']}", glossaryGuid=g["guid"],
        longDescription="money in", abbreviation="rev"))
    assert GUID_RE.match(one["guid"]) and one["qualifiedName"] == f"revenue@{g['name']}"
    assert one["anchor"]["glossaryGuid"] == g["guid"] and one["abbreviation"] == "rev"
    many = pyaa.glossary.upload_terms([
        AtlasGlossaryTerm(name="cost", qualifiedName=f"cost@{g['name']}", glossaryGuid=g["guid"]),
        {"name": "margin", "anchor": {"glossaryGuid": g["guid"]}, "shortDescription": "revenue - cost"}])
    assert [t["name"] for t in many] == ["cost", "margin"]
    all_guids = {one["guid"], *(t["guid"] for t in many)}

    headers = pyaa.glossary.get_glossary(name=g["name"])["terms"]
    assert {(h["termGuid"], h["displayText"]) for h in headers} == {
        (one["guid"], "revenue"), *((t["guid"], t["name"]) for t in many)}
    detailed = pyaa.glossary.get_glossary(guid=g["guid"], detailed=True)
    assert set(detailed["termInfo"]) == all_guids
    assert pyaa.glossary.get_term(guid=one["guid"])["longDescription"] == "money in"
    assert pyaa.glossary.get_term(name="margin", glossary_name=g["name"])["guid"] == many[1]["guid"]

    updated = pyaa.glossary.upload_term(AtlasGlossaryTerm(
        name="revenue", qualifiedName=f"revenue@{g['name']}", glossaryGuid=g["guid"], longDescription="money in, v2"),
        force_update=True, termGuid=one["guid"])
    assert updated["guid"] == one["guid"] and updated["longDescription"] == "money in, v2"
    assert pyaa.glossary.delete_term(many[0]["guid"])["guid"] == many[0]["guid"]
    atlas_error("ATLAS-404-00-005", pyaa.glossary.get_term, guid=many[0]["guid"])


def test_glossary_term_assignment(pyaa: Any, raw: Raw, types: CustomTypes) -> None:
    g = new_glossary(raw)
    term = pyaa.glossary.upload_term(AtlasGlossaryTerm(name="customer", qualifiedName=f"customer@{g['name']}",
                                                       glossaryGuid=g["guid"]))
    lin = upload_lineage(pyaa, types, suffix(), ncols=0)
    src, dst = lin.guid(lin.source), lin.guid(lin.target)
    # by term guid with a dict, by term name with an AtlasEntity whose guid is real
    assert pyaa.glossary.assignTerm([{"guid": src}], termGuid=term["guid"]) == {
        "message": "Successfully assigned term to entities."}
    assigned_entity = AtlasEntity(lin.target.name, types.table, lin.target.qualifiedName, guid=dst)
    pyaa.glossary.assignTerm([assigned_entity], termName="customer", glossary_name=g["name"])

    assigned = pyaa.glossary.get_termAssignedEntities(termGuid=term["guid"])
    assert {a["guid"] for a in assigned} == {src, dst}
    assert all(GUID_RE.match(a["relationshipGuid"]) for a in assigned)
    by_name = pyaa.glossary.get_termAssignedEntities(termName="customer", glossary_name=g["name"])
    assert {a["guid"] for a in by_name} == {src, dst}
    with pytest.warns(UserWarning, match="deprecated"):
        assert {a["guid"] for a in pyaa.get_termAssignedEntities(termGuid=term["guid"])} == {src, dst}
    meanings = entity_of(pyaa, src)["relationshipAttributes"]["meanings"]
    assert [(m["guid"], m["displayText"]) for m in meanings] == [(term["guid"], "customer")]

    # dissociate from what get_termAssignedEntities answered, then from an entity as get_entity returns it
    src_assignment = [a for a in assigned if a["guid"] == src]
    assert pyaa.glossary.delete_assignedTerm(src_assignment, termGuid=term["guid"]) == {
        "message": "Successfully deleted assigned term from entities."}
    dst_entity = pyaa.get_entity(guid=dst)["entities"][0]
    pyaa.glossary.delete_assignedTerm([dst_entity], termName="customer", glossary_name=g["name"])
    assert pyaa.glossary.get_termAssignedEntities(termGuid=term["guid"]) == []
    assert active_rel_guids(entity_of(pyaa, src)["relationshipAttributes"].get("meanings")) == set()


# -- readers and the offline validator -------------------------------------------------------------------------------
def test_dict_reader_bulk_entities_and_table_lineage(pyaa: Any, types: CustomTypes) -> None:
    uid = suffix()
    reader = Reader(ReaderConfiguration())
    tbl, col = f"pyaa://reader_{uid}", f"pyaa://reader_{uid}#id"
    rows = [
        {"typeName": types.table, "name": f"reader_{uid}", "qualifiedName": tbl, "rowCount": 5,
         "[root] labels": "curated;reader", "[root] classifications": types.pii},
        {"typeName": types.column, "name": "id", "qualifiedName": col, "dataType": "string",
         "[Relationship] table": tbl},
    ]
    resp = pyaa.upload_entities(reader.parse_bulk_entities(rows))
    assert set(resp["guidAssignments"]) == {"-1001", "-1002"}
    table_guid = resp["guidAssignments"]["-1001"]
    got = entity_of(pyaa, table_guid)
    assert got["attributes"]["rowCount"] == 5 and sorted(got["labels"]) == ["curated", "reader"]
    assert [c["typeName"] for c in got["classifications"]] == [types.pii]
    assert rel_guids(got["relationshipAttributes"]["columns"]) == {resp["guidAssignments"]["-1002"]}

    out = f"pyaa://reader_out_{uid}"
    lineage_rows = [{"Target table": out, "Target type": types.table, "Target classifications": None,
                     "Source table": tbl, "Source type": types.table, "Source classifications": None,
                     "Process name": f"pyaa://reader_job_{uid}", "Process type": types.job}]
    resp = pyaa.upload_entities(reader.parse_table_lineage(lineage_rows))
    created = {h["typeName"] for h in resp["mutatedEntities"]["CREATE"]}
    assert created == {types.table, types.job}  # the source table existed: matched by qualifiedName
    out_guid = pyaa.get_entity(qualifiedName=out, typeName=types.table)["entities"][0]["guid"]
    lineage = pyaa.get_entity_lineage(out_guid, direction="INPUT")
    assert table_guid in lineage["guidEntityMap"] and len(lineage["relations"]) == 2


def test_whatif_validator_reads_the_server_typedefs(pyaa: Any, types: CustomTypes) -> None:
    validator = WhatIfValidator(type_defs=pyaa.get_all_typedefs())
    entities = [
        AtlasEntity("ok", types.table, "pyaa://ok", guid="-1", attributes={"rowCount": 1}).to_json(),
        AtlasEntity("bad", types.table, "pyaa://bad", guid="-2", attributes={"colour": "red"}).to_json(),
        AtlasEntity("nope", f"no_such_type_{suffix()}", "pyaa://nope", guid="-3").to_json(),
    ]
    report = validator.validate_entities(entities)
    assert report["counts"] == {"TypeDoesNotExist": 1, "UsingInvalidAttributes": 1, "MissingRequiredAttributes": 0}
    assert report["values"]["UsingInvalidAttributes"] == {"-2": {"colour"}}


# -- deletes ---------------------------------------------------------------------------------------------------------
def test_delete_entity_by_guid_list_and_qualified_name(pyaa: Any, types: CustomTypes) -> None:
    lin = upload_lineage(pyaa, types, suffix(), ncols=2)
    src = lin.guid(lin.source)
    cols = {lin.guid(c) for c in lin.columns}
    resp = pyaa.delete_entity(guid=src)
    # soft delete; the table's COMPOSITION children go with it
    assert {h["guid"] for h in resp["mutatedEntities"]["DELETE"]} == {src} | cols
    assert {entity_of(pyaa, g)["status"] for g in {src} | cols} == {"DELETED"}

    # a table outside any lineage (deleting a process's last output takes the process too in Atlas 2.5)
    uid = suffix()
    alone = pyaa.upload_entities(AtlasEntity(f"alone_{uid}", types.table, f"pyaa://alone_{uid}", guid="-1"))
    alone_guid = alone["guidAssignments"]["-1"]
    resp = pyaa.delete_entity(typeName=types.table, qualifiedName=f"pyaa://alone_{uid}")
    assert [h["guid"] for h in resp["mutatedEntities"]["DELETE"]] == [alone_guid]
    assert entity_of(pyaa, alone_guid)["status"] == "DELETED"

    other = upload_lineage(pyaa, types, suffix(), ncols=0)
    guids = [other.guid(other.source), other.guid(other.target), other.guid(other.job)]
    resp = pyaa.delete_entity(guid=guids)
    assert {h["guid"] for h in resp["mutatedEntities"]["DELETE"]} == set(guids)
    assert {e["status"] for e in pyaa.get_entity(guid=guids)["entities"]} == {"DELETED"}
