"""Quick search (GET/POST ``search/quick``), suggestions (``search/suggestions``) and full-text search
(``search/fulltext``) over a seeded store of its own (``search_helpers``), through the official client and raw
HTTP: AtlasQuickSearchResult with its aggregation metrics, DiscoveryREST's checks, the suggestion fields and their
ranking, full-text scoring, and the wire shapes.
"""

from __future__ import annotations

from typing import Any

import pytest
from apache_atlas.client.base_client import AtlasClient
from apache_atlas.model.discovery import QuickSearchParameters

from catalog.embedded.search_quick import has_tokenize_char
from tests.embedded import search_helpers
from tests.embedded.search_helpers import Http, Seeded, guids
from tests.embedded.test_wire import assert_golden

# this module's own seeded Atlas over HTTP (search_helpers' fixtures)
running, http, client, seeded = (search_helpers.running, search_helpers.http, search_helpers.client,
                                 search_helpers.seeded)


def quick(http: Http, **params: Any) -> Any:
    return http.ok("GET", "search/quick", params=params)


def quick_post(http: Http, **body: Any) -> Any:
    return http.ok("POST", "search/quick", json=body)


def suggest(http: Http, prefix: str | None = None, field: str | None = None) -> list[str]:
    params = {k: v for k, v in (("prefixString", prefix), ("fieldName", field)) if v is not None}
    return http.ok("GET", "search/suggestions", params=params)["suggestions"]  # type: ignore[no-any-return]


# -- quick search -----------------------------------------------------------------------------------------
def test_quick_search_answers_a_basic_search_and_its_facets(http: Http, seeded: Seeded) -> None:
    res = quick(http, query=seeded.uid, limit=3, offset=0)
    results = res["searchResults"]
    assert results["queryType"] == "BASIC" and results["queryText"] == f"{seeded.uid}*"
    assert results["searchParameters"]["query"] == f"{seeded.uid}*"
    assert results["approximateCount"] == 10  # db, five tables, two columns, the process, the deleted table
    assert guids(results) == [seeded.db, *seeded.tables[:2]]
    assert res["aggregationMetrics"] == {
        "__typeName": [{"name": "hive_table", "count": 6}, {"name": "hive_column", "count": 2},
                       {"name": "hive_db", "count": 1}, {"name": "ml_model_train_build_process", "count": 1}],
        "__state": [{"name": "ACTIVE", "count": 9}, {"name": "DELETED", "count": 1}],
        "Asset.owner": [{"name": "alice", "count": 2}, {"name": "bob", "count": 2}, {"name": "carol", "count": 1},
                        {"name": "dave", "count": 1}],
        "ServiceType": [{"name": "hive", "count": 9}, {"name": "ml", "count": 1}]}
    active = quick(http, query=seeded.uid, excludeDeletedEntities="true")
    assert active["aggregationMetrics"]["__state"] == [{"name": "ACTIVE", "count": 9}]


def test_get_quick_search_does_not_include_subtypes_and_post_can(http: Http, seeded: Seeded) -> None:
    # DiscoveryREST builds the GET's QuickSearchParameters with includeSubTypes=false
    res = quick(http, query=seeded.uid, typeName="DataSet")
    assert "entities" not in res["searchResults"] and res["aggregationMetrics"] == {}
    res = quick_post(http, query=seeded.uid, typeName="DataSet", includeSubTypes=True, excludeDeletedEntities=True,
                     limit=20)
    assert set(guids(res["searchResults"])) == {*seeded.tables, *seeded.columns}


def test_post_quick_search_filters_sorts_and_pages(http: Http, seeded: Seeded) -> None:
    t = seeded.tables
    res = quick_post(http, typeName="hive_table", query=seeded.uid, sortBy="retention", sortOrder="DESCENDING",
                     entityFilters={"attributeName": "owner", "operator": "=", "attributeValue": "bob"})
    assert guids(res["searchResults"]) == [t[4], t[1]]
    assert res["aggregationMetrics"]["Asset.owner"] == [{"name": "bob", "count": 2}]
    res = quick_post(http, typeName="hive_table", limit=2, offset=4)
    assert guids(res["searchResults"]) == [t[4], seeded.gone]


@pytest.mark.parametrize(("body", "code", "message"), [
    ({}, "ATLAS-400-00-047", None),
    ({"limit": 10}, "ATLAS-400-00-047", None),
    ({"query": "x", "entityFilters": {"attributeName": "name", "operator": "=", "attributeValue": "x"}},
     "ATLAS-400-00-029", "EntityFilters specified without Type name"),
    ({"query": "x", "sortBy": "name"}, "ATLAS-400-00-029", "SortBy specified without Type name"),
    ({"typeName": "hive_table", "limit": -1}, "ATLAS-400-00-029", "Limit/offset should be non-negative"),
    ({"typeName": "hive_table", "offset": -1}, "ATLAS-400-00-029", "Limit/offset should be non-negative"),
    ({"typeName": "nope_type"}, "ATLAS-400-00-00A", "nope_type: Unknown/invalid typename"),
    ({"typeName": "hive_table", "entityFilters": {"attributeName": "nope", "operator": "=", "attributeValue": "x"}},
     "ATLAS-400-00-023", "Attribute nope not found for type hive_table"),
    ({"query": "q" * 5000}, "ATLAS-400-00-058",
     "Invalid query length, update atlas.graph.fulltext-max-query-str-length to change the limit"),
])
def test_quick_search_refuses_as_discovery_rest_does(http: Http, body: dict[str, Any], code: str,
                                                     message: str | None) -> None:
    got = http.error(int(code.split("-")[1]), code, "POST", "search/quick", json=body)
    assert message is None or got == message
    if "limit" not in body and "offset" not in body and "entityFilters" not in body and "sortBy" not in body:
        http.error(int(code.split("-")[1]), code, "GET", "search/quick", params=body)


def test_a_query_with_a_tokenizer_character_keeps_its_form(http: Http, seeded: Seeded) -> None:
    assert not has_tokenize_char("wine_quality") and not has_tokenize_char("db.table")
    assert has_tokenize_char("db.t0@cm") and has_tokenize_char("a b") and has_tokenize_char("x.1")
    res = quick(http, query=seeded.qn(2))
    assert res["searchResults"]["queryText"] == seeded.qn(2)  # no "*" appended
    assert guids(res["searchResults"]) == [seeded.tables[2]]


def test_the_official_client_quick_searches(client: AtlasClient, seeded: Seeded) -> None:
    res = client.discovery.quick_search(seeded.uid, "hive_table", True, limit=2, offset=1)
    assert [e.guid for e in res.searchResults.entities] == seeded.tables[1:3]
    assert res.searchResults.approximateCount == 5
    params = QuickSearchParameters({"query": seeded.uid, "typeName": "hive_column", "limit": 5, "offset": 0})
    res = client.discovery.quick_search_with_param(params)
    assert {e.guid for e in res.searchResults.entities} == set(seeded.columns)


def test_golden_quick_search(http: Http, seeded: Seeded) -> None:
    assert_golden("search_quick", quick(http, query=seeded.uid, limit=2))


# -- suggestions ------------------------------------------------------------------------------------------
def test_suggestions_are_the_most_frequent_values_starting_with_the_prefix(http: Http, seeded: Seeded) -> None:
    uid = seeded.uid
    assert suggest(http, "b") == ["bob"]
    assert suggest(http, "ALI") == ["alice"]  # the prefix matches case-insensitively
    assert suggest(http, f"db_{uid}") == [f"db_{uid}", f"db_{uid}.gone@cm", f"db_{uid}.t0.c0@cm",
                                          f"db_{uid}.t0.c1@cm", f"db_{uid}.t0@cm"]  # five, ties by name
    assert suggest(http, "PII") == [seeded.tag, seeded.subtag]  # classification names
    assert suggest(http, f"table {uid} number")[:2] == [f"table {uid} number 0", f"table {uid} number 1"]
    assert suggest(http)[:2] == ["alice", "bob"]  # no prefix: the most frequent terms of all
    assert suggest(http, "zz_nothing") == []


def test_suggestions_of_one_field(http: Http, seeded: Seeded) -> None:
    uid = seeded.uid
    expected = [f"db_{uid}.t0.c0@cm", f"db_{uid}.t0.c1@cm", f"db_{uid}.t0@cm"]
    assert suggest(http, f"db_{uid}.t0", "qualifiedName") == expected
    assert suggest(http, f"db_{uid}.t0", "Referenceable.qualifiedName") == expected
    assert suggest(http, "db_", "name") == [f"db_{uid}"]
    assert suggest(http, "a", "owner") == ["alice"]
    assert suggest(http, "a", "__labels") == []
    labelled = {"entity": {"typeName": "hive_db", "attributes": {
        "qualifiedName": f"lab_{uid}@cm", "name": f"lab_{uid}", "clusterName": "cm"}, "labels": [f"gold_{uid}"]}}
    http.ok("POST", "entity", json=labelled)
    assert suggest(http, "gold", "__labels") == [f"gold_{uid}"]
    assert suggest(http, "gold") == [f"gold_{uid}"]


def test_the_official_client_gets_suggestions(client: AtlasClient, seeded: Seeded) -> None:
    res = client.discovery.get_suggestions("car", "owner")
    assert (res.suggestions, res.prefixString, res.fieldName) == (["carol"], "car", "owner")
    res = client.discovery.get_suggestions(None, None)
    assert res.prefixString is None and res.fieldName is None and len(res.suggestions) == 5


def test_golden_suggestions(http: Http, seeded: Seeded) -> None:
    assert_golden("search_suggestions", http.ok("GET", "search/suggestions",
                                                params={"prefixString": "t", "fieldName": "name"}))


# -- full text --------------------------------------------------------------------------------------------
def fulltext(http: Http, query: str, **params: Any) -> list[tuple[str, float]]:
    res = http.ok("GET", "search/fulltext", params={"query": query, **params})
    assert res["queryType"] == "FULL_TEXT" and res["queryText"] == query
    return [(r["entity"]["guid"], r["score"]) for r in res["fullTextResult"]]


def test_full_text_scores_by_the_words_found(http: Http, seeded: Seeded) -> None:
    t = seeded.tables
    assert fulltext(http, "t2 alice") == [(t[2], 1.0), (t[0], 0.5), (seeded.process, 0.5)]
    assert fulltext(http, "t2 alice", limit=1, offset=1) == [(t[0], 0.5)]
    both = fulltext(http, f"{seeded.uid} deleted")
    assert both[0] == (seeded.gone, 1.0)  # best first; the rest hold one word of two, in creation order
    assert both[1:7] == [(g, 0.5) for g in [seeded.db, *t]] and {s for _, s in both[1:]} == {0.5}
    assert fulltext(http, "deleted", excludeDeletedEntities="true") == []
    assert fulltext(http, seeded.tag) == [(t[1], 1.0)]  # classification names
    # Lucene's operators and field names are not words; a type name is; * matches within a word
    scores = dict(fulltext(http, "hive_db AND name:gone*"))
    assert scores[seeded.gone] == scores[seeded.db] == 0.5 and seeded.tables[0] not in scores
    assert fulltext(http, "zz_nothing") == []


def test_full_text_without_a_word_is_400(http: Http) -> None:
    http.error(400, "ATLAS-400-00-01A", "GET", "search/fulltext", params={"query": " AND "})
    http.error(400, "ATLAS-400-00-01A", "GET", "search/fulltext")
    http.error(400, "ATLAS-400-00-058", "GET", "search/fulltext", params={"query": "q" * 5000})


def test_the_official_client_searches_full_text(client: AtlasClient, seeded: Seeded) -> None:
    res = client.discovery.full_text_search_with_params("t3", limit=5, offset=0)
    assert res.queryType == "FULL_TEXT"
    assert [r["entity"]["guid"] for r in res.fullTextResult] == [seeded.tables[3]]


def test_golden_full_text(http: Http, seeded: Seeded) -> None:
    assert_golden("search_fulltext", http.ok("GET", "search/fulltext", params={"query": "t0"}))
