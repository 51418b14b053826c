"""The DSL parser (``catalog.embedded.search_dsl``): the common grammar of Atlas's AtlasDSLParser.g4 read into a
query tree, Atlas's left-to-right ``and``/``or``, and Atlas's 400 ``ATLAS-400-00-059`` with the parser's reason for
what it refuses, however long or deep the query. Running the queries is ``test_search_dsl_exec``'s.
"""

from __future__ import annotations

import pytest

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.search_dsl import (
    MAX_DSL_DEPTH,
    Compare,
    Expr,
    Has,
    HasTerm,
    IsA,
    Query,
    SelectItem,
    Value,
    parse,
)


def where(text: str) -> Expr:
    q = parse(text)
    assert len(q.filters) == 1, q
    return q.filters[0]


def test_a_bare_source_with_from_alias_and_quotes() -> None:
    assert parse("hive_table") == Query("hive_table", None, (), (), (), None, None, 0)
    assert parse("from hive_table").source == "hive_table"
    assert parse("FROM `hive table` AS t") == Query("hive table", "t", (), (), (), None, None, 0)
    assert parse('"PII"').source == "PII"
    assert parse("_CLASSIFIED").source == "_CLASSIFIED"


@pytest.mark.parametrize(("text", "op"), [
    ("=", "="), ("!=", "!="), ("<", "<"), ("<=", "<="), (">", ">"), (">=", ">="), ("like", "like"), ("LIKE", "like"),
    ("eq", "="), ("neq", "!="), ("lt", "<"), ("lte", "<="), ("gt", ">"), ("GTE", ">="),
])
def test_the_comparison_operators(text: str, op: str) -> None:
    assert where(f"hive_table where name {text} 'x'").first == Compare("name", op, Value("x", "string"))


def test_values_keep_their_kind_and_lose_their_quotes() -> None:
    assert where('t where a = "x y"').first == Compare("a", "=", Value("x y", "string"))
    assert where("t where a = 'x'").first == Compare("a", "=", Value("x", "string"))
    assert where("t where a = `x`").first == Compare("a", "=", Value("x", "string"))
    assert where("t where a = bare").first == Compare("a", "=", Value("bare", "name"))
    assert where("t where a = -12").first == Compare("a", "=", Value("-12", "number"))
    assert where("t where a = 1.5e3").first == Compare("a", "=", Value("1.5e3", "number"))
    assert where("t where a = TRUE").first == Compare("a", "=", Value("TRUE", "bool"))
    assert where("t where a = ['x', y, 3]").first == Compare(
        "a", "in", (Value("x", "string"), Value("y", "name"), Value("3", "number")))
    assert where("t where db.name = 'x'").first == Compare("db.name", "=", Value("x", "string"))
    assert where('t where "quoted attr" = 1').first.attr == "quoted attr"  # type: ignore[union-attr]


def test_and_or_bind_equally_from_the_left_and_parentheses_group() -> None:
    e = where("t where a = 1 or b = 2 and c = 3")
    assert [op for op, _ in e.rest] == ["OR", "AND"]  # evaluated ((a or b) and c), as DSLVisitor does
    e = where("t where a = 1 or (b = 2 and c = 3)")
    assert e.rest[0][0] == "OR" and isinstance(e.rest[0][1], Expr)
    assert e.rest[0][1].rest[0][0] == "AND"
    assert where("t where ((a = 1))").first == Expr(Expr(Compare("a", "=", Value("1", "number"))))


def test_isa_has_hasterm_after_the_source_and_in_where() -> None:
    assert where("hive_table isa PII").first == IsA(None, "PII")
    assert where("hive_table is PII").first == IsA(None, "PII")
    assert where("hive_table has owner").first == Has(None, "owner")
    assert where("hive_table hasTerm revenue").first == HasTerm(None, "revenue")
    assert where("hive_table hasterm 'rev@g'").first == HasTerm(None, "rev@g")
    e = where("hive_table isa PII and name = 'x'")
    assert e.first == IsA(None, "PII") and e.rest[0][0] == "AND"
    assert where("hive_table where hive_table isa PII").first == IsA("hive_table", "PII")
    assert where("hive_table as t where t has owner").first == Has("t", "owner")
    assert len(parse("hive_table isa PII where owner = 'a'").filters) == 2


def test_select_groupby_orderby_limit_offset() -> None:
    q = parse("hive_table groupby(owner) select owner as o, count(), MAX(retention), min(x), sum(x) as s "
              "orderby owner desc limit 10 offset 5")
    assert q.groupby == ("owner",)
    assert q.select == (SelectItem("attr", "owner", "o"), SelectItem("count", None, "count()"),
                        SelectItem("max", "retention", "MAX(retention)"), SelectItem("min", "x", "min(x)"),
                        SelectItem("sum", "x", "s"))
    assert (q.orderby, q.limit, q.offset) == (("owner", True), 10, 5)
    assert parse("t orderby (name) ASC").orderby == ("name", False)
    assert parse("t orderby name").orderby == ("name", False)
    assert parse("t limit 3").offset == 0


def test_keywords_are_case_insensitive_and_comments_are_skipped() -> None:
    q = parse("Hive_Table /* all of them */ WHERE Name = 'x' -- the name\n SELECT Name LIMIT 1")
    assert q.source == "Hive_Table" and q.limit == 1 and q.select == (SelectItem("attr", "Name", "Name"),)
    assert parse("t where orderly = 1").filters[0].first == Compare("orderly", "=", Value("1", "number"))


@pytest.mark.parametrize(("query", "reason"), [
    ("", "mismatched input '<EOF>'"),
    ("hive_table where", "mismatched input '<EOF>'"),
    ("hive_table where name = 'x' and", "mismatched input '<EOF>'"),
    ("hive_table select", "mismatched input '<EOF>'"),
    ("hive_table where name # 1", "token recognition error at: '#'"),
    ("hive_table where name = 'unterminated", "token recognition error at: '''"),
    ("hive_table select count() where name = 'x'", "mismatched input 'where'"),
    ("hive_table limit 99999999999", "99999999999 is not a number of rows"),
    ("hive_table limit 1e3", "1e3 is not a number of rows"),
    ("hive_table limit 5 offset", "mismatched input '<EOF>'"),
    ("hive_table where 5 = name", "mismatched input '5'"),
])
def test_what_the_parser_refuses_is_400_059_with_its_reason(query: str, reason: str) -> None:
    with pytest.raises(AtlasError) as info:
        parse(query)
    assert info.value.code is ErrorCode.INVALID_DSL_QUERY
    assert info.value.http_status == 400
    assert info.value.message.startswith(f"Invalid DSL query: {query} | Reason: {reason}")
    assert info.value.message.endswith(". Please refer to Atlas DSL grammar for more information")


def test_nesting_is_bounded_before_parsing() -> None:
    deep = "t where " + "(" * MAX_DSL_DEPTH + "a = 1" + ")" * MAX_DSL_DEPTH
    assert parse(deep).filters
    for query in ("t where " + "(" * (MAX_DSL_DEPTH + 1) + "a = 1" + ")" * (MAX_DSL_DEPTH + 1),
                  "(" * 5000, "t where a = " + "[" * 40, "t where " + "(" * 2000 + "a = 1"):
        with pytest.raises(AtlasError) as info:
            parse(query)
        assert info.value.code is ErrorCode.INVALID_DSL_QUERY
        assert f"nest more than {MAX_DSL_DEPTH} levels" in info.value.message
        assert len(info.value.message) < 1000  # the answer never echoes a hostile query whole
    # parentheses inside quotes do not count
    assert parse("t where a = '" + "(" * 100 + "'").filters


def test_a_long_flat_query_parses_without_recursion() -> None:
    terms = 2000
    q = parse("t where " + " and ".join(f"a{i} = {i}" for i in range(terms)))
    assert len(q.filters[0].rest) == terms - 1
