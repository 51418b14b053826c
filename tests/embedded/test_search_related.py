"""Relationship searches over a seeded store of its own (``search_helpers``): ``search/relationship`` (the entities
related to one entity, what the Atlas UI's Relationships and Schema tabs list) through the official client and raw
HTTP, and ``search/relations`` (relationships of a type, with filters and markers); Atlas's errors and the wire
shapes.
"""

from __future__ import annotations

from typing import Any

import pytest
from apache_atlas.client.base_client import AtlasClient

from tests.embedded import search_helpers
from tests.embedded.search_helpers import Http, Seeded, guids
from tests.embedded.test_wire import assert_golden

# this module's own seeded Atlas over HTTP (search_helpers' fixtures)
running, http, client, seeded = (search_helpers.running, search_helpers.http, search_helpers.client,
                                 search_helpers.seeded)


def related(http: Http, guid: str, relation: str, **params: Any) -> Any:
    return http.ok("GET", "search/relationship", params={"guid": guid, "relation": relation, "limit": 25,
                                                        **params})


def names(result: Any) -> list[str]:
    return [e["attributes"]["name"] for e in result["entities"]]


def test_related_entities_sorted_by_name_unless_told_otherwise(http: Http, seeded: Seeded) -> None:
    res = related(http, seeded.db, "tables")
    assert res["queryType"] == "RELATIONSHIP" and res["approximateCount"] == -1
    assert names(res) == ["gone", "t0", "t1", "t2", "t3", "t4"]  # the deleted table's relationship too
    assert names(related(http, seeded.db, "tables", excludeDeletedEntities="true")) == ["t0", "t1", "t2", "t3", "t4"]
    assert names(related(http, seeded.db, "tables", sortOrder="DESCENDING"))[:2] == ["t4", "t3"]
    assert names(related(http, seeded.db, "tables", sortBy="retention", sortOrder="DESCENDING"))[:2] == ["gone", "t4"]
    assert names(related(http, seeded.db, "tables", limit=2, offset=1)) == ["t0", "t1"]
    assert related(http, seeded.db, "tables", getApproximateCount="true")["approximateCount"] == 6
    # a sortBy the related type does not have leaves them as found
    assert len(names(related(http, seeded.db, "tables", sortBy="nope"))) == 6


def test_the_schema_tab_s_request(http: Http, seeded: Seeded) -> None:
    """The Atlas UI's SchemaLayoutView: columns with their type and position, unsorted, with a count."""
    res = http.ok("GET", "search/relationship", params=[
        ("limit", "50"), ("offset", "0"), ("guid", seeded.tables[0]), ("disableDefaultSorting", "true"),
        ("excludeDeletedEntities", "false"), ("includeSubClassifications", "true"), ("includeSubTypes", "true"),
        ("includeClassificationAttributes", "true"), ("relation", "columns"), ("getApproximateCount", "true"),
        ("attributes", "type"), ("attributes", "position")])
    assert guids(res) == seeded.columns and res["approximateCount"] == 2
    assert [(e["attributes"]["type"], e["attributes"]["position"]) for e in res["entities"]] == [("int", 1),
                                                                                               ("int", 0)]
    assert names(related(http, seeded.tables[0], "columns", sortBy="position")) == ["c1", "c0"]


def test_relations_by_attribute_of_any_relationship_def_or_by_label(http: Http, seeded: Seeded) -> None:
    t = seeded.tables
    # hive_column.table comes from hive_table_columns and hive_table_partitionkeys
    assert guids(related(http, seeded.columns[0], "table")) == [t[0]]
    assert guids(related(http, t[0], "inputToProcesses")) == [seeded.process]
    assert guids(related(http, t[1], "outputFromProcesses")) == [seeded.process]
    assert guids(related(http, seeded.process, "inputs")) == [t[0]]
    assert guids(related(http, t[0], "__hive_table.db")) == [seeded.db]  # a relationship label
    res = related(http, t[0], "no_such_label")
    assert (res["entities"], res["approximateCount"]) == ([], 0)
    assert related(http, t[4], "columns")["entities"] == []


def test_relationship_search_errors_are_atlas_s(http: Http, seeded: Seeded) -> None:
    msg = http.error(400, "ATLAS-400-00-048", "GET", "search/relationship",
                     params={"guid": seeded.tables[0], "relation": "name", "limit": 5})
    assert msg == "Expected attribute name to be a relationship but found type string"
    http.error(404, "ATLAS-404-00-005", "GET", "search/relationship",
               params={"guid": "00000000-0000-0000-0000-000000000000", "relation": "tables"})
    msg = http.error(400, "ATLAS-400-00-01A", "GET", "search/relationship", params={"relation": "tables"})
    assert msg == "invalid parameters: guid: 'null', relation: 'tables'"
    http.error(400, "ATLAS-400-00-01A", "GET", "search/relationship", params={"guid": seeded.db, "relation": ""})
    http.error(400, "ATLAS-400-00-057", "GET", "search/relationship", params={"guid": "g" * 5000, "relation": "x"})


def test_the_official_client_searches_related_entities(client: AtlasClient, seeded: Seeded) -> None:
    res = client.discovery.relationship_search(seeded.db, "tables", "name", "DESCENDING", True, limit=2, offset=0)
    assert res.queryType == "RELATIONSHIP"
    assert [e.attributes["name"] for e in res.entities] == ["t4", "t3"]


def test_golden_relationship_search(http: Http, seeded: Seeded) -> None:
    assert_golden("search_relationship", related(http, seeded.db, "tables", limit=2, getApproximateCount="true",
                                                 excludeDeletedEntities="true"))
    with_tags = related(http, seeded.tables[1], "db", includeClassificationAttributes="true")
    assert with_tags["entities"][0]["classifications"] == []
    assert "classifications" not in related(http, seeded.tables[1], "db")["entities"][0]


# -- search/relations -------------------------------------------------------------------------------------
def relations(http: Http, **params: Any) -> Any:
    return http.ok("GET", "search/relations", params=params)


def test_relations_of_a_type(http: Http, seeded: Seeded) -> None:
    res = relations(http, relationshipName="hive_table_db", limit=10)
    assert res["approximateCount"] == 6
    assert {(r["end1"]["guid"], r["end2"]["guid"]) for r in res["relations"]} == {
        (g, seeded.db) for g in [*seeded.tables, seeded.gone]}
    first = res["relations"][0]
    assert (first["typeName"], first["label"], first["status"]) == ("hive_table_db", "__hive_table.db", "ACTIVE")
    deleted = http.ok("POST", "search/relations", json={"relationshipName": "hive_table_db", "limit": 10,
                                                       "relationshipFilters": {"attributeName": "__state",
                                                                               "operator": "=",
                                                                               "attributeValue": "DELETED"}})
    assert [r["end1"]["guid"] for r in deleted["relations"]] == [seeded.gone]
    assert "relations" not in relations(http, limit=5)  # no relationshipName: nothing to search


def test_relations_page_by_marker(http: Http, seeded: Seeded) -> None:
    seen: list[str] = []
    marker = "*"
    while marker != "-1":
        page = relations(http, relationshipName="hive_table_db", limit=4, marker=marker)
        seen.extend(r["guid"] for r in page["relations"])
        marker = page["nextMarker"]
    assert len(seen) == len(set(seen)) == 6


@pytest.mark.parametrize(("body", "code", "message"), [
    ({"relationshipName": "nope_rel"}, "ATLAS-400-00-00A", "nope_rel: Unknown/invalid typename"),
    ({"relationshipName": "hive_table_db", "relationshipFilters": {
        "attributeName": "nope", "operator": "=", "attributeValue": "x"}}, "ATLAS-400-00-023",
     "Attribute nope not found for type hive_table_db"),
    ({"relationshipFilters": {"attributeName": "__state", "operator": "=", "attributeValue": "x"}},
     "ATLAS-400-00-029", "RelationshipFilters specified without Type name"),
    ({"relationshipName": "hive_table_db", "limit": -1}, "ATLAS-400-00-029", "Limit/offset should be non-negative"),
    ("not an object", "ATLAS-400-00-029", "body must be RelationshipSearchParameters"),
])
def test_relations_refuse_as_atlas_does(http: Http, body: Any, code: str, message: str) -> None:
    assert http.error(400, code, "POST", "search/relations", json=body) == message


def test_golden_relations(http: Http, seeded: Seeded) -> None:
    assert_golden("search_relations", relations(http, relationshipName="hive_table_db", limit=2, marker="*"))
