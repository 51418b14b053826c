"""The DiscoveryREST routes beyond basic search (``catalog.embedded.search_routes``): each one answered on its path
and method, the DSL text the typeName/classification parameters make, attribute search (``search/attribute``)
through the official client, and Atlas's bounds on query parameters.
"""

from __future__ import annotations

import pytest
from apache_atlas.client.base_client import AtlasClient

from catalog.embedded.routes import AtlasApi
from catalog.embedded.search_routes import SEARCH_ROUTES, dsl_text
from tests.conftest import RunningAtlas
from tests.embedded import search_helpers
from tests.embedded.official_client_helpers import expect_error
from tests.embedded.search_helpers import Http, Seeded

# this module's own seeded Atlas over HTTP (search_helpers' fixtures)
running, http, client, seeded = (search_helpers.running, search_helpers.http, search_helpers.client,
                                 search_helpers.seeded)

# Atlas's DiscoveryREST resources, all served here
DISCOVERY_REST = {
    ("POST", "/v2/search/dsl/download/create_file"), ("POST", "/v2/search/basic/download/create_file"),
    ("GET", "/v2/search/download/status"), ("GET", "/v2/search/download/{filename}"),
    ("GET", "/v2/search/dsl"), ("GET", "/v2/search/fulltext"), ("GET", "/v2/search/basic"),
    ("POST", "/v2/search/basic"), ("GET", "/v2/search/attribute"), ("GET", "/v2/search/quick"),
    ("POST", "/v2/search/quick"), ("GET", "/v2/search/suggestions"), ("GET", "/v2/search/relationship"),
    ("GET", "/v2/search/relations"), ("POST", "/v2/search/relations"), ("GET", "/v2/search/saved"),
    ("POST", "/v2/search/saved"), ("PUT", "/v2/search/saved"), ("GET", "/v2/search/saved/{name}"),
    ("DELETE", "/v2/search/saved/{guid}"), ("GET", "/v2/search/saved/execute/{name}"),
    ("GET", "/v2/search/saved/execute/guid/{guid}"),
}


def test_every_discovery_rest_route_is_served(running: RunningAtlas) -> None:
    assert {(m, p) for m, p, _ in SEARCH_ROUTES} | {("GET", "/v2/search/basic"), ("POST", "/v2/search/basic")} \
        == DISCOVERY_REST
    api = AtlasApi(running.store)
    for method, path in DISCOVERY_REST:
        reply = api.dispatch(method, path.replace("{name}", "n").replace("{guid}", "g"), b"", b"", "admin")
        assert reply.status not in (404, 405) or reply.content["errorCode"] in (
            "ATLAS-404-00-005", "ATLAS-404-00-009"), (method, path, reply.content)


@pytest.mark.parametrize(("query", "type_name", "classification", "text"), [
    ("hive_table where a = 1", None, None, "hive_table where a = 1"),
    ("where a = 1", "hive_table", None, "`hive_table` where a = 1"),
    (None, "`hive_table`", None, "`hive_table` "),
    (None, "hive_table", "PII", "`hive_table`  isa PII"),
    ("where a = 1", "hive_table", "PII", "`hive_table` where a = 1"),  # isa only without a query
    (None, None, "PII", " isa PII"),
])
def test_the_dsl_text_the_parameters_make(query: str | None, type_name: str | None, classification: str | None,
                                          text: str) -> None:
    assert dsl_text(query, type_name, classification) == text


def test_attribute_search_is_a_prefix_search(client: AtlasClient, http: Http, seeded: Seeded) -> None:
    d = client.discovery
    res = d.attribute_search("hive_table", None, f"db_{seeded.uid}.t", limit=3, offset=1)  # qualifiedName
    assert res.queryType == "BASIC" and [e.guid for e in res.entities] == seeded.tables[1:4]
    assert res.searchParameters["entityFilters"] == {"attributeName": "qualifiedName", "operator": "startsWith",
                                                     "attributeValue": f"db_{seeded.uid}.t"}
    res = d.attribute_search("hive_table", "owner", "car")
    assert [e.guid for e in res.entities] == [seeded.tables[3]]
    body = expect_error(400, "ATLAS-400-00-01A", d.attribute_search, "hive_table", None, None)
    assert body["errorMessage"] == "invalid parameters: attrName : null, attrValue: null for attribute search."
    expect_error(400, "ATLAS-400-00-023", d.attribute_search, "hive_table", "nope", "x")
    expect_error(400, "ATLAS-400-00-029", d.attribute_search, None, "name", "x")  # filters need a type
    http.error(400, "ATLAS-400-00-057", "GET", "search/attribute", params={"attrName": "a" * 5000,
                                                                            "attrValuePrefix": "x"})


@pytest.mark.parametrize(("path", "param"), [
    ("search/suggestions", "prefixString"), ("search/relationship", "sortBy"), ("search/saved", "user"),
    ("search/attribute", "typeName"), ("search/dsl", "classification"),
])
def test_query_parameters_are_bounded_as_atlas_bounds_them(http: Http, path: str, param: str) -> None:
    msg = http.error(400, "ATLAS-400-00-057", "GET", path, params={param: "x" * 5000})
    assert msg == f"Length of query param {param} exceeds the limit"
