"""Search filters (``catalog.embedded.search_filters``): Atlas's FilterCriteria operators in all their spellings on
scalar, list and missing values, system and business-metadata attributes, nested groups, and the SQL a
qualifiedName/name criterion becomes.
"""

from __future__ import annotations

from typing import Any

import pytest

from catalog.embedded.entity_read import EntityRow
from catalog.embedded.search_filters import (
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
    names = {"attributeName": "name", "operator": "in", "attributeValue": ["a", "b"]}
    assert pushdown(names) == (["e.name IN (?,?)"], ["a", "b"])
    prefix = {"attributeName": "name", "operator": "startsWith", "attributeValue": "Wi"}
    assert pushdown(prefix) == (["lower(e.name) >= ? AND lower(e.name) < ?"], ["wi", "wi\U0010ffff"])
    assert not fully_pushed(prefix)  # a range on the index; the exact check stays in Python
    both = {"condition": "AND", "criterion": [eq, names]}
    assert len(pushdown(both)[0]) == 2 and fully_pushed(both)
    assert pushdown({"condition": "OR", "criterion": [eq, names]}) == ([], [])
    assert pushdown({"attributeName": "owner", "operator": "=", "attributeValue": "x"}) == ([], [])
