"""DSL search (``GET search/dsl``) run over a seeded store of its own (``search_helpers``), through the official
``apache-atlas`` client (``dsl_search``, ``dsl_search_with_params``) and raw HTTP: what each clause selects as Atlas's
GremlinQueryComposer does, select rows and aggregates as its TraversalBasedExecutor answers them, paging, the
typeName/classification parameters, Atlas's 400s, and the wire shape of both kinds of answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from apache_atlas.client.base_client import AtlasClient

from tests.embedded import search_helpers
from tests.embedded.official_client_helpers import expect_error
from tests.embedded.search_helpers import Http, Seeded, guids
from tests.embedded.test_wire import assert_golden

# this module's own seeded Atlas over HTTP (search_helpers' fixtures)
running, http, client, seeded = (search_helpers.running, search_helpers.http, search_helpers.client,
                                 search_helpers.seeded)


def dsl(http: Http, query: str, **params: Any) -> Any:
    return http.ok("GET", "search/dsl", params={"query": query, **params})


def found(http: Http, s: Seeded, query: str, **params: Any) -> list[str]:
    """The seed's entities a query finds, as names t0..t4 / gone / c0 / c1 / db (in the answer's order)."""
    names = {g: f"t{i}" for i, g in enumerate(s.tables)}
    names.update({s.gone: "gone", s.db: "db", s.columns[0]: "c0", s.columns[1]: "c1", s.process: "train"})
    return [names.get(g, g) for g in guids(dsl(http, query.format(uid=s.uid, tag=s.tag, other=s.other_tag),
                                               **params))]


def rows(http: Http, s: Seeded, query: str, **params: Any) -> dict[str, Any] | None:
    result = dsl(http, query.format(uid=s.uid, tag=s.tag, other=s.other_tag), **params)
    assert "entities" not in result
    return result.get("attributes")  # type: ignore[no-any-return]


def dsl_error(http: Http, query: str, **params: Any) -> str:
    return http.error(400, "ATLAS-400-00-059", "GET", "search/dsl", params={"query": query, **params})


ALL = ["t0", "t1", "t2", "t3", "t4", "gone"]


@pytest.mark.parametrize(("query", "expected"), [
    ("hive_table", ALL),  # deleted entities too, as Atlas's DSL has no state filter
    ("from hive_table", ALL),
    ("hive_table where __state = 'ACTIVE'", ALL[:5]),
    ("DataSet where name = 't0'", ["t0"]),  # a type's subtypes
    ("hive_table where owner = 'alice'", ["t0", "t2"]),
    ("hive_table where owner != 'alice'", ["t1", "t3", "t4", "gone"]),
    ("hive_table where comment != 'x'", ALL),  # != also matches an entity without the attribute
    ("hive_table where retention >= 3", ["t3", "t4", "gone"]),
    ("hive_table where retention < 1", ["t0"]),
    ("hive_table where retention lte 1", ["t0", "t1"]),
    ("hive_table where retention = 2", ["t2"]),
    ("hive_table where retention = 2.0", ["t2"]),
    ("hive_table where name like 't*'", ALL[:5]),
    ("hive_table where name like '?3'", ["t3"]),
    ("hive_table where name like 'T*'", []),  # like is case-sensitive (a STRING index's textRegex)
    ("hive_table where name = ['t1', 't3', 'nope']", ["t1", "t3"]),
    ("hive_table where createTime >= '2024-01-04'", ["t2", "t3", "t4"]),
    ("hive_table where createTime < '2024-01-03T03:04:05.000Z'", ["t0"]),
    ("hive_table where temporary = true", ["t4"]),
    ("hive_table where temporary = false", ["t0", "t1", "t2", "t3"]),
    ("hive_table where owner = 'bob' or owner = 'carol' and retention > 3", ["t4"]),  # ((bob or carol) and ...)
    ("hive_table where owner = 'bob' or (owner = 'carol' and retention > 3)", ["t1", "t4"]),
    ("hive_table where (owner = 'alice' or owner = 'carol') and retention > 0", ["t2", "t3"]),
    ("hive_table isa {tag}", ["t1"]),  # the classification's own name, as Atlas's classifiedAs step
    ("hive_table is {other}", ["t3"]),
    ("hive_table isa _CLASSIFIED", ["t1", "t2", "t3"]),
    ("hive_table isa _NOT_CLASSIFIED", ["t0", "t4", "gone"]),
    ("hive_table isa {tag} or owner = 'carol'", ["t1", "t3"]),
    ("hive_table where hive_table isa {other}", ["t3"]),
    ("hive_table as t where t isa {other} or t.owner = 'alice'", ["t0", "t2", "t3"]),
    ("hive_table has comment", []),
    ("hive_table has owner", ALL),
    ("hive_table where hive_table has temporary", ALL[:5]),
    ("{tag}", ["t1"]),
    ("{tag} where level = 'high'", ["t1"]),
    ("_CLASSIFIED", ["t1", "t2", "t3"]),
    ("hive_table where db.name = 'db_{uid}'", ALL),  # the deleted table's relationship too
    ("hive_column where table.name = 't0'", ["c0", "c1"]),
    ("hive_table where columns.name = 'c1'", ["t0"]),
    ("hive_table as t where t.owner = 'carol'", ["t3"]),
    ("hive_table where hive_table.owner = 'carol'", ["t3"]),
    ("hive_table orderby retention desc", ["gone", "t4", "t3", "t2", "t1", "t0"]),
    ("hive_table orderby name", ["gone", "t0", "t1", "t2", "t3", "t4"]),
    ("hive_table orderby name limit 2 offset 1", ["t0", "t1"]),
    ("hive_table orderby (retention) asc limit 1", ["t0"]),
    ("Process where inputs.name = 't0'", ["train"]),
])
def test_what_a_query_selects(http: Http, seeded: Seeded, query: str, expected: list[str]) -> None:
    assert found(http, seeded, query) == expected


def test_a_query_without_limit_gets_the_request_s_page(http: Http, seeded: Seeded) -> None:
    assert found(http, seeded, "hive_table", limit=2, offset=2) == ["t2", "t3"]
    assert found(http, seeded, "hive_table", offset=-4) == ALL  # QueryParams: a negative offset is 0
    assert found(http, seeded, "hive_table limit 1", limit=3, offset=3) == ["t0"]  # the query's own wins


def test_type_name_and_classification_parameters_make_the_query(http: Http, seeded: Seeded) -> None:
    result = http.ok("GET", "search/dsl", params={"typeName": "hive_table", "classification": seeded.other_tag})
    assert result["queryText"] == f"`hive_table`  isa {seeded.other_tag}"
    assert guids(result) == [seeded.tables[3]]
    result = http.ok("GET", "search/dsl", params={"typeName": "hive_table", "query": "where owner = 'bob'",
                                                  "classification": seeded.tag})  # isa only without a query
    assert result["queryText"] == "`hive_table` where owner = 'bob'"
    assert guids(result) == [seeded.tables[1], seeded.tables[4]]


def test_has_term_selects_the_entities_a_term_is_assigned_to(http: Http, seeded: Seeded) -> None:
    glossary = http.ok("POST", "glossary", json={"name": f"dslg_{seeded.uid}"})
    term = http.ok("POST", "glossary/term", json={"name": "dslterm", "anchor": {"glossaryGuid": glossary["guid"]}})
    r = http.request("POST", f"glossary/terms/{term['guid']}/assignedEntities", json=[{"guid": seeded.tables[4]}])
    assert r.status_code == 204, r.text
    assert found(http, seeded, "hive_table hasTerm dslterm") == ["t4"]
    assert found(http, seeded, "hive_table hasTerm 'dslterm@dslg_{uid}'") == ["t4"]
    assert found(http, seeded, "hive_table where hive_table hasTerm nope_term") == []


def test_select_rows_are_distinct_with_empty_strings_for_missing_values(http: Http, seeded: Seeded) -> None:
    assert rows(http, seeded, "hive_table where owner = 'alice' select name, owner") == {
        "name": ["name", "owner"], "values": [["t0", "alice"], ["t2", "alice"]]}
    assert rows(http, seeded, "hive_table select owner") == {
        "name": ["owner"], "values": [["alice"], ["bob"], ["carol"], ["dave"]]}
    assert rows(http, seeded, "hive_table where name = 't0' select comment as c, retention") == {
        "name": ["c", "retention"], "values": [["", 0]]}
    assert rows(http, seeded, "hive_table select name orderby retention desc limit 2") == {
        "name": ["name"], "values": [["gone"], ["t4"]]}
    assert rows(http, seeded, "hive_table where name = 't0' select createTime")["values"] == [  # type: ignore[index]
        [1704164645000]]


def test_aggregates_run_over_every_match(http: Http, seeded: Seeded) -> None:
    assert rows(http, seeded, "hive_table select count()") == {"name": ["count()"], "values": [[6]]}
    assert rows(http, seeded, "hive_table select COUNT() as n limit 2") == {"name": ["n"], "values": [[6]]}
    assert rows(http, seeded, "hive_table where retention < 5 select max(retention), min(retention), "
                              "sum(retention), max(name), min(owner)") == {
        "name": ["max(retention)", "min(retention)", "sum(retention)", "max(name)", "min(owner)"],
        "values": [[4, 0, 10.0, "t4", "alice"]]}
    assert rows(http, seeded, "hive_table groupby(owner) select owner, count(), max(retention) orderby owner") == {
        "name": ["owner", "count()", "max(retention)"],
        "values": [["alice", 2, 2], ["bob", 2, 4], ["carol", 1, 3], ["dave", 1, 9]]}
    # TraversalBasedExecutor: no match, no rows, not even a count of 0
    assert rows(http, seeded, "hive_table where owner = 'nobody' select count()") is None


def test_select_of_a_relationship_attribute_moves_to_the_related_entities(http: Http, seeded: Seeded) -> None:
    result = rows(http, seeded, "hive_table where name = 't0' select db")
    assert result is not None and result["name"] == ["db"]
    [[db]] = result["values"]
    assert (db["guid"], db["typeName"], db["displayText"]) == (seeded.db, "hive_db", seeded.db_name)
    assert rows(http, seeded, "hive_column select table.name") == {"name": ["table.name"], "values": [["t0"]]}


@pytest.mark.parametrize(("query", "reason"), [
    ("nope_type", "DSL Semantic Error - nope_type type not found"),
    ("hive_table where foo = 1", "DSL Semantic Error - foo attribute not found for type hive_table"),
    ("hive_table where db.foo = 1", "DSL Semantic Error - foo attribute not found for type hive_db"),
    ("hive_table where a.b.c = 1", "DSL Semantic Error - Qualified name for a.b.c failed!"),
    ("hive_table isa nope_tag", "DSL Semantic Error - nope_tag classification not found"),
    ("hive_table where nope_alias isa _CLASSIFIED", "DSL Semantic Error - nope_alias type not found"),
    ("hive_table has db", "DSL Semantic Error - Property needs to be a primitive type: db"),
    ("hive_table orderby db", "DSL Semantic Error - OrderBy attribute db is non-primitive"),
    ("hive_table where createTime > 'yesterday'", "DSL Semantic Error - Date format: yesterday."),
    ("hive_table where retention = 'many'", "DSL Semantic Error - many is not a number for retention"),
    ("hive_table select name, db", "DSL Semantic Error - Select clause has simple and referred attributes"),
    ("hive_table select db, columns", "DSL Semantic Error - Select clause has multiple referred attributes 2"),
    ("hive_table select max(db)", "DSL Semantic Error - Select clause has aggregation on referred attributes db"),
    ("hive_table groupby(db) select count()", "DSL Semantic Error - GroupBy attribute db is non-primitive"),
    ("hive_table where", "mismatched input '<EOF>'"),
])
def test_a_query_atlas_cannot_run_is_400_059(http: Http, seeded: Seeded, query: str, reason: str) -> None:
    assert dsl_error(http, query) == (f"Invalid DSL query: {query} | Reason: {reason}. "
                                      "Please refer to Atlas DSL grammar for more information")


def test_lengths_are_atlas_s(http: Http, seeded: Seeded) -> None:
    msg = http.error(400, "ATLAS-400-00-058", "GET", "search/dsl", params={"query": "hive_table " + "x" * 5000})
    assert msg == "Invalid query length, update atlas.graph.dsl-max-query-str-length to change the limit"
    http.error(400, "ATLAS-400-00-057", "GET", "search/dsl", params={"typeName": "t" * 5000})
    # the longest query that fits, a flat chain of conditions, runs (no recursion in evaluating it)
    chain = "hive_table where " + " and ".join(["retention >= 0"] * 200)
    assert len(chain) < 4096 and found(http, seeded, chain) == ALL


def test_the_official_client_runs_dsl(client: AtlasClient, seeded: Seeded) -> None:
    res = client.discovery.dsl_search("hive_table where owner = 'alice'")
    assert res.queryType == "DSL" and res.queryText == "hive_table where owner = 'alice'"
    assert [e.guid for e in res.entities] == [seeded.tables[0], seeded.tables[2]]
    assert res.entities[0].attributes["qualifiedName"] == seeded.qn(0)
    res = client.discovery.dsl_search_with_params("hive_table orderby name", limit=2, offset=1)
    assert [e.displayText for e in res.entities] == ["t0", "t1"]
    res = client.discovery.dsl_search("hive_table groupby(owner) select owner, count()")
    assert res.attributes.name == ["owner", "count()"] and ["carol", 1] in res.attributes.values
    expect_error(400, "ATLAS-400-00-059", client.discovery.dsl_search, "hive_table where")


def test_golden_dsl_answers(http: Http, seeded: Seeded) -> None:
    entities = dsl(http, "hive_table where name = 't1' or name = 't0'")
    assert len(entities["entities"]) == 2
    assert_golden("search_dsl_entities", entities)
    selected = dsl(http, "hive_table select name, retention, count()")
    assert_golden("search_dsl_select", selected)
