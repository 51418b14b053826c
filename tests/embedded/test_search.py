"""Basic search (``search/basic``) as Atlas's SearchContext answers it, over real HTTP against a seeded store of its
own (``search_helpers``): Atlas's 400s for an unknown type (``ATLAS-400-00-00A``), classification (``-046``),
glossary term (``-06E``) and attribute (``-023``); ``_ALL_ENTITY_TYPES``, ``_CLASSIFIED``, ``_NOT_CLASSIFIED``,
``_ALL_CLASSIFICATION_TYPES``, ``*`` and wildcard classification names; ``tagFilters``; system attributes in
filters; the ``attributes`` an answer may carry (SearchContext.validateAttributes: the type's own, inherited,
relationship, system and business attributes, else ``-023``); a glossary term's entities; paging by
``marker``/``nextMarker``; DiscoveryREST's checks of a filter, and Jackson's reading of its ``attributeValue`` (a
String); the answer's wire shape. The basic search of the official client lives in ``test_official_client_search``.
"""

from __future__ import annotations

from typing import Any

import pytest
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.model.discovery import FilterCriteria, SearchParameters

from tests.embedded import search_helpers
from tests.embedded.search_helpers import Http, Seeded, guids
from tests.embedded.test_wire import assert_golden

# this module's own seeded Atlas over HTTP (search_helpers' fixtures)
running, http, client, seeded = (search_helpers.running, search_helpers.http, search_helpers.client,
                                 search_helpers.seeded)


def crit(attribute: str, operator: str, value: Any = "x") -> dict[str, Any]:
    return {"attributeName": attribute, "operator": operator, "attributeValue": value}


def search(http: Http, **body: Any) -> Any:
    return http.ok("POST", "search/basic", json=body)


def tables(http: Http, s: Seeded, **body: Any) -> list[str]:
    """The seeded tables a search finds (query = the seed's uid)."""
    return guids(search(http, typeName="hive_table", query=s.uid, excludeDeletedEntities=True, limit=100, **body))


# -- what a search selects --------------------------------------------------------------------------------
def test_an_unknown_type_is_400_00A_and_unknown_names_beside_known_ones_are_dropped(http: Http,
                                                                                     seeded: Seeded) -> None:
    msg = http.error(400, "ATLAS-400-00-00A", "GET", "search/basic", params={"typeName": "nope_type"})
    assert msg == "nope_type: Unknown/invalid typename"
    http.error(400, "ATLAS-400-00-00A", "POST", "search/basic", json={"typeName": "nope_a,nope_b"})
    http.error(400, "ATLAS-400-00-00A", "POST", "search/basic", json={"typeName": seeded.tag})  # not an entity type
    assert guids(search(http, typeName="nope_type,hive_db", query=seeded.uid)) == [seeded.db]


def test_an_unknown_classification_is_400_046(http: Http, seeded: Seeded) -> None:
    msg = http.error(400, "ATLAS-400-00-046", "GET", "search/basic", params={"classification": "nope_tag"})
    assert msg == "nope_tag: Unknown/invalid classification"
    http.error(400, "ATLAS-400-00-046", "POST", "search/basic", json={"typeName": "hive_table",
                                                                      "classification": "hive_table"})
    assert guids(search(http, classification=f"nope_tag,{seeded.other_tag}")) == [seeded.tables[3]]


@pytest.mark.parametrize(("body", "message"), [
    ({"typeName": "hive_table", "entityFilters": crit("nope", "=")}, "Attribute nope not found for type hive_table"),
    ({"typeName": "hive_table", "entityFilters": {"condition": "AND", "criterion": [
        crit("name", "="), {"condition": "OR", "criterion": [crit("owner", "="), crit("nope2", "=")]}]}},
     "Attribute nope2 not found for type hive_table"),
    ({"typeName": "hive_table", "sortBy": "nope"}, "Attribute nope not found for type hive_table"),
    ({"typeName": "hive_table", "entityFilters": crit("db", "=")}, "Attribute db not found for type hive_table"),
    ({"typeName": "hive_db,hive_table", "entityFilters": crit("retention", ">", "1")},
     "Attribute retention not found for type hive_db"),
    ({"typeName": "_ALL_ENTITY_TYPES", "entityFilters": crit("name", "=")},
     "Attribute name not found for type _ALL_ENTITY_TYPES"),
    ({"classification": "TAG", "tagFilters": crit("nope", "=")}, "Attribute nope not found for type TAG"),
    ({"classification": "*", "tagFilters": crit("level", "=")}, "Attribute level not found for type *"),
    ({"classification": "_ALL_CLASSIFICATION_TYPES", "tagFilters": crit("level", "=")},
     "Attribute level not found for type _ALL_CLASSIFICATION_TYPES"),
])
def test_an_attribute_the_type_does_not_have_is_400_023(http: Http, seeded: Seeded, body: dict[str, Any],
                                                       message: str) -> None:
    if body.get("classification") == "TAG":
        body, message = {**body, "classification": seeded.tag}, message.replace("TAG", seeded.tag)
    assert http.error(400, "ATLAS-400-00-023", "POST", "search/basic", json=body) == message


def test_system_attributes_are_filterable_on_any_type(http: Http, seeded: Seeded) -> None:
    t = seeded.tables
    assert tables(http, seeded, entityFilters=crit("__guid", "=", t[2])) == [t[2]]
    gone = search(http, typeName="hive_table", entityFilters={"condition": "AND", "criterion": [
        crit("__state", "=", "DELETED"), crit("qualifiedName", "startsWith", f"db_{seeded.uid}.")]})
    assert guids(gone) == [seeded.gone]
    everything = search(http, typeName="_ALL_ENTITY_TYPES", entityFilters={"condition": "AND", "criterion": [
        crit("__typeName", "=", "hive_db"), crit("__guid", "=", seeded.db)]})
    assert guids(everything) == [seeded.db]
    assert set(tables(http, seeded, entityFilters=crit("__timestamp", ">", "0"))) == set(t)


def test_all_entity_types_and_the_special_classification_names(http: Http, seeded: Seeded) -> None:
    t, uid = seeded.tables, seeded.uid
    everything = search(http, typeName="_ALL_ENTITY_TYPES", query=uid, excludeDeletedEntities=True)
    assert set(guids(everything)) == {seeded.db, *t, *seeded.columns, seeded.process}
    tagged = {t[1], t[2], t[3]}
    for name in ("_CLASSIFIED", "*", "_ALL_CLASSIFICATION_TYPES", f"*_{uid}"):
        assert set(guids(search(http, classification=name, query=uid))) == tagged, name
    assert set(tables(http, seeded, classification="_NOT_CLASSIFIED")) == {t[0], t[4]}
    # _NOT_CLASSIFIED wins over any other name in the list (SearchContext.filterStructTypes)
    assert set(tables(http, seeded, classification=f"_NOT_CLASSIFIED,{seeded.tag}")) == {t[0], t[4]}
    assert set(tables(http, seeded, classification=seeded.tag)) == {t[1], t[2]}  # and its subtype
    assert tables(http, seeded, classification=seeded.tag, includeSubClassifications=False) == [t[1]]
    assert set(tables(http, seeded, classification=f"PII*{uid}")) == {t[1], t[2]}
    assert tables(http, seeded, classification=f"Nothing*{uid}") == []


def test_tag_filters_select_by_the_classification_s_attributes(http: Http, seeded: Seeded) -> None:
    t = seeded.tables
    assert tables(http, seeded, classification=seeded.tag, tagFilters=crit("level", "=", "high")) == [t[1]]
    assert tables(http, seeded, classification=seeded.tag, tagFilters=crit("level", "=", "low")) == []
    assert tables(http, seeded, classification=seeded.tag, tagFilters=crit("__typeName", "=", seeded.subtag)) \
        == [t[2]]
    assert guids(search(http, classification="*", tagFilters=crit("__typeName", "=", seeded.subtag))) == [t[2]]
    assert guids(search(http, classification=seeded.tag, tagFilters=crit("level", "isNull", ""))) == [t[2]]
    msg = http.error(400, "ATLAS-400-00-029", "POST", "search/basic",
                     json={"typeName": "hive_table", "tagFilters": crit("level", "=")})
    assert msg == "TagFilters specified without tag name"
    msg = http.error(400, "ATLAS-400-00-029", "POST", "search/basic",
                     json={"classification": "PII*", "tagFilters": crit("level", "=")})
    assert msg == "TagFilters specified with wildcard tag name"
    msg = http.error(400, "ATLAS-400-00-029", "POST", "search/basic", json={"entityFilters": crit("name", "=")})
    assert msg == "EntityFilters specified without Type name"


def test_a_glossary_term_selects_the_entities_it_is_assigned_to(http: Http, seeded: Seeded) -> None:
    uid, t = seeded.uid, seeded.tables
    msg = http.error(400, "ATLAS-400-00-06E", "POST", "search/basic", json={"termName": f"nope@g_{uid}"})
    assert msg == f"nope@g_{uid}: Unknown/invalid glossary term"
    glossary = http.ok("POST", "glossary", json={"name": f"g_{uid}"})
    term = http.ok("POST", "glossary/term", json={"name": "revenue", "anchor": {"glossaryGuid": glossary["guid"]}})
    r = http.request("POST", f"glossary/terms/{term['guid']}/assignedEntities", json=[{"guid": t[4]}])
    assert r.status_code == 204, r.text
    found = search(http, termName=f"revenue@g_{uid}")
    assert guids(found) == [t[4]]
    assert found["entities"][0]["meaningNames"] == ["revenue"]
    assert guids(search(http, typeName="hive_table", termName=f"revenue@g_{uid}", query=uid)) == [t[4]]
    assert guids(search(http, typeName="hive_db", termName=f"revenue@g_{uid}")) == []


# -- the attributes an answer carries ---------------------------------------------------------------------
@pytest.mark.parametrize(("body", "message"), [
    ({"typeName": "hive_table", "attributes": ["name", "nope"]}, "Attribute nope not found for type hive_table"),
    ({"typeName": "hive_table", "attributes": ["clusterName"]},  # hive_db's
     "Attribute clusterName not found for type hive_table"),
    ({"typeName": "hive_db,hive_table", "attributes": ["retention"]}, "Attribute retention not found for type hive_db"),
    ({"typeName": "hive_table,hive_db", "attributes": ["retention"]}, "Attribute retention not found for type hive_db"),
    ({"typeName": "_ALL_ENTITY_TYPES", "attributes": ["name"]}, "Attribute name not found for type __ENTITY_ROOT"),
    ({"typeName": "hive_db", "attributes": ["BM.tier"]}, "Attribute BM.tier not found for type hive_db"),
    ({"typeName": "hive_table", "attributes": ["BM.nope"]}, "Attribute BM.nope not found for type hive_table"),
])
def test_a_result_attribute_the_type_does_not_have_is_400_023(http: Http, seeded: Seeded, body: dict[str, Any],
                                                             message: str) -> None:
    bm = business_metadata(http, seeded)
    body = {**body, "attributes": [a.replace("BM", bm) for a in body["attributes"]]}
    assert http.error(400, "ATLAS-400-00-023", "POST", "search/basic", json=body) == message.replace("BM", bm)
    quick = {k: v for k, v in body.items() if k in ("typeName", "attributes")}
    assert http.error(400, "ATLAS-400-00-023", "POST", "search/quick", json=quick) == message.replace("BM", bm)


def business_metadata(http: Http, s: Seeded) -> str:
    """Business metadata ``BM_<uid>`` with a string ``tier`` for hive_table (made once)."""
    name = f"BM_{s.uid}"
    if http.request("GET", f"types/typedef/name/{name}").status_code == 404:
        http.ok("POST", "types/typedefs", json={"businessMetadataDefs": [{"name": name, "attributeDefs": [
            {"name": "tier", "typeName": "string", "isOptional": True,
             "options": {"applicableEntityTypes": '["hive_table"]', "maxStrLength": "20"}}]}]})
    return name


def test_result_attributes_may_be_own_inherited_relationship_system_or_business(http: Http, seeded: Seeded) -> None:
    bm = business_metadata(http, seeded)
    wanted = ["retention", "owner", "qualifiedName", "db", "columns", "inputToProcesses", "__guid", f"{bm}.tier"]
    res = search(http, typeName="hive_table", query=seeded.uid, excludeDeletedEntities=True, attributes=wanted)
    assert set(guids(res)) == set(seeded.tables)
    first = next(e for e in res["entities"] if e["guid"] == seeded.tables[0])
    assert first["attributes"]["retention"] == 0 and first["attributes"]["db"]["guid"] == seeded.db
    assert {c["guid"] for c in first["attributes"]["columns"]} == set(seeded.columns)
    assert guids(search(http, typeName="_ALL_ENTITY_TYPES", query=seeded.uid, attributes=["__guid", f"{bm}.tier"],
                        entityFilters=crit("__guid", "=", seeded.db))) == [seeded.db]
    # without an entity type there is nothing to check them against (SearchContext checks entity types only)
    assert guids(search(http, classification=seeded.other_tag, attributes=["nope"])) == [seeded.tables[3]]


# -- paging by marker -------------------------------------------------------------------------------------
def test_marker_pages_through_a_search_to_the_end(http: Http, seeded: Seeded) -> None:
    body = {"typeName": "hive_table", "query": seeded.uid, "excludeDeletedEntities": True, "limit": 2,
            "sortBy": "name"}
    pages, marker = [], "*"
    while marker != "-1":
        page = search(http, **body, marker=marker)
        assert page["searchParameters"]["marker"] == marker
        pages.append(guids(page))
        marker = page["nextMarker"]
        assert len(pages) < 10
    assert pages == [seeded.tables[0:2], seeded.tables[2:4], seeded.tables[4:5]]
    # GET search/basic takes the marker too
    first = http.ok("GET", "search/basic", params={"typeName": "hive_table", "query": seeded.uid, "limit": 2,
                                                   "excludeDeletedEntities": "true", "marker": "*"})
    second = http.ok("GET", "search/basic", params={"typeName": "hive_table", "query": seeded.uid, "limit": 2,
                                                    "excludeDeletedEntities": "true", "marker": first["nextMarker"]})
    assert len(set(guids(first)) | set(guids(second))) == 4
    # without a marker there is no nextMarker
    assert "nextMarker" not in search(http, **body)


@pytest.mark.parametrize(("marker", "extra", "message"), [
    ("*", {"offset": 1}, "Marker can be used only if offset=0."),
    ("bm90IGEgbWFya2Vy", {}, "Invalid marker!"),  # base64 of "not a marker"
    ("%%%", {}, "Invalid marker!"),
    ("MTIzOjQ=", {}, "Invalid marker!"),  # "123:4": another search's
])
def test_a_marker_that_cannot_be_used_is_400(http: Http, seeded: Seeded, marker: str, extra: dict[str, Any],
                                            message: str) -> None:
    body = {"typeName": "hive_table", "limit": 2, "marker": marker, **extra}
    assert http.error(400, "ATLAS-400-00-029", "POST", "search/basic", json=body) == message


def test_a_marker_is_only_good_for_the_search_that_gave_it(http: Http, seeded: Seeded) -> None:
    marker = search(http, typeName="hive_table", query=seeded.uid, limit=2, marker="*")["nextMarker"]
    msg = http.error(400, "ATLAS-400-00-029", "POST", "search/basic",
                     json={"typeName": "hive_table", "query": seeded.uid, "limit": 3, "marker": marker})
    assert msg == "Invalid marker!"


# -- DiscoveryREST's checks of a filter -------------------------------------------------------------------
@pytest.mark.parametrize(("criteria", "code", "message"), [
    ({"attributeName": "name", "attributeValue": "x"}, "ATLAS-400-00-103",
     "Invalid operator specified for attribute: name"),
    ({"operator": "=", "attributeValue": "x"}, "ATLAS-400-00-104", "Name Attribute can't be empty!"),
    ({"attributeName": " ", "operator": "="}, "ATLAS-400-00-104", "Name Attribute can't be empty!"),
    ({"attributeName": "name", "operator": "="}, "ATLAS-400-00-105", "Value Attribute can't be empty!"),
    ({"attributeName": "name", "operator": "startsWith", "attributeValue": "  "}, "ATLAS-400-00-105",
     "Value Attribute can't be empty!"),
    ({"criterion": [crit("name", "=")]}, "ATLAS-400-00-029",
     "Condition (AND/OR) must be specified when using multiple filters."),
])
def test_a_filter_missing_a_part_is_atlas_s_400(http: Http, criteria: dict[str, Any], code: str,
                                               message: str) -> None:
    body = {"typeName": "hive_table", "entityFilters": {"condition": "AND", "criterion": [criteria]}}
    assert http.error(400, code, "POST", "search/basic", json=body) == message


@pytest.mark.parametrize(("value", "shape"), [
    (["t1", "t2"], "Array value (token `JsonToken.START_ARRAY`)"),
    ([], "Array value (token `JsonToken.START_ARRAY`)"),
    ({"a": "t1"}, "Object value (token `JsonToken.START_OBJECT`)"),
])
def test_an_attribute_value_that_is_no_string_is_jackson_s_400(http: Http, value: Any, shape: str) -> None:
    """FilterCriteria.attributeValue is a Java String: Jackson refuses a JSON list or object there (and Atlas's
    AtlasJsonProvider makes that a 400); it reads a number or a boolean as its text."""
    for operator in ("in", "=", "containsAny"):
        group = {"condition": "OR", "criterion": [crit("name", "=", "t1"), crit("name", operator, value)]}
        for flt, where in ((crit("name", operator, value), "entityFilters"),
                           (group, "entityFilters.criterion[1]")):
            msg = http.error(400, "ATLAS-400-00-029", "POST", "search/basic",
                             json={"typeName": "hive_table", "entityFilters": flt})
            assert msg == (f"Cannot deserialize value of type `java.lang.String` from {shape} (through reference "
                           f"chain: {where}.attributeValue)")
    # read before any check of the filter: a criterion without its operator earlier in the group does not hide it
    flt = {"condition": "AND", "criterion": [{"attributeName": "name", "attributeValue": "x"},
                                             crit("name", "=", value)]}
    msg = http.error(400, "ATLAS-400-00-029", "POST", "search/quick", json={"typeName": "hive_table",
                                                                            "entityFilters": flt})
    assert msg.startswith("Cannot deserialize value of type `java.lang.String`")


def test_a_number_or_boolean_attribute_value_is_read_as_its_text(http: Http, seeded: Seeded) -> None:
    res = search(http, typeName="hive_table", query=seeded.uid, entityFilters=crit("retention", "=", 3))
    assert guids(res) == [seeded.tables[3]] and res["searchParameters"]["entityFilters"]["attributeValue"] == "3"
    res = search(http, typeName="hive_table", query=seeded.uid, entityFilters=crit("temporary", "=", True))
    assert guids(res) == [seeded.tables[4]] and res["searchParameters"]["entityFilters"]["attributeValue"] == "true"


def test_filters_that_are_no_filter_or_need_no_value_are_accepted(http: Http, seeded: Seeded) -> None:
    for empty in ({}, {"condition": "AND", "criterion": []}):
        assert len(tables(http, seeded, entityFilters=empty)) == 5
    assert tables(http, seeded, entityFilters=crit("comment", "isNull", None)) != []
    assert tables(http, seeded, entityFilters={"attributeName": "owner", "operator": "notNull"}) != []


# -- the official client and the wire shape ---------------------------------------------------------------
def test_the_official_client_searches_classified_entities_with_tag_filters(client: AtlasClient,
                                                                           seeded: Seeded) -> None:
    res = client.discovery.basic_search("_ALL_ENTITY_TYPES", "_CLASSIFIED", seeded.uid, True)
    assert {e.guid for e in res.entities} == set(seeded.tables[1:4])
    params = SearchParameters({"typeName": "hive_table", "classification": seeded.tag, "limit": 10, "offset": 0})
    params.tagFilters = FilterCriteria(crit("level", "=", "high"))
    res = client.discovery.faceted_search(params)
    assert [e.guid for e in res.entities] == [seeded.tables[1]]
    assert res.entities[0].classificationNames == [seeded.tag]


def test_golden_basic_search(http: Http, seeded: Seeded) -> None:
    res = search(http, typeName="hive_table", classification=seeded.tag, limit=5, marker="*",
                 tagFilters=crit("level", "=", "high"), attributes=["db", "retention"])
    assert guids(res) == [seeded.tables[1]]
    assert res["referredEntities"][seeded.db]["typeName"] == "hive_db"
    assert_golden("search_basic", res)
