"""Search parameters (``catalog.embedded.search_params``): a filter as Jackson reads it (attributeValue a String)
and DiscoveryREST checks it, the SearchParameters echoed in an answer, QueryParams' page normalisation and the
paging marker.
"""

from __future__ import annotations

from typing import Any

import pytest

from catalog.embedded import search_params as sp
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import Limits


def test_the_echo_has_java_s_defaults_and_only_search_parameters_fields() -> None:
    assert sp.echo({"typeName": "t", "limit": 5, "unknown": 1, "query": None}) == {
        "typeName": "t", "limit": 5, "offset": 0, "excludeDeletedEntities": False,
        "includeClassificationAttributes": False, "includeSubTypes": True, "includeSubClassifications": True,
        "excludeHeaderAttributes": False}


def test_the_page_is_normalised_as_query_params_does() -> None:
    limits = Limits(search_max_limit=50, search_default_limit=10)
    assert sp.page(5, 3, limits) == (5, 3)
    assert sp.page(0, -2, limits) == (10, 0)
    assert sp.page(51, 0, limits) == (10, 0)
    assert sp.page(-1, 0, limits) == (10, 0)


@pytest.mark.parametrize(("criteria", "code"), [
    ({"attributeName": "a", "attributeValue": "x"}, ErrorCode.INVALID_OPERATOR),
    ({"operator": "=", "attributeValue": "x"}, ErrorCode.BLANK_NAME_ATTRIBUTE),
    ({"attributeName": "a", "operator": "="}, ErrorCode.BLANK_VALUE_ATTRIBUTE),
    ({"attributeName": "a", "operator": "in", "attributeValue": ""}, ErrorCode.BLANK_VALUE_ATTRIBUTE),
    ({"criterion": [{"attributeName": "a", "operator": "isNull"}]}, ErrorCode.BAD_REQUEST),
])
def test_a_criterion_missing_a_part_is_refused(criteria: dict[str, Any], code: ErrorCode) -> None:
    with pytest.raises(AtlasError) as info:
        sp.from_body({"typeName": "t", "entityFilters": criteria})
    assert info.value.code is code


@pytest.mark.parametrize("criteria", [
    {}, {"condition": "AND", "criterion": []}, {"attributeName": "a", "operator": "isNull"},
    {"attributeName": "a", "operator": "notNull", "attributeValue": ""},
    {"attributeName": "a", "operator": "in", "attributeValue": "x, y"},
])
def test_a_complete_or_empty_criterion_is_accepted(criteria: dict[str, Any]) -> None:
    assert sp.from_body({"typeName": "t", "tagFilters": criteria})["tagFilters"] == criteria


@pytest.mark.parametrize(("value", "text"), [(5, "5"), (-2, "-2"), (1.5, "1.5"), (True, "true"), (False, "false"),
                                             ("x", "x"), (None, None)])
def test_an_attribute_value_is_read_as_a_java_string(value: Any, text: str | None) -> None:
    leaf = {"attributeName": "a", "operator": "isNull", "attributeValue": value}
    body: dict[str, Any] = {"typeName": "t", "entityFilters": {"condition": "OR", "criterion": [leaf, leaf]}}
    read = sp.from_body(body)["entityFilters"]
    assert [c["attributeValue"] for c in read["criterion"]] == [text, text]
    assert body["entityFilters"]["criterion"][0]["attributeValue"] == value  # the request itself is left as sent


@pytest.mark.parametrize(("value", "shape"), [
    (["x"], "Array value (token `JsonToken.START_ARRAY`)"), ([], "Array value (token `JsonToken.START_ARRAY`)"),
    ({"x": 1}, "Object value (token `JsonToken.START_OBJECT`)")])
def test_a_list_or_object_attribute_value_is_jackson_s_400(value: Any, shape: str) -> None:
    with pytest.raises(AtlasError) as info:
        sp.from_body({"typeName": "t", "tagFilters": {"condition": "AND", "criterion": [
            {"attributeName": "a"},  # no operator: DiscoveryREST's check, after Jackson has read everything
            {"attributeName": "a", "operator": "in", "attributeValue": value}]}})
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert info.value.message == (f"Cannot deserialize value of type `java.lang.String` from {shape} (through "
                                  "reference chain: tagFilters.criterion[1].attributeValue)")


def test_lengths_are_bounded() -> None:
    for key in ("typeName", "classification", "sortBy", "marker", "termName", "relationshipName"):
        with pytest.raises(AtlasError) as info:
            sp.normalize_lengths({key: "x" * 5000})
        assert info.value.code is ErrorCode.INVALID_QUERY_PARAM_LENGTH and info.value.message.endswith(
            f"{key} exceeds the limit")
    with pytest.raises(AtlasError) as info:
        sp.normalize_lengths({"query": "q" * 5000})
    assert info.value.code is ErrorCode.INVALID_QUERY_LENGTH


def test_a_marker_stands_for_an_offset_of_one_search() -> None:
    params = {"typeName": "t", "limit": 10, "offset": 0, "marker": "*"}
    assert sp.decode_marker(params) == 0
    marker = sp.encode_marker(params, 20)
    assert sp.decode_marker({**params, "marker": marker}) == 20
    for other in ({"limit": 11}, {"typeName": "u"}, {"query": "q"}):
        with pytest.raises(AtlasError, match="Invalid marker!"):
            sp.decode_marker({**params, **other, "marker": marker})
    with pytest.raises(AtlasError, match=r"Marker can be used only if offset=0\."):
        sp.decode_marker({**params, "offset": 1})
    for bad in ("", "-1", "%%%", "YWJj", "OjE=", "MTox"):  # "abc", ":1", "1:1"
        with pytest.raises(AtlasError, match="Invalid marker!"):
            sp.decode_marker({**params, "marker": bad})
