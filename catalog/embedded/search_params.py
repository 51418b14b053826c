"""Basic-search parameters (POST body or GET query) checked and normalised as Atlas's DiscoveryREST does.

Jackson reads the POST body into ``SearchParameters``: strings, booleans (also "true"/"false"), Java ints for
``limit``/``offset`` (also as numeric strings), ``SortOrder`` and ``Operator`` enums, nested ``FilterCriteria``
(whose ``attributeValue`` is a String: a number or boolean becomes its text, a list is refused); a value of another
type is a 400. DiscoveryREST then bounds the lengths of ``typeName``, ``classification``,
``sortBy`` and ``query``, refuses a negative page, and ``QueryParams.getNormalizedParams`` turns a limit out of
(0, atlas.search.maxlimit] into atlas.search.defaultlimit. The search itself then only sees well-formed values.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

import orjson

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import (
    FULLTEXT_QUERY_MAX_LENGTH,
    JAVA_INT,
    MAX_FILTER_DEPTH,
    QUERY_PARAM_MAX_LENGTH,
    Limits,
    in_range,
    shown,
)
from catalog.embedded.search_filters import OPERATORS, VALUELESS_OPERATORS, canonical_operator

_STRINGS = ("query", "typeName", "classification", "termName", "sortBy", "marker", "relationshipName")
_BOOLEANS = ("excludeDeletedEntities", "includeSubTypes", "includeSubClassifications",
             "includeClassificationAttributes", "excludeHeaderAttributes")
_FILTERS = ("entityFilters", "tagFilters", "relationshipFilters")


def _bad(message: str) -> AtlasError:
    return AtlasError(ErrorCode.BAD_REQUEST, message)


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _bad(f"{name} must be a boolean, not {shown(value, 60)}")


def java_int(name: str, value: Any) -> int:
    """An int as Jackson reads one: a number or its text, integral, within 32 bits."""
    number: Any = value
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or not in_range(number, JAVA_INT):
        raise _bad(f"{name} must be an integer (32 bits), not {shown(value, 60)}")
    return number


def _jackson_string(value: Any, where: str) -> str | None:
    """A JSON value as Jackson's StringDeserializer reads it into a Java String: a string, or the text of a number or
    boolean; a list or object is its MismatchedInputException (a 400 from Atlas's AtlasJsonProvider)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    shape = "Array value (token `JsonToken.START_ARRAY`)" if isinstance(value, list) else \
        "Object value (token `JsonToken.START_OBJECT`)"
    raise _bad(f"Cannot deserialize value of type `java.lang.String` from {shape} (through reference chain: "
               f"{where})")


def read_filter(criteria: Any, name: str) -> Any:
    """A FilterCriteria as Jackson reads it (attributeName/operator/attributeValue, each a Java String, or a
    condition over nested criteria), then as DiscoveryREST checks it: the whole body is read before any check. The
    criteria again, their attributeValues as those Strings."""
    out = _read_filter(criteria, name, 1)
    _check_filter(out)
    return out


def _read_filter(criteria: Any, name: str, depth: int) -> Any:
    if criteria is None:
        return None
    if not isinstance(criteria, dict):
        raise _bad(f"{name} must be an object, not {shown(criteria, 60)}")
    if depth > MAX_FILTER_DEPTH:
        raise _bad(f"{name} nests more than {MAX_FILTER_DEPTH} levels of criteria")
    for key in ("attributeName", "operator", "condition"):
        if criteria.get(key) is not None and not isinstance(criteria[key], str):
            raise _bad(f"{name}.{key} must be a string, not {shown(criteria[key], 60)}")
    condition = criteria.get("condition")
    if condition is not None and condition.upper() not in ("AND", "OR"):
        raise _bad(f"{name}.condition must be AND or OR, not {shown(condition, 60)}")
    out = dict(criteria)
    if "attributeValue" in criteria:
        out["attributeValue"] = _jackson_string(criteria["attributeValue"], f"{name}.attributeValue")
    criterion = criteria.get("criterion")
    if criterion is not None:
        if not isinstance(criterion, list):
            raise _bad(f"{name}.criterion must be a list, not {shown(criterion, 60)}")
        out["criterion"] = [_read_filter(c, f"{name}.criterion[{i}]", depth + 1) for i, c in enumerate(criterion)]
    return out


def _check_filter(criteria: Any) -> None:
    if not isinstance(criteria, dict):
        return
    operator = criteria.get("operator")
    if operator is not None and canonical_operator(operator) not in OPERATORS:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"unsupported filter operator {shown(operator, 60)}")
    _check_leaf_and_group(criteria)
    for c in criteria.get("criterion") or []:
        _check_filter(c)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_leaf_and_group(criteria: dict[str, Any]) -> None:
    """DiscoveryREST.validateNestedCriteria: a group needs its condition; a criterion its operator, a name and
    (but for isNull/notNull) a value. An empty object is no filter at all."""
    if criteria.get("criterion") and criteria.get("condition") is None:
        # Atlas raises this without an error code (a 500 there); it is the request that is wrong.
        raise _bad("Condition (AND/OR) must be specified when using multiple filters.")
    name, operator = criteria.get("attributeName"), criteria.get("operator")
    if _blank(name) and operator is None and _blank(criteria.get("attributeValue")):
        return
    if operator is None:
        raise AtlasError(ErrorCode.INVALID_OPERATOR, shown(name, 100))
    if _blank(name):
        raise AtlasError(ErrorCode.BLANK_NAME_ATTRIBUTE)
    if canonical_operator(operator) not in VALUELESS_OPERATORS and _blank(criteria.get("attributeValue")):
        raise AtlasError(ErrorCode.BLANK_VALUE_ATTRIBUTE)


def from_body(body: Any) -> dict[str, Any]:
    """The parameters of a POST body, typed as SearchParameters types them (unknown fields kept, as echoed)."""
    if not isinstance(body, dict):
        raise _bad("body must be SearchParameters")
    params = {k: v for k, v in body.items() if v is not None}
    for key in _STRINGS:
        if key in params and not isinstance(params[key], str):
            raise _bad(f"{key} must be a string, not {shown(params[key], 60)}")
    for key in _BOOLEANS:
        if key in params:
            params[key] = _boolean(key, params[key])
    for key in ("limit", "offset"):
        if key in params:
            params[key] = java_int(key, params[key])
    order = params.get("sortOrder")
    if order is not None:
        if not isinstance(order, str) or order.upper() not in ("ASCENDING", "DESCENDING"):
            raise _bad(f"sortOrder must be ASCENDING or DESCENDING, not {shown(order, 60)}")
        params["sortOrder"] = order.upper()
    attributes = params.get("attributes")
    if attributes is not None and not (isinstance(attributes, list) and all(isinstance(a, str) for a in attributes)):
        raise _bad(f"attributes must be a list of strings, not {shown(attributes, 60)}")
    for key in _FILTERS:
        if key in params:
            params[key] = read_filter(params[key], key)
    return params


def normalize_lengths(params: dict[str, Any]) -> dict[str, Any]:
    """DiscoveryREST.validateSearchParameters' length checks."""
    for key in ("typeName", "classification", "sortBy", "marker", "termName", "relationshipName"):
        value = params.get(key)
        if isinstance(value, str) and len(value) > QUERY_PARAM_MAX_LENGTH:
            raise AtlasError(ErrorCode.INVALID_QUERY_PARAM_LENGTH, key)
    query = params.get("query")
    if isinstance(query, str) and len(query) > FULLTEXT_QUERY_MAX_LENGTH:
        raise AtlasError(ErrorCode.INVALID_QUERY_LENGTH, "atlas.graph.fulltext-max-query-str-length")
    return params


def page(limit: int, offset: int, limits: Limits) -> tuple[int, int]:
    """QueryParams.getNormalizedParams: a limit out of (0, maxlimit] is the default limit, an offset below 0 is 0."""
    return (limit if 0 < limit <= limits.search_max_limit else limits.search_default_limit), max(offset, 0)


def normalize(params: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """DiscoveryREST's length checks and the page as Atlas normalises it (echoed so in searchParameters)."""
    normalize_lengths(params)
    limit, offset = params.get("limit", 0), params.get("offset", 0)
    if limit < 0 or offset < 0:
        raise _bad("Limit/offset should be non-negative")  # DiscoveryREST's own words
    if not 0 < limit <= limits.search_max_limit:
        limit = limits.search_default_limit
    return {**params, "limit": limit, "offset": offset}


# SearchParameters as Jackson writes it back: every field it has, Java's defaults for its primitives.
_ECHO_DEFAULTS: dict[str, Any] = {
    "excludeDeletedEntities": False, "includeClassificationAttributes": False, "includeSubTypes": True,
    "includeSubClassifications": True, "excludeHeaderAttributes": False, "limit": 0, "offset": 0}
_ECHO_FIELDS = frozenset({*_STRINGS, *_BOOLEANS, *_FILTERS, "limit", "offset", "sortOrder", "attributes"})


def echo(params: dict[str, Any]) -> dict[str, Any]:
    """The ``searchParameters`` of an AtlasSearchResult: the SearchParameters the search ran with."""
    return {**_ECHO_DEFAULTS, **{k: v for k, v in params.items() if k in _ECHO_FIELDS and v is not None}}


def _params_hash(params: dict[str, Any]) -> int:
    """SearchParameters.hashCode's role in a marker: the marker is only good for the same search (the marker
    itself aside). A CRC of the canonical JSON, as a signed 32-bit int like Java's."""
    same = {k: v for k, v in echo(params).items() if k != "marker"}
    crc = zlib.crc32(orjson.dumps(same, option=orjson.OPT_SORT_KEYS))
    return crc - 2**32 if crc >= 2**31 else crc


def encode_marker(params: dict[str, Any], next_offset: int) -> str:
    """SearchContext.MarkerUtil.getNextEncMarker: base64 of "hash:offset"."""
    return base64.b64encode(f"{_params_hash(params)}:{next_offset}".encode()).decode()


def decode_marker(params: dict[str, Any]) -> int:
    """SearchContext.MarkerUtil.decodeMarker: the offset a marker stands for (``*``: the first page)."""
    if params.get("offset"):
        raise _bad("Marker can be used only if offset=0.")
    marker = str(params.get("marker"))
    if marker == "*":
        return 0
    try:
        text = base64.b64decode(marker, validate=True).decode()
        hash_text, offset_text = text.split(":")
        offset = int(offset_text)
        if int(hash_text) != _params_hash(params) or offset < 0:
            raise ValueError(marker)
    except (ValueError, binascii.Error, UnicodeDecodeError) as e:
        raise _bad("Invalid marker!") from e  # Atlas's one answer to any marker it cannot use
    return offset
