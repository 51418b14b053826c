"""Basic search (GET/POST ``search/basic``) returning AtlasSearchResult."""

from __future__ import annotations

import operator
import re
import sqlite3
from collections.abc import Callable
from typing import Any, ClassVar

import orjson

from catalog.embedded.entity_read import ENTITY_COLS, EntityRow, header, relationship_refs_many
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import SEARCH_DEFAULT_LIMIT
from catalog.embedded.typesystem import TypeRegistry
from catalog.embedded.values import to_epoch_ms

OPERATOR_ALIASES = {
    "lt": "<", "gt": ">", "lte": "<=", "gte": ">=", "eq": "=", "neq": "!=", "<>": "!=",
    "begins_with": "startswith", "starts_with": "startswith", "ends_with": "endswith",
    "is_null": "isnull", "not_null": "notnull", "not_empty": "notempty", "not_contains": "not_contains",
    "contains_any": "containsany", "contains_all": "containsall", "time_range": "timerange",
}
SYSTEM_ATTRS = {
    "__guid": lambda e: e.guid,
    "__typeName": lambda e: e.type_name,
    "__state": lambda e: e.status,
    "__createdBy": lambda e: e.created_by,
    "__modifiedBy": lambda e: e.updated_by,
    "__timestamp": lambda e: e.create_time,
    "__modificationTimestamp": lambda e: e.update_time,
}


class _NoType:
    rel_attrs: ClassVar[dict[str, Any]] = {}


_NO_TYPE = _NoType()


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


# Every operator _match knows, in canonical form (see canonical_operator).
OPERATORS = frozenset({"isnull", "notnull", "notempty", *_LIST_MATCHERS, *_SCALAR_MATCHERS, *_TEXT_MATCHERS,
                       *_COMPARISONS})


def canonical_operator(op: str) -> str:
    """One spelling per operator: every symbol of Atlas's SearchParameters.Operator, case-insensitively."""
    op = op.strip().lower()
    return OPERATOR_ALIASES.get(op, op)


def _match(op: str, actual: Any, expected: Any) -> bool:
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


def _value_of(e: EntityRow, attr: str) -> Any:
    if attr in SYSTEM_ATTRS:
        return SYSTEM_ATTRS[attr](e)
    return e.attributes.get(attr)


def _filter_ok(e: EntityRow, crit: dict[str, Any] | None) -> bool:
    if not crit:
        return True
    sub = crit.get("criterion")
    if sub:
        cond = str(crit.get("condition") or "AND").upper()
        results = (_filter_ok(e, c) for c in sub)
        return any(results) if cond == "OR" else all(results)
    name = crit.get("attributeName")
    if not name:
        return True
    return _match(str(crit.get("operator") or "="), _value_of(e, str(name)), crit.get("attributeValue"))


def _pushdown(crit: Any) -> tuple[list[str], list[Any]]:
    """SQL for indexed qualifiedName/name criteria at the top level of an AND (the rest is checked in Python)."""
    if not isinstance(crit, dict):
        return [], []
    if crit.get("criterion"):
        if str(crit.get("condition") or "AND").upper() != "AND":
            return [], []
        where: list[str] = []
        args: list[Any] = []
        for c in crit["criterion"]:
            w, a = _pushdown(c)
            where.extend(w)
            args.extend(a)
        return where, args
    column = {"qualifiedName": "e.qualified_name", "name": "e.name"}.get(str(crit.get("attributeName")))
    op = OPERATOR_ALIASES.get(str(crit.get("operator") or "").lower(), str(crit.get("operator") or "").lower())
    value = crit.get("attributeValue")
    if column is None:
        return [], []
    if op == "=" and isinstance(value, str):
        return [f"{column} = ?"], [value]
    if op == "in":
        values = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
        values = [str(v) for v in values][:900]
        if values:
            return [f"{column} IN ({','.join('?' * len(values))})"], values
    if op == "startswith" and isinstance(value, str) and value:
        # Range scan on the index; the exact (case-insensitive) check still runs in Python.
        low = value.lower()
        return [f"lower({column}) >= ? AND lower({column}) < ?"], [low, low + "\U0010ffff"]
    return [], []


def _fully_pushed(crit: Any) -> bool:
    """Whether SQL alone decides the filter (exact equality / IN on qualifiedName or name), so the per-row
    Python check can be skipped (it is O(values) per row for IN)."""
    if not isinstance(crit, dict):
        return False
    if crit.get("criterion"):
        return str(crit.get("condition") or "AND").upper() == "AND" and all(
            _fully_pushed(c) for c in crit["criterion"])
    if str(crit.get("attributeName")) not in ("qualifiedName", "name"):
        return False
    op = OPERATOR_ALIASES.get(str(crit.get("operator") or "").lower(), str(crit.get("operator") or "").lower())
    value = crit.get("attributeValue")
    if op == "=":
        return isinstance(value, str)
    return op == "in" and isinstance(value, list) and 0 < len(value) <= 900 and all(isinstance(v, str) for v in value)


def _text_match(e: EntityRow, text: str) -> bool:
    for v in e.attributes.values():
        if isinstance(v, str) and text in v.lower():
            return True
        if isinstance(v, list) and any(isinstance(x, str) and text in x.lower() for x in v):
            return True
    return False


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (0, 0)
    if isinstance(v, bool | int | float):
        return (1, v)
    return (2, str(v).lower())


def _page(params: dict[str, Any]) -> tuple[int, int]:
    """(limit, offset): the route has checked and normalised them (search_params.normalize)."""
    limit = params.get("limit")
    offset = params.get("offset")
    return (limit if isinstance(limit, int) and limit > 0 else SEARCH_DEFAULT_LIMIT,
            offset if isinstance(offset, int) and offset > 0 else 0)


def _entity_types(registry: TypeRegistry, type_name: Any, include_sub: Any) -> list[str]:
    """The entity types a ``typeName`` (comma-separated) selects, sorted; unknown or non-entity types fail."""
    types: set[str] = set()
    for n in (t.strip() for t in str(type_name).split(",")):
        if not n:
            continue
        t = registry.get(n)
        if t is None or t.category != "ENTITY":
            raise AtlasError(ErrorCode.TYPE_NAME_NOT_FOUND, n)
        types |= t.type_and_sub_types if include_sub is None or include_sub else {n}
    return sorted(types)


def _classification_clause(registry: TypeRegistry, classification: Any, include_sub: Any) -> tuple[str, list[str]]:
    if classification == "_NOT_CLASSIFIED":
        return "NOT EXISTS (SELECT 1 FROM classification c WHERE c.entity_guid = e.guid)", []
    if classification in ("_CLASSIFIED", "*"):
        return "EXISTS (SELECT 1 FROM classification c WHERE c.entity_guid = e.guid)", []
    ct = registry.get(str(classification))
    if ct is None or ct.category != "CLASSIFICATION":
        raise AtlasError(ErrorCode.CLASSIFICATION_NOT_FOUND, classification)
    ctypes = sorted(ct.type_and_sub_types if include_sub is None or include_sub else {ct.name})
    return ("EXISTS (SELECT 1 FROM classification c WHERE c.entity_guid = e.guid AND "
            f"c.type_name IN ({','.join('?' * len(ctypes))}))"), ctypes


def _where(registry: TypeRegistry, params: dict[str, Any], text: str) -> tuple[list[str], list[Any]]:
    """The SQL conditions (and their arguments) for the type, state, classification, pushed-down entity filters
    and full-text parts of the search."""
    type_name = params.get("typeName")
    classification = params.get("classification")
    where_pushed, args_pushed = _pushdown(params.get("entityFilters"))
    # "+" keeps SQLite off the type/status index when an indexed qualifiedName/name criterion is pushed down
    # (a type IN (...) scan over every table would otherwise be chosen).
    plus = "+" if where_pushed else ""
    where: list[str] = []
    args: list[Any] = []
    if type_name and type_name not in ("_ALL_ENTITY_TYPES", "Referenceable"):
        types = _entity_types(registry, type_name, params.get("includeSubTypes"))
        where.append(f"{plus}e.type_name IN ({','.join('?' * len(types))})")
        args.extend(types)
    if bool(params.get("excludeDeletedEntities")):  # SearchParameters.excludeDeletedEntities: a Java boolean
        where.append(f"{plus}e.status = 'ACTIVE'")
    if classification:
        clause, ctypes = _classification_clause(registry, classification, params.get("includeSubClassifications"))
        where.append(clause)
        args.extend(ctypes)
    where.extend(where_pushed)
    args.extend(args_pushed)
    if text:
        # Atlas's basic-search query is a full-text match over the entity's string attributes.
        where.append("instr(lower(e.body), ?) > 0")
        args.append(text)
    return where, args


_SQL_SORTABLE = ("name", "qualifiedName")  # sortBy values SQL orders by (indexed columns)
_SELECT_ENTITIES = f"SELECT {', '.join('e.' + c.strip() for c in ENTITY_COLS.split(','))} FROM entity e"


def _select(where: list[str], sort_by: Any, desc: bool) -> str:
    sql = _SELECT_ENTITIES
    if where:
        sql += " WHERE " + " AND ".join(where)
    if sort_by in _SQL_SORTABLE:
        sql += f" ORDER BY e.{'name' if sort_by == 'name' else 'qualified_name'} {'DESC' if desc else 'ASC'}"
    else:
        sql += " ORDER BY e.create_time, e.rowid"
    return sql


def _matching_page(rows: Any, entity_filters: Any, text: str, sort_by: Any, desc: bool, limit: int,
                   offset: int) -> tuple[list[EntityRow], int]:
    """(the requested page of matching entities, how many match) from the SQL rows; sorts in Python when
    ``sortBy`` names an attribute SQL does not order by."""
    matched: list[EntityRow] = []
    total = 0
    sort_in_python = bool(sort_by) and sort_by not in _SQL_SORTABLE
    candidates: list[EntityRow] = []
    for row in rows:
        e = EntityRow.from_row(row)
        if not _filter_ok(e, entity_filters) or (text and not _text_match(e, text)):
            continue
        if sort_in_python:
            candidates.append(e)
        elif total >= offset and len(matched) < limit:
            matched.append(e)
        total += 1
    if sort_in_python:
        candidates.sort(key=lambda x: _sort_key(_value_of(x, str(sort_by))), reverse=desc)
        matched = candidates[offset : offset + limit]
    return matched, total


def _entity_headers(conn: sqlite3.Connection, registry: TypeRegistry, matched: list[EntityRow],
                    attributes: Any) -> list[dict[str, Any]]:
    """AtlasEntityHeaders of ``matched``, with their classifications and the requested ``attributes``."""
    cls: dict[str, list[dict[str, Any]]] = {}
    guids = [e.guid for e in matched]
    marks = ",".join("?" * len(guids))
    for g, body in conn.execute(
            f"SELECT entity_guid, body FROM classification WHERE entity_guid IN ({marks})", guids):
        cls.setdefault(g, []).append(orjson.loads(body))
    attrs_wanted = [a for a in attributes or [] if isinstance(a, str)]
    entities = []
    rel_wanted = [a for a in attrs_wanted if any(a in (registry.get(e.type_name) or _NO_TYPE).rel_attrs
                                                 for e in matched)]
    refs = relationship_refs_many(conn, registry, matched, rel_wanted) if rel_wanted else {}
    for e in matched:
        h = header(registry, e, cls.get(e.guid))
        for a in attrs_wanted:
            if a in e.attributes:
                h["attributes"][a] = e.attributes[a]
        h["attributes"].update(refs.get(e.guid, {}))
        entities.append(h)
    return entities


def basic_search(conn: sqlite3.Connection, registry: TypeRegistry, params: dict[str, Any]) -> dict[str, Any]:
    type_name = params.get("typeName")
    classification = params.get("classification")
    query = params.get("query")
    if not (type_name or classification or query or params.get("termName")):
        raise AtlasError(ErrorCode.INVALID_SEARCH_PARAMS)
    limit, offset = _page(params)
    text = str(query or "").strip().strip("*").lower()
    where, args = _where(registry, params, text)
    sort_by = params.get("sortBy")
    desc = str(params.get("sortOrder") or "ASCENDING").upper() == "DESCENDING"
    entity_filters = None if _fully_pushed(params.get("entityFilters")) else params.get("entityFilters")
    matched, total = _matching_page(conn.execute(_select(where, sort_by, desc), args), entity_filters, text,
                                    sort_by, desc, limit, offset)
    result: dict[str, Any] = {
        "queryType": "BASIC",
        "searchParameters": {k: v for k, v in params.items() if v is not None},
        "approximateCount": total,
    }
    if query:
        result["queryText"] = query
    if type_name:
        result["type"] = type_name
    if classification:
        result["classification"] = classification
    if matched:
        result["entities"] = _entity_headers(conn, registry, matched, params.get("attributes"))
    return result
