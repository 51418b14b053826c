"""Search filters (``catalog.embedded.search_filters``): Atlas's FilterCriteria operators in all their spellings on
scalar, list and missing values, system and business-metadata attributes, nested groups, and the SQL a
qualifiedName/name criterion (or an OR group of equalities on one of them) becomes; on a store of its own, that
the SQL finds exactly what the per-row check finds, and finds it through the index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.embedded import search
from catalog.embedded.entity_read import EntityRow, load_entities
from catalog.embedded.search_filters import (
    INDEXED_COLUMNS,
    MAX_SQL_VALUES,
    OPERATORS,
    attribute_names,
    canonical_operator,
    criteria_ok,
    filter_ok,
    fully_pushed,
    has_filter,
    match,
    pushdown,
    value_of,
)
from catalog.embedded.store import EmbeddedStore


def entity(**attributes: Any) -> EntityRow:
    body = {"attributes": attributes, "labels": ["gold"], "businessAttributes": {"bm": {"tier": 2}}}
    return EntityRow("g-1", "hive_table", "ACTIVE", body, 1000, 2000, 3, "alice", "bob")


@pytest.mark.parametrize(("spelling", "canonical"), [
    ("<", "<"), ("lt", "<"), ("LTE", "<="), ("eq", "="), ("neq", "!="), ("<>", "!="), ("startsWith", "startswith"),
    ("begins_with", "startswith"), ("ENDS_WITH", "endswith"), ("isNull", "isnull"), ("not_null", "notnull"),
    ("containsAny", "containsany"), ("contains_all", "containsall"), ("TIME_RANGE", "timerange"),
    ("not_contains", "not_contains"), ("IN", "in"), ("like", "like"), ("notEmpty", "notempty"),
])
def test_every_spelling_of_an_operator(spelling: str, canonical: str) -> None:
    assert canonical_operator(spelling) == canonical
    assert canonical in OPERATORS


@pytest.mark.parametrize(("op", "actual", "expected", "result"), [
    ("=", "abc", "abc", True), ("=", "abc", "ABC", False), ("!=", "abc", "x", True),
    ("<", 3, "4", True), (">=", 3, "3", True), (">", 3, "x", False), ("<", "b", "c", True),
    ("=", True, "true", True), ("=", 1704164645000, "2024-01-02T03:04:05.000Z", True),
    ("startsWith", "Wine_Quality", "wine", True), ("endsWith", "table@cm", "@CM", True),
    ("contains", "abcdef", "CDE", True), ("not_contains", "abcdef", "x", True), ("like", "wine_q", "WINE*", True),
    ("in", "b", "a, b ,c", True), ("in", "b", ["a", "c"], False),
    ("isNull", None, None, True), ("isNull", "", None, True), ("isNull", [], None, True), ("notNull", "x", None, True),
    ("notEmpty", {}, None, False),
    ("timerange", 1704164645000, "2024-01-01T00:00:00.000Z,2024-01-03T00:00:00.000Z", True),
    ("timerange", 5, "not,a range", False),
    ("=", ["a", "b"], "b", True), ("containsAny", ["a", "b"], "x,b", True), ("containsAll", ["a", "b"], ["a", "x"],
                                                                            False),
    ("contains", ["alpha", "beta"], "et", True), ("not_contains", ["alpha"], "ph", False), ("<", ["a"], "b", False),
])
def test_operators_on_values(op: str, actual: Any, expected: Any, result: bool) -> None:
    assert match(op, actual, expected) is result


def test_system_and_business_metadata_attributes() -> None:
    e = entity(name="t", owner=None)
    assert [value_of(e, a) for a in ("__guid", "__typeName", "__state", "__createdBy", "__modifiedBy",
                                     "__timestamp", "__modificationTimestamp", "__labels", "__isIncomplete")] == [
        "g-1", "hive_table", "ACTIVE", "alice", "bob", 1000, 2000, ["gold"], 0]
    assert value_of(e, "bm.tier") == 2 and value_of(e, "bm.nope") is None and value_of(e, "owner") is None


def test_nested_groups_and_the_names_they_use() -> None:
    crit = {"condition": "AND", "criterion": [
        {"attributeName": "name", "operator": "=", "attributeValue": "t"},
        {"condition": "OR", "criterion": [{"attributeName": "owner", "operator": "=", "attributeValue": "x"},
                                          {"attributeName": "__state", "operator": "=", "attributeValue": "ACTIVE"}]}]}
    assert filter_ok(entity(name="t"), crit) and not filter_ok(entity(name="u"), crit)
    assert sorted(attribute_names(crit)) == ["__state", "name", "owner"]
    assert filter_ok(entity(), None) and filter_ok(entity(), {})
    assert criteria_ok(lambda name: {"level": "high"}.get(name), {"attributeName": "level", "operator": "=",
                                                                  "attributeValue": "high"})
    assert has_filter(crit) and not has_filter({}) and not has_filter({"condition": "AND", "criterion": []})
    assert not has_filter(None) and has_filter({"attributeName": "x"})


def test_qualified_name_and_name_criteria_become_sql() -> None:
    eq = {"attributeName": "qualifiedName", "operator": "=", "attributeValue": "a@cm"}
    assert pushdown(eq) == (["e.qualified_name = ?"], ["a@cm"])
    assert fully_pushed(eq)
    names = {"attributeName": "name", "operator": "in", "attributeValue": "a, b"}
    assert pushdown(names) == (["e.name IN (?,?)"], ["a", "b"])
    assert not fully_pushed(names)  # "in" reads its values from one string: the check stays in Python
    prefix = {"attributeName": "name", "operator": "startsWith", "attributeValue": "Wi"}
    assert pushdown(prefix) == (["lower(e.name) >= ? AND lower(e.name) < ?"], ["wi", "wi\U0010ffff"])
    assert not fully_pushed(prefix)  # a range on the index; the exact check stays in Python
    both = {"condition": "AND", "criterion": [eq, names]}
    assert len(pushdown(both)[0]) == 2 and not fully_pushed(both)
    assert fully_pushed({"condition": "AND", "criterion": [eq, {**eq, "attributeName": "name"}]})
    assert pushdown({"condition": "OR", "criterion": [eq, names]}) == ([], [])
    assert pushdown({"attributeName": "owner", "operator": "=", "attributeValue": "x"}) == ([], [])
    assert pushdown({**eq, "attributeValue": ""}) == ([], []) and not fully_pushed({**eq, "attributeValue": ""})
    # only the attributes the caller says hold strings in every searched type
    assert pushdown(eq, frozenset({"name"})) == ([], []) and not fully_pushed(eq, frozenset({"name"}))


def eq(attribute: str, value: Any) -> dict[str, Any]:
    return {"attributeName": attribute, "operator": "eq", "attributeValue": value}


def any_of(attribute: str, values: list[Any]) -> dict[str, Any]:
    """What catalog.atlas.client.any_of sends: one equality per value, OR-combined."""
    return {"condition": "OR", "criterion": [eq(attribute, v) for v in values]}


def test_an_or_group_of_equalities_on_one_indexed_attribute_becomes_sql_in() -> None:
    names = [f"db.t{i}@cm" for i in range(250)]
    group = any_of("qualifiedName", names)
    assert pushdown(group) == ([f"e.qualified_name IN ({','.join('?' * 250)})"], names)
    assert fully_pushed(group)
    mixed = {"condition": "OR", "criterion": [eq("name", "a"), {**eq("name", "b"), "operator": "="}]}
    assert pushdown(mixed) == (["e.name IN (?,?)"], ["a", "b"]) and fully_pushed(mixed)
    assert pushdown(any_of("name", ["a", "a"])) == (["e.name IN (?)"], ["a"])
    inside = {"condition": "AND", "criterion": [group, {"attributeName": "owner", "operator": "=",
                                                        "attributeValue": "x"}]}
    assert pushdown(inside) == pushdown(group) and not fully_pushed(inside)  # owner is checked per row
    assert fully_pushed({"condition": "AND", "criterion": [group, any_of("name", ["t1", "t2"])]})
    most = [f"n{i}" for i in range(MAX_SQL_VALUES)]
    assert pushdown(any_of("name", most))[1] == most and fully_pushed(any_of("name", most))


@pytest.mark.parametrize("group", [
    {"condition": "OR", "criterion": [eq("name", "a"), eq("qualifiedName", "b")]},  # two columns
    {"condition": "OR", "criterion": [eq("name", "a"), {**eq("name", "b"), "operator": "startsWith"}]},
    {"condition": "OR", "criterion": [eq("name", "a"), eq("name", 5)]},  # not a string
    {"condition": "OR", "criterion": [eq("name", "a"), eq("name", "")]},  # "" equals a missing name
    {"condition": "OR", "criterion": [eq("name", "a"), {}]},  # an empty member matches everything
    {"condition": "OR", "criterion": [eq("name", "a"), any_of("name", ["b", "c"])]},  # a nested group
    {"condition": "OR", "criterion": [eq("owner", "a"), eq("owner", "b")]},  # no index
    {"condition": "OR", "criterion": [{"attributeName": "name", "attributeValue": "a"}]},  # no operator
    any_of("name", [f"n{i}" for i in range(MAX_SQL_VALUES + 1)]),  # more values than SQL takes at once
])
def test_other_or_groups_stay_in_python(group: dict[str, Any]) -> None:
    assert pushdown(group) == ([], []) and not fully_pushed(group)
    assert pushdown({"condition": "AND", "criterion": [group]}) == ([], [])


def test_an_or_group_on_an_attribute_not_known_to_hold_strings_stays_in_python() -> None:
    group = any_of("name", ["a", "b"])
    assert pushdown(group, frozenset({"qualifiedName"})) == ([], [])
    assert not fully_pushed(group, frozenset({"qualifiedName"}))
    assert set(INDEXED_COLUMNS) == {"qualifiedName", "name"}


# -- the SQL against a store --------------------------------------------------------------------------------
# pd_thing: string qualifiedName and name; pd_counted: an int "name" (compared as a number, never as text).
TYPES = {"entityDefs": [
    {"name": "pd_thing", "attributeDefs": [
        {"name": "qualifiedName", "typeName": "string", "isUnique": True, "isOptional": False},
        {"name": "name", "typeName": "string", "isOptional": True},
        {"name": "owner", "typeName": "string", "isOptional": True}]},
    {"name": "pd_counted", "attributeDefs": [
        {"name": "qualifiedName", "typeName": "string", "isUnique": True, "isOptional": False},
        {"name": "name", "typeName": "int", "isOptional": True}]},
]}
NAMES = ["a", "A", "b", "a ", "x,y", "None", "5", "\u00e9", "\u00c9", "e\u0301", "ab"]  # case, space, comma, accents
NUMBERS = [5, 50, 0]


@pytest.fixture(scope="module")
def store_conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sqlite3.Connection, Any]]:
    store = EmbeddedStore(Path(tmp_path_factory.mktemp("pushdown")), [TYPES])
    things = [{"typeName": "pd_thing", "attributes": {
        "qualifiedName": f"{n}@{i}", "name": n, "owner": "o" if i % 2 else None}} for i, n in enumerate(NAMES * 2)]
    things.append({"typeName": "pd_thing", "attributes": {"qualifiedName": "nameless@cm"}})
    counted = [{"typeName": "pd_counted", "attributes": {"qualifiedName": f"{n}", "name": n}} for n in NUMBERS]
    store.create_or_update([*things, *counted], None, "test")
    gone = store.search({"typeName": "pd_thing", "entityFilters": eq("qualifiedName", "a@0")})["entities"][0]
    store.delete([gone["guid"]], "test")
    yield store.db.reader(), store.registry
    store.close()


def found(conn: sqlite3.Connection, registry: Any, params: dict[str, Any]) -> list[str]:
    scope = search.resolve_scope(conn, registry, params)
    return [e.guid for e in search.matching(conn, scope, params)]


def found_per_row(conn: sqlite3.Connection, registry: Any, params: dict[str, Any]) -> list[str]:
    """The same search with nothing pushed down: every entity of the types, the filter checked on each."""
    scope = search.resolve_scope(conn, registry, params)
    everything = search.matching(conn, scope, {**params, "entityFilters": None})
    return [e.guid for e in everything if filter_ok(e, params["entityFilters"])]


VALUES = st.sampled_from([*NAMES, *(f"{n}@{i}" for i, n in enumerate(NAMES)), "nameless@cm", "50", "0",
                          *map(str, NUMBERS), "5.0", "05", "zz"])  # "05" is 5 to an int attribute


@settings(max_examples=150, deadline=None)
@given(attribute=st.sampled_from(["name", "qualifiedName"]), values=st.lists(VALUES, min_size=1, max_size=8),
       type_name=st.sampled_from(["pd_thing", "pd_counted", "pd_thing,pd_counted"]),
       with_owner=st.booleans(), exclude_deleted=st.booleans())
def test_an_or_group_pushed_down_finds_what_the_per_row_check_finds(
        store_conn: tuple[sqlite3.Connection, Any], attribute: str, values: list[str], type_name: str,
        with_owner: bool, exclude_deleted: bool) -> None:
    conn, registry = store_conn
    flt: dict[str, Any] = any_of(attribute, values)
    if with_owner and type_name == "pd_thing":
        flt = {"condition": "AND", "criterion": [flt, {"attributeName": "owner", "operator": "=",
                                                       "attributeValue": "o"}]}
    params = {"typeName": type_name, "entityFilters": flt, "excludeDeletedEntities": exclude_deleted}
    assert found(conn, registry, params) == found_per_row(conn, registry, params)


@settings(max_examples=150, deadline=None)
@given(attribute=st.sampled_from(["name", "qualifiedName"]), operator=st.sampled_from(["eq", "in", "startsWith"]),
       values=st.lists(VALUES, min_size=1, max_size=3), cut=st.integers(0, 3),
       type_name=st.sampled_from(["pd_thing", "pd_counted", "pd_thing,pd_counted"]))
def test_a_criterion_pushed_down_finds_what_the_per_row_check_finds(
        store_conn: tuple[sqlite3.Connection, Any], attribute: str, operator: str, values: list[str], cut: int,
        type_name: str) -> None:
    """The single criteria pushed down too: "=", "in" (a pre-filter), "startsWith" (a range, case folded)."""
    conn, registry = store_conn
    value = ",".join(values) if operator == "in" else values[0][:cut] or values[0] if operator == "startsWith" \
        else values[0]
    params = {"typeName": type_name, "entityFilters": {"condition": "AND", "criterion": [
        {"attributeName": attribute, "operator": operator, "attributeValue": value}]}}
    assert found(conn, registry, params) == found_per_row(conn, registry, params)


def test_an_or_group_of_names_is_answered_through_the_index(store_conn: tuple[sqlite3.Connection, Any]) -> None:
    conn, registry = store_conn
    names = [f"{NAMES[i]}@{i}" for i in (0, 1, 2)]  # the first one deleted
    params = {"typeName": "pd_thing", "entityFilters": any_of("qualifiedName", [*names, "zz"]),
              "excludeDeletedEntities": True}
    scope = search.resolve_scope(conn, registry, params)
    where, args = search._where(scope, params, "")
    plan = " ".join(str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + search._select(where, None, False),
                                                     args))
    assert "USING INDEX entity_qn (qualified_name=?)" in plan, plan
    hits = load_entities(conn, found(conn, registry, params))
    assert sorted(e.attributes["qualifiedName"] for e in hits.values()) == sorted(names[1:])
    # pd_counted's int name is not the column's text: its group is checked per row, with the same answer
    numbers = {"typeName": "pd_thing,pd_counted", "entityFilters": any_of("name", ["5", "a"])}
    assert search.resolve_scope(conn, registry, numbers).sql_attributes == frozenset({"qualifiedName"})
    answer = found(conn, registry, numbers)
    assert answer == found_per_row(conn, registry, numbers)
    assert {load_entities(conn, answer)[g].type_name for g in answer} == {"pd_thing", "pd_counted"}
