"""Atlas's search filters (``SearchParameters.FilterCriteria``) evaluated on stored entities and classifications.

One criterion is ``{attributeName, operator, attributeValue}``, a group is ``{condition: AND|OR, criterion: [...]}``.
The operators are those of ``SearchParameters.Operator`` in any of their spellings. System attributes (``__guid``,
``__state``, ``__timestamp``...) read the entity's own columns, as Atlas reads the vertex properties of the same
names. Indexed ``qualifiedName``/``name`` criteria at the top of an AND group, and OR groups of equalities on one of
them (how a client asks for many names: attributeValue is one String), are also turned into SQL (:func:`pushdown`),
so a search by name does not read every entity of a type.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from catalog.embedded.entity_read import EntityRow
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.values import to_epoch_ms

OPERATOR_ALIASES = {
    "lt": "<", "gt": ">", "lte": "<=", "gte": ">=", "eq": "=", "neq": "!=", "<>": "!=",
    "begins_with": "startswith", "starts_with": "startswith", "ends_with": "endswith",
    "is_null": "isnull", "not_null": "notnull", "not_empty": "notempty", "not_contains": "not_contains",
    "contains_any": "containsany", "contains_all": "containsall", "time_range": "timerange",
}
# System attributes of an entity (AtlasEntityType's __ENTITY_ROOT), read from the stored row.
SYSTEM_ATTRS: dict[str, Callable[[EntityRow], Any]] = {
    "__guid": lambda e: e.guid,
    "__typeName": lambda e: e.type_name,
    "__state": lambda e: e.status,
    "__createdBy": lambda e: e.created_by,
    "__modifiedBy": lambda e: e.updated_by,
    "__timestamp": lambda e: e.create_time,
    "__modificationTimestamp": lambda e: e.update_time,
    "__labels": lambda e: list(e.body.get("labels") or []),
    "__isIncomplete": lambda e: 1 if e.body.get("isIncomplete") else 0,
    "__customAttributes": lambda e: e.body.get("customAttributes"),
}
# Every system attribute name Atlas's __ENTITY_ROOT defines: a filter on any of them is valid.
ENTITY_SYSTEM_ATTRIBUTES = frozenset({
    *SYSTEM_ATTRS, "__historicalGuids", "__classificationsText", "__classificationNames",
    "__propagatedClassificationNames", "__pendingTasks"})
# Atlas's __CLASSIFICATION_ROOT: the system attributes a tagFilter may name.
CLASSIFICATION_SYSTEM_ATTRIBUTES = frozenset({
    "__typeName", "__timestamp", "__modificationTimestamp", "__modifiedBy", "__createdBy", "__entityStatus"})
# Operators that need no attributeValue (DiscoveryREST.requiresValue).
VALUELESS_OPERATORS = frozenset({"isnull", "notnull"})


def _coerce(actual: Any, expected: Any) -> tuple[Any, Any]:
    if isinstance(actual, bool):
        return actual, str(expected).lower() == "true"
    if isinstance(actual, int | float):
        try:
            return actual, float(expected)
        except (TypeError, ValueError):
            try:
                return actual, to_epoch_ms(expected)
            except ValueError:
                return str(actual), str(expected)
    return ("" if actual is None else str(actual)), ("" if expected is None else str(expected))


_EMPTY_VALUES: tuple[Any, ...] = (None, "", [], {})  # what isnull / notnull / notempty test for


def _listed(expected: Any) -> list[str]:
    """The values of a list operand: a JSON list, or a comma-separated string."""
    return [str(w) for w in expected] if isinstance(expected, list) else [w.strip() for w in str(expected).split(",")]


def _list_contains_any(items: list[str], expected: Any) -> bool:
    return any(w in items for w in _listed(expected))


def _list_contains_all(items: list[str], expected: Any) -> bool:
    return all(w in items for w in _listed(expected))


def _list_has_item(items: list[str], expected: Any) -> bool:
    return str(expected) in items


def _list_has_substring(items: list[str], expected: Any) -> bool:
    return any(str(expected) in i for i in items)


def _list_lacks_substring(items: list[str], expected: Any) -> bool:
    return not _list_has_substring(items, expected)


# Operators on a list-valued attribute, compared item by item as strings; any other operator does not match.
_LIST_MATCHERS: dict[str, Callable[[list[str], Any], bool]] = {
    "containsany": _list_contains_any,
    "containsall": _list_contains_all,
    "=": _list_has_item,
    "contains": _list_has_substring,
    "not_contains": _list_lacks_substring,
}


def _in(actual: Any, expected: Any) -> bool:
    values = expected if isinstance(expected, list) else [v.strip() for v in str(expected).split(",")]
    return str(actual) in [str(v) for v in values]


def _time_range(actual: Any, expected: Any) -> bool:
    parts = str(expected).split(",")
    try:
        lo, hi = to_epoch_ms(parts[0]), to_epoch_ms(parts[1])
    except (ValueError, IndexError):
        return False
    return isinstance(actual, int | float) and lo <= actual <= hi


# Operators on a scalar attribute that take the raw operands.
_SCALAR_MATCHERS: dict[str, Callable[[Any, Any], bool]] = {"in": _in, "timerange": _time_range}


def _like(actual: str, pattern: str) -> bool:
    """``*`` matches any run of characters; the rest literally; the whole value."""
    regex = "^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$"
    return re.match(regex, actual) is not None


# Case-insensitive string operators: (lower-cased actual, lower-cased expected) -> bool.
_TEXT_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "like": _like,
    "startswith": str.startswith,
    "endswith": str.endswith,
    "contains": lambda sa, sb: sb in sa,
    "not_contains": lambda sa, sb: sb not in sa,
}

# Comparisons on the operands as _coerce makes them comparable; a TypeError means no match.
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


# Every operator match() knows, in canonical form (see canonical_operator).
OPERATORS = frozenset({"isnull", "notnull", "notempty", *_LIST_MATCHERS, *_SCALAR_MATCHERS, *_TEXT_MATCHERS,
                       *_COMPARISONS})


def canonical_operator(op: str) -> str:
    """One spelling per operator: every symbol of Atlas's SearchParameters.Operator, case-insensitively."""
    op = op.strip().lower()
    return OPERATOR_ALIASES.get(op, op)


def match(op: str, actual: Any, expected: Any) -> bool:
    """Whether an attribute value ``actual`` satisfies ``op expected``."""
    op = canonical_operator(op)
    if op == "isnull":
        return actual in _EMPTY_VALUES
    if op in ("notnull", "notempty"):
        return actual not in _EMPTY_VALUES
    if isinstance(actual, list):
        list_matcher = _LIST_MATCHERS.get(op)
        return list_matcher is not None and list_matcher([str(x) for x in actual], expected)
    scalar_matcher = _SCALAR_MATCHERS.get(op)
    if scalar_matcher is not None:
        return scalar_matcher(actual, expected)
    text_matcher = _TEXT_MATCHERS.get(op)
    if text_matcher is not None:
        return text_matcher(str(actual if actual is not None else "").lower(), str(expected).lower())
    compare = _COMPARISONS.get(op)
    if compare is None:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"unsupported filter operator {op}")
    a, b = _coerce(actual, expected)
    try:
        return bool(compare(a, b))
    except TypeError:
        return False


def business_attribute(body: dict[str, Any], name: str) -> Any:
    """``bm.attr``: the value of a business-metadata attribute, as Atlas's filters name it."""
    bm, _, attr = name.partition(".")
    values = (body.get("businessAttributes") or {}).get(bm)
    return values.get(attr) if isinstance(values, dict) else None


def value_of(e: EntityRow, attr: str) -> Any:
    """An entity's value for a filter, sort or select attribute (system attributes included)."""
    system = SYSTEM_ATTRS.get(attr)
    if system is not None:
        return system(e)
    if attr in e.attributes or "." not in attr:
        return e.attributes.get(attr)
    return business_attribute(e.body, attr)


def criteria_ok(value: Callable[[str], Any], crit: dict[str, Any] | None) -> bool:
    """Whether the values ``value(attributeName)`` satisfy a FilterCriteria (nested groups included); the nesting
    was bounded when the parameters were read (search_params.read_filter, limits.MAX_FILTER_DEPTH)."""
    if not crit:
        return True
    sub = crit.get("criterion")
    if not sub:
        name = crit.get("attributeName")
        return not name or match(str(crit.get("operator") or "="), value(str(name)), crit.get("attributeValue"))
    results = [criteria_ok(value, c) for c in sub]
    return any(results) if str(crit.get("condition") or "AND").upper() == "OR" else all(results)


def filter_ok(e: EntityRow, crit: dict[str, Any] | None) -> bool:
    return criteria_ok(lambda name: value_of(e, name), crit)


def attribute_names(crit: Any) -> list[str]:
    """Every attributeName a FilterCriteria names, nested groups included."""
    out: list[str] = []
    stack = [crit]
    while stack:
        c = stack.pop()
        if not isinstance(c, dict):
            continue
        if c.get("criterion"):
            stack.extend(c["criterion"])
        elif c.get("attributeName"):
            out.append(str(c["attributeName"]))
    return out


def has_filter(crit: Any) -> bool:
    """SearchContext.hasAttributeFilter: a criterion or a non-empty group."""
    return isinstance(crit, dict) and bool(crit.get("criterion") or crit.get("attributeName"))


# Attributes with an index of their own in the entity table (db.py: entity_qn, entity_name), and their columns.
INDEXED_COLUMNS = {"qualifiedName": "e.qualified_name", "name": "e.name"}
# Values one IN may bind: below the 999 variables of older SQLite builds, with room for the type list beside them.
MAX_SQL_VALUES = 900
_ALL_INDEXED = frozenset(INDEXED_COLUMNS)


def _condition(crit: dict[str, Any]) -> str:
    return str(crit.get("condition") or "AND").upper()


def _equals(crit: Any, attributes: frozenset[str]) -> tuple[str, str] | None:
    """(attribute, value) of an ``=`` criterion SQL answers exactly: an indexed attribute holding strings, a value
    that is not "" (which a missing value equals in :func:`match`, and NULL in SQL does not)."""
    if not isinstance(crit, dict) or crit.get("criterion"):
        return None
    name, value = str(crit.get("attributeName")), crit.get("attributeValue")
    if name not in attributes or canonical_operator(str(crit.get("operator") or "")) != "=":
        return None
    return (name, value) if isinstance(value, str) and value else None


def _any_of(crit: dict[str, Any], attributes: frozenset[str]) -> tuple[str, list[str]] | None:
    """(attribute, values) of an OR group of :func:`_equals` criteria all on one attribute: one IN."""
    members = crit.get("criterion")
    if _condition(crit) != "OR" or not isinstance(members, list) or not 0 < len(members) <= MAX_SQL_VALUES:
        return None
    pairs = [_equals(m, attributes) for m in members]
    names = {p[0] for p in pairs if p is not None}
    if None in pairs or len(names) != 1:
        return None
    return names.pop(), list(dict.fromkeys(p[1] for p in pairs if p is not None))


def pushdown(crit: Any, attributes: frozenset[str] = _ALL_INDEXED) -> tuple[list[str], list[Any]]:
    """SQL for criteria on the indexed ``attributes`` (those holding strings in every type searched) at the top
    level of an AND: an equality, an OR group of equalities on one attribute, ``in``, ``startsWith``. The rest is
    checked in Python."""
    if not isinstance(crit, dict):
        return [], []
    if crit.get("criterion"):
        group = _any_of(crit, attributes)
        if group is not None:
            name, values = group
            return [f"{INDEXED_COLUMNS[name]} IN ({','.join('?' * len(values))})"], values
        if _condition(crit) != "AND":
            return [], []
        where: list[str] = []
        args: list[Any] = []
        for c in crit["criterion"]:
            w, a = pushdown(c, attributes)
            where.extend(w)
            args.extend(a)
        return where, args
    equal = _equals(crit, attributes)
    if equal is not None:
        return [f"{INDEXED_COLUMNS[equal[0]]} = ?"], [equal[1]]
    name = str(crit.get("attributeName"))
    op = canonical_operator(str(crit.get("operator") or ""))
    value = crit.get("attributeValue")
    if name not in attributes or not isinstance(value, str):
        return [], []
    column = INDEXED_COLUMNS[name]
    if op == "in":
        # A pre-filter, match() still decides: it compares the text of any value, and a missing one is "None".
        values = list(dict.fromkeys(v.strip() for v in value.split(",")))
        if "None" in values or len(values) > MAX_SQL_VALUES:
            return [], []
        return [f"{column} IN ({','.join('?' * len(values))})"], values
    if op == "startswith" and value and value.isascii():
        # Range scan on the index; the exact (case-insensitive) check still runs in Python. SQLite's lower() folds
        # ASCII only: a prefix of other letters would miss their capitals.
        low = value.lower()
        return [f"lower({column}) >= ? AND lower({column}) < ?"], [low, low + "\U0010ffff"]
    return [], []


def fully_pushed(crit: Any, attributes: frozenset[str] = _ALL_INDEXED) -> bool:
    """Whether SQL alone decides the filter (equalities on indexed string attributes, alone, OR-combined on one
    attribute, or AND-combined), so the per-row Python check can be skipped."""
    if not isinstance(crit, dict):
        return False
    if crit.get("criterion"):
        if _any_of(crit, attributes) is not None:
            return True
        return _condition(crit) == "AND" and all(fully_pushed(c, attributes) for c in crit["criterion"])
    return _equals(crit, attributes) is not None
