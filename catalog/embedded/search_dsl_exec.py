"""A parsed DSL query (:mod:`search_dsl`) run over the embedded store, as Atlas's GremlinQueryComposer builds the
traversal and its TraversalBasedExecutor answers.

The source selects entities of a type and its subtypes, or carrying a classification (by that exact name, as
Atlas's ``classifiedAs`` step does; ``_CLASSIFIED``, ``_NOT_CLASSIFIED``), deleted ones included as in Atlas. A
comparison's value is read as the attribute's type reads it (numbers, booleans, dates as
``yyyy-MM-ddTHH:mm:ss.SSSZ`` or ``yyyy-MM-dd``); ``like`` takes ``*`` and ``?`` and matches the whole value;
``!=`` also matches an entity without the attribute; ``db.name`` reaches the entities of relationship attribute
``db``. The answer is an AtlasSearchResult of queryType DSL: ``entities`` (headers with classifications) or, for
``select``, ``attributes`` ``{name: [labels], values: [[...] per distinct row]}``; ``count()``/``max``/``min``/
``sum`` run over every match, not a page. A query without ``limit`` gets the request's limit and offset. What Atlas
reports as a semantic error is a 400 ``ATLAS-400-00-059`` with Atlas's own words as the reason.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from catalog.embedded.entity_read import (
    ENTITY_COLS,
    EntityRow,
    load_classifications,
    load_entities,
    relationship_values,
    relationships_of,
)
from catalog.embedded.search import (
    ALL_ENTITY_TYPES,
    CLASSIFIED,
    NOT_CLASSIFIED,
    TERM_ASSIGNMENT,
    TERM_TYPE,
    full_header,
)
from catalog.embedded.search_dsl import Compare, Cond, Expr, Has, HasTerm, IsA, Query, SelectItem, Value, invalid
from catalog.embedded.search_filters import SYSTEM_ATTRS, value_of
from catalog.embedded.typesystem import StructType, TypeRef, TypeRegistry

_NUMERIC = frozenset({"byte", "short", "int", "long", "float", "double", "biginteger", "bigdecimal"})
_SYSTEM_KINDS = {"__timestamp": "date", "__modificationTimestamp": "date", "__isIncomplete": "number"}
# GremlinQueryComposer.DSL_DATE_FORMAT: ISO8601_FORMAT and ISO8601_DATE_FORMAT, in UTC.
_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d")
_MISSING: tuple[Any, ...] = (None, [], {})

Pred = Callable[[EntityRow], bool]


class SemanticError(Exception):
    """What Atlas's ClauseValidator collects: the reason of the query's INVALID_DSL_QUERY."""


@dataclass(frozen=True)
class Attr:
    """An attribute a query names: ``name`` on the source (or, with ``relation``, on the entities of that
    relationship attribute); ``kind`` is string, number, date, boolean or ref (not primitive)."""

    name: str
    kind: str
    relation: str | None = None

    @property
    def primitive(self) -> bool:
        return self.kind != "ref"


@dataclass
class Run:
    """One query's view of the store: the registry, the source, and what it read so far."""

    conn: sqlite3.Connection
    registry: TypeRegistry
    query: Query
    context: StructType | None  # the type the query's attributes belong to
    source_tag: str | None = None  # a classification source: attributes are that classification's
    tag_cache: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    related_cache: dict[tuple[str, str], list[EntityRow]] = field(default_factory=dict)

    def names(self) -> set[str]:
        return {n for n in (self.query.source, self.query.alias) if n}

    def classifications(self, e: EntityRow) -> list[dict[str, Any]]:
        if e.guid not in self.tag_cache:
            self.tag_cache[e.guid] = load_classifications(self.conn, e.guid)
        return self.tag_cache[e.guid]

    def related(self, e: EntityRow, relation: str) -> list[EntityRow]:
        key = (e.guid, relation)
        if key not in self.related_cache:
            t = self.registry.get(e.type_name)
            pairs: list[Any] = []
            if t is not None and relation in t.rel_attrs:
                # out(label) walks every edge, a deleted relationship's too (its edge stays, marked DELETED)
                rels = relationships_of(self.conn, e.guid, active_only=False)
                others = load_entities(self.conn, list({r.end2 if r.end1 == e.guid else r.end1 for r in rels}))
                pairs = relationship_values(self.registry, t, e, rels, others).get(relation, [])
            self.related_cache[key] = [o for _, o in pairs]
        return self.related_cache[key]

    def raw(self, e: EntityRow, attr: Attr) -> list[Any]:
        """The attribute's value on ``e``; for ``db.name``, one value per related entity."""
        if attr.relation is not None:
            return [value_of(r, attr.name) for r in self.related(e, attr.relation)]
        if self.source_tag is not None and attr.name not in SYSTEM_ATTRS:
            for c in self.classifications(e):
                if c.get("typeName") == self.source_tag:
                    return [(c.get("attributes") or {}).get(attr.name)]
            return [None]
        return [value_of(e, attr.name)]


# -- names ------------------------------------------------------------------------------------------------
def _kind(registry: TypeRegistry, ref: TypeRef) -> str:
    if ref.kind == "primitive":
        return "date" if ref.name == "date" else "number" if ref.name in _NUMERIC else (
            "boolean" if ref.name == "boolean" else "string")
    if ref.kind in ("array", "map") and ref.elem is not None:
        return _kind(registry, ref.elem)  # RegistryBasedLookup.isPrimitive: a collection of primitives is
    return "string" if registry.category_of(ref.name) == "ENUM" else "ref"


def _attr_kind(registry: TypeRegistry, t: StructType | None, name: str) -> str | None:
    if name in SYSTEM_ATTRS:
        return _SYSTEM_KINDS.get(name, "string")
    if t is None:
        return None
    a = t.attributes.get(name)
    if a is not None:
        return "ref" if name in t.rel_attrs else _kind(registry, a.type_ref)
    return "ref" if name in t.rel_attrs else None


def resolve(run: Run, path: str) -> Attr:
    """IdentifierHelper's reading of an attribute name: ``attr``, ``alias.attr``, ``relation.attr``."""
    parts = path.split(".")
    if len(parts) > 1 and parts[0] in run.names():
        parts = parts[1:]
    t = run.context
    type_name = t.name if t is not None else run.query.source
    if len(parts) == 1:
        kind = _attr_kind(run.registry, t, parts[0])
        if kind is None:
            raise SemanticError(f"DSL Semantic Error - {parts[0]} attribute not found for type {type_name}")
        return Attr(parts[0], kind)
    if len(parts) == 2 and t is not None and t.rel_attrs.get(parts[0]):
        end = t.rel_end(parts[0])
        other = run.registry.get(end.other_type) if end is not None else None
        kind = _attr_kind(run.registry, other, parts[1])
        if kind is None:
            raise SemanticError(f"DSL Semantic Error - {parts[1]} attribute not found for type "
                                f"{other.name if other else parts[0]}")
        return Attr(parts[1], kind, parts[0])
    raise SemanticError(f"DSL Semantic Error - Qualified name for {path} failed!")


# -- conditions -------------------------------------------------------------------------------------------
def _date(text: str) -> int:
    for fmt in _DATE_FORMATS:
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)  # epoch milliseconds, as the store returns dates
    raise SemanticError(f"DSL Semantic Error - Date format: {text}.")


def _operand(attr: Attr, v: Value) -> Any:
    """The value as the attribute's type reads it (GremlinQueryComposer.addWhere)."""
    if attr.kind == "date":
        return _date(v.text)
    if attr.kind == "number":
        try:
            number = float(v.text)
        except ValueError:
            raise SemanticError(f"DSL Semantic Error - {v.text} is not a number for {attr.name}") from None
        return int(number) if number.is_integer() else number
    if attr.kind == "boolean":
        return {"true": True, "false": False}.get(v.text.lower(), v.text)
    return v.text


def _like(pattern: str) -> re.Pattern[str]:
    """IdentifierHelper.getFixedRegEx: ``*`` any run, ``?`` one character, the rest literally."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def _scalar_test(op: str, expected: Any) -> Callable[[Any], bool]:
    if op == "like":
        regex = _like(str(expected))
        return lambda v: regex.fullmatch(str(v)) is not None
    if op == "in":
        return lambda v: v in expected
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: bool(a == b), "!=": lambda a, b: bool(a != b), "<": lambda a, b: bool(a < b),
        "<=": lambda a, b: bool(a <= b), ">": lambda a, b: bool(a > b), ">=": lambda a, b: bool(a >= b)}
    fn = compare[op]

    def test(v: Any) -> bool:
        try:
            return fn(v, expected)
        except TypeError:  # a value of another type: Gremlin's compare does not match either
            return False

    return test


def _compare(run: Run, c: Compare) -> Pred:
    attr = resolve(run, c.attr)
    if not attr.primitive:
        raise SemanticError(f"DSL Semantic Error - {c.attr} attribute not found for type {run.query.source}")
    expected: Any = ({_operand(attr, v) for v in c.value} if isinstance(c.value, tuple)
                     else _operand(attr, c.value))
    test = _scalar_test(c.op, expected)
    negated = c.op == "!="

    def one(raw: Any) -> bool:
        if raw in _MISSING:
            return negated  # HAS_NOT_OPERATOR: "or(has(p, neq(x)), hasNot(p))"
        return any(test(v) for v in raw) if isinstance(raw, list) else test(raw)

    return lambda e: any(one(raw) for raw in run.raw(e, attr))


def _subject(run: Run, subject: str | None) -> None:
    if subject is not None and subject not in run.names():
        raise SemanticError(f"DSL Semantic Error - {subject} type not found")


def _isa(run: Run, c: IsA) -> Pred:
    _subject(run, c.subject)
    if c.tag == CLASSIFIED:
        return lambda e: bool(run.classifications(e))
    if c.tag == NOT_CLASSIFIED:
        return lambda e: not run.classifications(e)
    t = run.registry.get(c.tag)
    if t is None or t.category != "CLASSIFICATION":
        raise SemanticError(f"DSL Semantic Error - {c.tag} classification not found")
    return lambda e: any(x.get("typeName") == c.tag for x in run.classifications(e))


def _has(run: Run, c: Has) -> Pred:
    _subject(run, c.subject)
    try:
        attr = resolve(run, c.attr)
    except SemanticError:
        attr = Attr(c.attr, "ref")
    if not attr.primitive or attr.relation is not None:
        raise SemanticError(f"DSL Semantic Error - Property needs to be a primitive type: {c.attr}")
    return lambda e: any(raw not in _MISSING for raw in run.raw(e, attr))


def _term_holders(run: Run, term: str) -> frozenset[str]:
    """The entities a glossary term is assigned to; a term with an '@' is its qualifiedName, else its name
    (GremlinQueryComposer.addHasTerm)."""
    column = "qualified_name" if "@" in term else "name"
    rows = run.conn.execute(
        "SELECT CASE WHEN r.end1 = t.guid THEN r.end2 ELSE r.end1 END FROM entity t JOIN relationship r "
        f"ON (r.end1 = t.guid OR r.end2 = t.guid) WHERE t.type_name = ? AND t.{column} = ? AND r.type_name = ? "
        "AND r.status = 'ACTIVE'", (TERM_TYPE, term, TERM_ASSIGNMENT)).fetchall()
    return frozenset(r[0] for r in rows)


def _hasterm(run: Run, c: HasTerm) -> Pred:
    _subject(run, c.subject)
    holders = _term_holders(run, c.term)
    return lambda e: e.guid in holders


def condition(run: Run, c: Cond) -> Pred:
    if isinstance(c, Expr):
        return expression(run, c)
    if isinstance(c, Compare):
        return _compare(run, c)
    if isinstance(c, IsA):
        return _isa(run, c)
    if isinstance(c, Has):
        return _has(run, c)
    return _hasterm(run, c)


def expression(run: Run, expr: Expr) -> Pred:
    """``a op b op c`` from the left, with equal precedence (DSLVisitor.processExprRight)."""
    first = condition(run, expr.first)
    rest = [(op, condition(run, c)) for op, c in expr.rest]

    def test(e: EntityRow) -> bool:
        result = first(e)
        for op, pred in rest:
            result = (result or pred(e)) if op == "OR" else (result and pred(e))
        return result

    return test


# -- source -----------------------------------------------------------------------------------------------
def _source(registry: TypeRegistry, q: Query) -> tuple[str, list[str], StructType | None, str | None]:
    """(SQL condition, its arguments, the attributes' type, the classification source) of ``q.source``."""
    if q.source == ALL_ENTITY_TYPES:
        return "", [], None, None
    if q.source == CLASSIFIED:
        return "EXISTS (SELECT 1 FROM entity_classification c WHERE c.entity_guid = e.guid)", [], None, None
    if q.source == NOT_CLASSIFIED:
        return "NOT EXISTS (SELECT 1 FROM entity_classification c WHERE c.entity_guid = e.guid)", [], None, None
    t = registry.get(q.source)
    if t is not None and t.category == "ENTITY":
        types = sorted(t.type_and_sub_types)
        return f"e.type_name IN ({','.join('?' * len(types))})", types, t, None
    if t is not None and t.category == "CLASSIFICATION":
        return ("EXISTS (SELECT 1 FROM entity_classification c WHERE c.entity_guid = e.guid AND c.type_name = ?)",
                [t.name], t, t.name)
    raise SemanticError(f"DSL Semantic Error - {q.source} type not found")


def _pushed(q: Query) -> tuple[list[str], list[Any]]:
    """SQL for ``qualifiedName``/``name`` equalities joined by ``and`` only, checked again in Python."""
    where: list[str] = []
    args: list[Any] = []
    for expr in q.filters:
        if any(op != "AND" for op, _ in expr.rest):
            continue
        for c in (expr.first, *(c for _, c in expr.rest)):
            column = {"qualifiedName": "e.qualified_name", "name": "e.name"}.get(
                c.attr if isinstance(c, Compare) else "")
            if isinstance(c, Compare) and column and c.op == "=" and isinstance(c.value, Value):
                where.append(f"{column} = ?")
                args.append(c.value.text)
    return where, args


def matches(run: Run) -> Iterator[EntityRow]:
    """Every entity the query selects, in creation order."""
    clause, args, _, _ = _source(run.registry, run.query)
    where, pushed_args = _pushed(run.query)
    conditions = ([clause] if clause else []) + where
    preds = [expression(run, f) for f in run.query.filters]
    sql = f"SELECT {', '.join('e.' + c.strip() for c in ENTITY_COLS.split(','))} FROM entity e"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    for row in run.conn.execute(sql + " ORDER BY e.create_time, e.rowid", [*args, *pushed_args]):
        e = EntityRow.from_row(row)
        if all(p(e) for p in preds):
            yield e


# -- answer -----------------------------------------------------------------------------------------------
def _sort_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, list):
        v = v[0] if v else None
    if v is None:
        return (0, 0)
    if isinstance(v, bool | int | float):
        return (1, v)
    return (2, str(v))


def _shown(raw: list[Any]) -> Any:
    """A select cell: the value, or "" when the entity has none (Atlas's INLINE_GET_PROPERTY)."""
    value = raw[0] if raw else None
    return "" if value is None else value


def _aggregate(run: Run, item: SelectItem, attr: Attr | None, group: list[EntityRow]) -> Any:
    if item.kind == "count":
        return len(group)
    assert attr is not None
    values = [v for e in group for v in run.raw(e, attr) if v not in _MISSING and not isinstance(v, list)]
    if item.kind == "sum":
        return float(sum(v for v in values if isinstance(v, int | float))) if attr.kind == "number" else 0
    if not values:
        return None
    pick = max if item.kind == "max" else min
    if attr.kind in ("number", "date"):
        return pick(values)
    return pick((str(v) for v in values), key=str.lower)  # SelectClauseProjections: CASE_INSENSITIVE_ORDER


def _select_attrs(run: Run, items: tuple[SelectItem, ...]) -> list[Attr | None]:
    attrs: list[Attr | None] = []
    for item in items:
        attr = resolve(run, item.attr) if item.attr is not None else None
        if item.kind != "attr" and item.kind != "count" and attr is not None and not attr.primitive:
            raise SemanticError(f"DSL Semantic Error - Select clause has aggregation on referred attributes "
                                f"{item.attr}")
        attrs.append(attr)
    referred = {a.relation or a.name for a, i in zip(attrs, items, strict=True)
                if a is not None and i.kind == "attr" and (a.relation or not a.primitive)}
    simple = [a for a, i in zip(attrs, items, strict=True) if i.kind == "attr" and a is not None and a.primitive
              and a.relation is None]
    if len(referred) > 1:
        raise SemanticError(f"DSL Semantic Error - Select clause has multiple referred attributes {len(referred)}")
    if referred and simple:
        raise SemanticError("DSL Semantic Error - Select clause has simple and referred attributes")
    return attrs


def _rows(run: Run, items: tuple[SelectItem, ...], attrs: list[Attr | None], group: list[EntityRow],
          scope: list[EntityRow]) -> list[list[Any]]:
    """One row per entity of ``scope`` (aggregates over ``group``), distinct rows in order."""
    seen: set[bytes] = set()
    rows: list[list[Any]] = []
    aggregates = {i: _aggregate(run, item, attr, group) for i, (item, attr) in enumerate(zip(items, attrs,
                                                                                               strict=True))
                  if item.kind != "attr"}
    for e in scope or group[:1]:
        row = [aggregates[i] if i in aggregates else _shown(run.raw(e, attr)) if attr is not None else ""
               for i, attr in enumerate(attrs)]
        key = repr(row).encode()
        if key not in seen:
            seen.add(key)
            rows.append(row)
    return rows


def _referred_rows(run: Run, items: tuple[SelectItem, ...], attrs: list[Attr | None], found: list[EntityRow],
                   page: slice) -> list[list[Any]]:
    """``select db`` / ``select db.name``: rows over the related entities (the traversal moves to them)."""
    relation = next(a.relation or a.name for a in attrs if a is not None)
    related: dict[str, EntityRow] = {}
    for e in found:
        for r in run.related(e, relation):
            related.setdefault(r.guid, r)
    rows = []
    for r in list(related.values())[page]:
        rows.append([full_header(run.conn, run.registry, r) if a is not None and a.relation is None
                     else _shown([value_of(r, a.name)]) if a is not None else "" for a in attrs])
    return rows


def _grouped(run: Run, found: list[EntityRow]) -> list[list[EntityRow]]:
    keys = [resolve(run, g) for g in run.query.groupby]
    for k, name in zip(keys, run.query.groupby, strict=True):
        if not k.primitive or k.relation is not None:
            raise SemanticError(f"DSL Semantic Error - GroupBy attribute {name} is non-primitive")
    groups: dict[str, list[EntityRow]] = {}
    for e in found:
        groups.setdefault(repr([_shown(run.raw(e, k)) for k in keys]), []).append(e)
    return list(groups.values())


def _selected(run: Run, found: list[EntityRow], page: slice) -> list[list[Any]]:
    q = run.query
    attrs = _select_attrs(run, q.select)
    if any(a is not None and i.kind == "attr" and (a.relation or not a.primitive)
           for a, i in zip(attrs, q.select, strict=True)):
        return _referred_rows(run, q.select, attrs, found, page)
    aggregated = any(i.kind != "attr" for i in q.select)
    if q.groupby:
        rows = [r for g in _grouped(run, found) for r in _rows(run, q.select, attrs, g, g)]
    elif aggregated:
        # GremlinQueryComposer.addLimit: no range at all once the select has an aggregate
        return _rows(run, q.select, attrs, found, found if any(i.kind == "attr" for i in q.select) else [])
    else:
        rows = _rows(run, q.select, attrs, found[page], found[page])
    if q.orderby is not None:
        labels = [i.attr for i in q.select]
        if q.orderby[0] in labels:
            col = labels.index(q.orderby[0])
            rows.sort(key=lambda r: _sort_key(r[col]), reverse=q.orderby[1])
    return rows[page] if q.groupby else rows


def _ordered(run: Run, found: list[EntityRow]) -> list[EntityRow]:
    if run.query.orderby is None:
        return found
    name, desc = run.query.orderby
    attr = resolve(run, name)
    if not attr.primitive or attr.relation is not None:
        raise SemanticError(f"DSL Semantic Error - OrderBy attribute {name} is non-primitive")
    return sorted(found, key=lambda e: _sort_key(run.raw(e, attr)[0]), reverse=desc)


def execute(conn: sqlite3.Connection, registry: TypeRegistry, text: str, q: Query, limit: int, offset: int
            ) -> dict[str, Any]:
    """The AtlasSearchResult of ``q`` (the query ``text`` parsed); ``limit``/``offset`` are the request's,
    normalised, used when the query has no limit clause of its own."""
    try:
        _, _, context, source_tag = _source(registry, q)
        run = Run(conn, registry, q, context, source_tag)
        found = _ordered(run, list(matches(run)))
        start, count = (q.offset, q.limit) if q.limit is not None else (offset, limit)
        page = slice(start, start + count)
        result: dict[str, Any] = {"queryType": "DSL", "queryText": text}
        if q.select:
            rows = _selected(run, found, page) if found else []
            if rows:
                result["attributes"] = {"name": [i.label for i in q.select], "values": rows}
        elif found[page]:
            result["entities"] = [full_header(conn, registry, e) for e in found[page]]
    except SemanticError as e:
        raise invalid(text, str(e)) from None
    result["approximateCount"] = -1  # TraversalBasedExecutor leaves AtlasSearchResult's default
    return result
