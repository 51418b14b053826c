"""Basic search (GET/POST ``search/basic``) answering AtlasSearchResult, as Atlas's SearchContext and its search
processors select, filter, page and echo.

What a search selects: ``typeName`` (comma-separated; ``_ALL_ENTITY_TYPES``; subtypes unless
``includeSubTypes=false``), ``classification`` (comma-separated; ``*``, ``_CLASSIFIED``, ``_ALL_CLASSIFICATION_TYPES``,
``_NOT_CLASSIFIED``, wildcard names such as ``PI*``; subtypes unless ``includeSubClassifications=false``),
``termName`` (the entities a glossary term is assigned to) and ``query`` (full text). Unknown names are dropped when
others are known and a 400 when none is (``ATLAS-400-00-00A``, ``-046``, ``-06E``); a filter, sortBy or result
``attributes`` entry naming an attribute the type does not have is a 400 ``ATLAS-400-00-023`` (relationship
attributes may be asked for as result attributes only). ``entityFilters`` apply to the entity,
``tagFilters`` to its classifications. Paging is by ``offset`` or by ``marker`` (``*`` for the first page, then the
``nextMarker`` of the previous answer; ``-1`` once the last page is sent).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import orjson

from catalog.embedded import search_params
from catalog.embedded.entity_read import (
    ENTITY_COLS,
    EntityRow,
    header,
    load_classifications,
    load_classifications_many,
    load_entities,
    load_meanings,
    relationship_refs_many,
)
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import SEARCH_DEFAULT_LIMIT
from catalog.embedded.search_filters import (
    CLASSIFICATION_SYSTEM_ATTRIBUTES,
    ENTITY_SYSTEM_ATTRIBUTES,
    INDEXED_COLUMNS,
    attribute_names,
    criteria_ok,
    filter_ok,
    fully_pushed,
    has_filter,
    pushdown,
    value_of,
)
from catalog.embedded.typesystem import StructType, TypeRegistry

ALL_ENTITY_TYPES = "_ALL_ENTITY_TYPES"
ALL_CLASSIFICATION_TYPES = "_ALL_CLASSIFICATION_TYPES"
CLASSIFIED = "_CLASSIFIED"
NOT_CLASSIFIED = "_NOT_CLASSIFIED"
WILDCARD = "*"
# Atlas's glossary model: a term is an AtlasGlossaryTerm entity, assigned to entities by this relationship.
TERM_TYPE = "AtlasGlossaryTerm"
TERM_ASSIGNMENT = "AtlasGlossarySemanticAssignment"
ENTITY_ROOT = "__ENTITY_ROOT"  # AtlasEntityType.ENTITY_ROOT: the type _ALL_ENTITY_TYPES stands for


class _NoType:
    rel_attrs: ClassVar[dict[str, Any]] = {}


_NO_TYPE = _NoType()


@dataclass(frozen=True)
class Tags:
    """The classification part of a search: ``mode`` is ``any`` (some classification), ``none`` (no
    classification) or ``types`` (a classification of one of ``names``)."""

    mode: str
    names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Scope:
    """What a search selects before its filters."""

    types: list[str] | None  # entity type names; None: every type
    tags: Tags | None
    term_guids: frozenset[str] | None  # the entities a glossary term is assigned to
    # the indexed attributes (search_filters.INDEXED_COLUMNS) SQL may compare: strings in every type selected
    sql_attributes: frozenset[str] = frozenset()


# -- selecting: types, classifications, term ------------------------------------------------------------
def _split(names: str) -> list[str]:
    return list(dict.fromkeys(n.strip() for n in names.split(",") if n.strip()))


def entity_types(registry: TypeRegistry, type_name: str) -> list[StructType] | None:
    """The entity types ``typeName`` names (None: ``_ALL_ENTITY_TYPES``, every type); unknown names are dropped,
    none known is SearchContext's 400 UNKNOWN_TYPENAME."""
    known: list[StructType] = []
    everything = False
    for n in _split(type_name):
        t = registry.get(n)
        if n == ALL_ENTITY_TYPES:
            everything = True
        elif t is not None and t.category == "ENTITY":
            known.append(t)
    if not known and not everything:
        raise AtlasError(ErrorCode.UNKNOWN_TYPENAME, type_name)
    return None if everything else known


def _wildcard_names(registry: TypeRegistry, pattern: str) -> set[str]:
    regex = re.compile(".*".join(re.escape(p) for p in pattern.split(WILDCARD)))
    return {n for n, t in registry.types.items() if t.category == "CLASSIFICATION" and regex.fullmatch(n)}


def _tags(registry: TypeRegistry, classification: str, include_sub: bool, tag_filters: Any
          ) -> tuple[Tags, list[tuple[StructType | None, str]]]:
    """The classification selection and the classification types a tagFilter may name, with the name an error
    gives them (None: a type with system attributes only). Unknown names are dropped; none known is
    SearchContext's 400 UNKNOWN_CLASSIFICATION."""
    names: set[str] = set()
    checked: list[tuple[StructType | None, str]] = []
    mode = "types"
    known = 0
    for n in _split(classification):
        t = registry.get(n)
        if n == NOT_CLASSIFIED:
            mode, known = "none", known + 1
        elif n in (WILDCARD, CLASSIFIED, ALL_CLASSIFICATION_TYPES):
            mode = mode if mode == "none" else "any"
            known += 1
            checked.append((None, n))
        elif t is not None and t.category == "CLASSIFICATION":
            names |= t.type_and_sub_types if include_sub else {n}
            known += 1
            checked.append((t, n))
        elif WILDCARD in n:
            if has_filter(tag_filters):
                raise AtlasError(ErrorCode.BAD_REQUEST, "TagFilters specified with wildcard tag name")
            names |= _wildcard_names(registry, n)
            known += 1
    if not known:
        raise AtlasError(ErrorCode.UNKNOWN_CLASSIFICATION, classification)
    return Tags(mode, frozenset(names)), checked


def _term_entities(conn: sqlite3.Connection, term_name: str, exclude_deleted: bool) -> frozenset[str]:
    """The entities the ACTIVE glossary term with this qualifiedName is assigned to (SearchContext's term lookup);
    no such term is a 400 UNKNOWN_GLOSSARY_TERM."""
    row = conn.execute("SELECT guid FROM entity WHERE type_name = ? AND qualified_name = ? AND status = 'ACTIVE'",
                       (TERM_TYPE, term_name)).fetchone()
    if row is None:
        raise AtlasError(ErrorCode.UNKNOWN_GLOSSARY_TERM, term_name)
    state = " AND e.status = 'ACTIVE'" if exclude_deleted else ""
    rows = conn.execute(
        "SELECT e.guid FROM relationship r JOIN entity e ON e.guid = CASE WHEN r.end1 = ? THEN r.end2 ELSE r.end1 END "
        f"WHERE r.type_name = ? AND r.status = 'ACTIVE' AND (r.end1 = ? OR r.end2 = ?){state}",
        (row[0], TERM_ASSIGNMENT, row[0], row[0])).fetchall()
    return frozenset(r[0] for r in rows)


def _check_attributes(registry: TypeRegistry, t: StructType | None, names: list[str], type_label: str,
                      entity: bool) -> None:
    """SearchContext.validateAttributes: each name an attribute of the type (``bm.attr`` for business metadata on
    an entity type) or one of the root type's system attributes; else a 400 UNKNOWN_ATTRIBUTE."""
    system = ENTITY_SYSTEM_ATTRIBUTES if entity else CLASSIFICATION_SYSTEM_ATTRIBUTES
    for name in names:
        if name in system or (t is not None and (name in t.attributes or
                                                 (entity and _is_business_attribute(registry, t, name)))):
            continue
        raise AtlasError(ErrorCode.UNKNOWN_ATTRIBUTE, name, t.name if t is not None else type_label)


def _is_business_attribute(registry: TypeRegistry, t: StructType | None, name: str) -> bool:
    """``bm.attr`` of business metadata applicable to entity type ``t`` (AtlasEntityType.getBusinessAttribute), or
    of any business metadata on the root type (None: AtlasRootEntityType's)."""
    bm, _, attr = name.partition(".")
    if t is not None:
        return attr in registry.business_attributes(t.name).get(bm, {})
    raw = registry.raw_def(bm)
    return raw is not None and raw.get("category") == "BUSINESS_METADATA" and any(
        isinstance(a, dict) and a.get("name") == attr for a in raw.get("attributeDefs") or [])


def _check_result_attributes(registry: TypeRegistry, selected: list[StructType] | None, attributes: Any) -> None:
    """SearchContext.validateAttributes(): each of the ``attributes`` an answer is to carry an attribute of the
    entity type searched (its own or inherited, a system or business attribute) or one of its relationship
    attributes; else a 400 UNKNOWN_ATTRIBUTE. Atlas checks one of the types named (the first its HashSet
    yields, an order no request controls), this store each of them in the order named, so what it accepts every
    Atlas accepts. ``_ALL_ENTITY_TYPES`` is the root type, which has system and business attributes only."""
    for t in selected if selected is not None else [None]:
        for name in attributes or []:
            if name in ENTITY_SYSTEM_ATTRIBUTES or _is_business_attribute(registry, t, name) or (
                    t is not None and (name in t.attributes or name in t.rel_attrs)):
                continue
            raise AtlasError(ErrorCode.UNKNOWN_ATTRIBUTE, name, t.name if t is not None else ENTITY_ROOT)


def _sql_attributes(registry: TypeRegistry, types: list[str] | None) -> frozenset[str]:
    """The indexed attributes that hold strings (or nothing) in every type searched. The columns keep a value's
    text, and match() compares other values as what they are (a number as a number, a list item by item)."""
    searched = [registry.get(n) for n in types] if types is not None else [
        t for t in registry.types.values() if t.category == "ENTITY"]
    return frozenset(a for a in INDEXED_COLUMNS if all(
        t is None or a not in t.attributes or t.attributes[a].type_name == "string" for t in searched))


def resolve_scope(conn: sqlite3.Connection, registry: TypeRegistry, params: dict[str, Any]) -> Scope:
    """SearchContext's constructor: the selected types, classifications and term, every filter checked."""
    type_name, classification = params.get("typeName"), params.get("classification")
    entity_filters, tag_filters = params.get("entityFilters"), params.get("tagFilters")
    if not type_name and has_filter(entity_filters):
        raise AtlasError(ErrorCode.BAD_REQUEST, "EntityFilters specified without Type name")
    if not classification and has_filter(tag_filters):
        raise AtlasError(ErrorCode.BAD_REQUEST, "TagFilters specified without tag name")
    if not (type_name or classification or params.get("query") or params.get("termName")):
        raise AtlasError(ErrorCode.INVALID_SEARCH_PARAMS)
    types: list[str] | None = None
    selected: list[StructType] | None = []
    if type_name:
        selected = entity_types(registry, str(type_name))
        sort_by = [str(params["sortBy"])] if params.get("sortBy") else []
        for t in selected if selected is not None else [None]:
            _check_attributes(registry, t, attribute_names(entity_filters) + sort_by, ALL_ENTITY_TYPES, True)
        if selected is not None:
            include_sub = params.get("includeSubTypes", True) is not False
            types = sorted({n for t in selected for n in (t.type_and_sub_types if include_sub else {t.name})})
    tags = None
    if classification:
        include_sub = params.get("includeSubClassifications", True) is not False
        tags, checked = _tags(registry, str(classification), include_sub, tag_filters)
        for ct, label in checked:
            _check_attributes(registry, ct, attribute_names(tag_filters), label, False)
    term_guids = None
    if params.get("termName"):
        term_guids = _term_entities(conn, str(params["termName"]), bool(params.get("excludeDeletedEntities")))
    if params.get("marker"):
        search_params.decode_marker(params)  # SearchContext reads the marker before the result attributes
    if type_name:
        _check_result_attributes(registry, selected, params.get("attributes"))
    return Scope(types, tags, term_guids, _sql_attributes(registry, types))


# -- matching ---------------------------------------------------------------------------------------------
def _tag_clause(tags: Tags) -> tuple[str, list[str]]:
    if tags.mode == "none":
        return "NOT EXISTS (SELECT 1 FROM entity_classification c WHERE c.entity_guid = e.guid)", []
    if tags.mode == "any":
        return "EXISTS (SELECT 1 FROM entity_classification c WHERE c.entity_guid = e.guid)", []
    names = sorted(tags.names)
    if not names:  # only wildcard names, and no classification type matches them
        return "0", []
    return ("EXISTS (SELECT 1 FROM entity_classification c WHERE c.entity_guid = e.guid AND "
            f"c.type_name IN ({','.join('?' * len(names))}))"), names


def _where(scope: Scope, params: dict[str, Any], text: str) -> tuple[list[str], list[Any]]:
    """The SQL conditions (and their arguments) for the types, state, classifications, pushed-down entity
    filters and full-text parts of the search."""
    where_pushed, args_pushed = pushdown(params.get("entityFilters"), scope.sql_attributes)
    # "+" keeps SQLite off the type/status index when an indexed qualifiedName/name criterion is pushed down
    # (a type IN (...) scan over every table would otherwise be chosen).
    plus = "+" if where_pushed else ""
    where: list[str] = []
    args: list[Any] = []
    if scope.types is not None:
        where.append(f"{plus}e.type_name IN ({','.join('?' * len(scope.types))})")
        args.extend(scope.types)
    if bool(params.get("excludeDeletedEntities")):  # SearchParameters.excludeDeletedEntities: a Java boolean
        where.append(f"{plus}e.status = 'ACTIVE'")
    if scope.tags is not None:
        clause, names = _tag_clause(scope.tags)
        where.append(clause)
        args.extend(names)
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


def _text_match(e: EntityRow, text: str) -> bool:
    for v in e.attributes.values():
        if isinstance(v, str) and text in v.lower():
            return True
        if isinstance(v, list) and any(isinstance(x, str) and text in x.lower() for x in v):
            return True
    return False


def _classification_value(c: dict[str, Any], name: str) -> Any:
    if name == "__typeName":
        return c.get("typeName")
    if name == "__entityStatus":
        return c.get("entityStatus", "ACTIVE")
    return (c.get("attributes") or {}).get(name)


def _tag_filter_ok(conn: sqlite3.Connection, e: EntityRow, tags: Tags, tag_filters: Any) -> bool:
    """Some classification of the selected types on ``e`` satisfies ``tagFilters``."""
    for type_name, body in conn.execute("SELECT type_name, body FROM entity_classification WHERE entity_guid = ?",
                                        (e.guid,)):
        if tags.mode == "types" and type_name not in tags.names:
            continue
        c: dict[str, Any] = orjson.loads(body)
        if criteria_ok(partial(_classification_value, c), tag_filters):
            return True
    return False


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (0, 0)
    if isinstance(v, bool | int | float):
        return (1, v)
    return (2, str(v).lower())


def matching(conn: sqlite3.Connection, scope: Scope, params: dict[str, Any]) -> Iterator[EntityRow]:
    """Every entity the search selects, in Atlas's order when ``sortBy`` names an indexed column (else in
    creation order: the caller sorts)."""
    text = str(params.get("query") or "").strip().strip("*").lower()
    where, args = _where(scope, params, text)
    sort_by = params.get("sortBy")
    desc = str(params.get("sortOrder") or "ASCENDING").upper() == "DESCENDING"
    entity_filters = params.get("entityFilters")
    if fully_pushed(entity_filters, scope.sql_attributes):
        entity_filters = None
    tag_filters = params.get("tagFilters") if scope.tags is not None and has_filter(params.get("tagFilters")) \
        else None
    for row in conn.execute(_select(where, sort_by, desc), args):
        e = EntityRow.from_row(row)
        if scope.term_guids is not None and e.guid not in scope.term_guids:
            continue
        if not filter_ok(e, entity_filters) or (text and not _text_match(e, text)):
            continue
        if tag_filters is not None and scope.tags is not None and not _tag_filter_ok(conn, e, scope.tags,
                                                                                    tag_filters):
            continue
        yield e


def ordered(conn: sqlite3.Connection, scope: Scope, params: dict[str, Any]) -> list[EntityRow]:
    """Every matching entity, sorted by ``sortBy`` (missing values first when ascending)."""
    found = list(matching(conn, scope, params))
    sort_by = params.get("sortBy")
    if sort_by and sort_by not in _SQL_SORTABLE:
        desc = str(params.get("sortOrder") or "ASCENDING").upper() == "DESCENDING"
        found.sort(key=lambda x: _sort_key(value_of(x, str(sort_by))), reverse=desc)
    return found


# -- answering -------------------------------------------------------------------------------------------
def full_header(conn: sqlite3.Connection, registry: TypeRegistry, e: EntityRow) -> dict[str, Any]:
    """The AtlasEntityHeader a search answers (EntityGraphRetriever.toAtlasEntityHeaderWithClassifications)."""
    return header(registry, e, load_classifications(conn, e.guid), load_meanings(conn, e.guid))


def plain_header(conn: sqlite3.Connection, registry: TypeRegistry, e: EntityRow) -> dict[str, Any]:
    """EntityGraphRetriever.toAtlasEntityHeader: classificationNames without the classifications themselves."""
    out = full_header(conn, registry, e)
    out.pop("classifications", None)
    return out


def entity_headers(conn: sqlite3.Connection, registry: TypeRegistry, matched: list[EntityRow],
                   attributes: Any) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """AtlasEntityHeaders of ``matched`` with their classifications and the requested ``attributes``, and the
    headers of the entities those attributes refer to (AtlasSearchResult.referredEntities)."""
    cls = load_classifications_many(conn, [e.guid for e in matched])  # own and propagated
    attrs_wanted = [a for a in attributes or [] if isinstance(a, str)]
    rel_wanted = [a for a in attrs_wanted if any(a in (registry.get(e.type_name) or _NO_TYPE).rel_attrs
                                                 for e in matched)]
    refs = relationship_refs_many(conn, registry, matched, rel_wanted) if rel_wanted else {}
    entities = []
    referred: set[str] = set()
    for e in matched:
        h = header(registry, e, cls.get(e.guid, []), load_meanings(conn, e.guid))
        for a in attrs_wanted:
            if a in e.attributes:
                h["attributes"][a] = e.attributes[a]
        for name, value in refs.get(e.guid, {}).items():
            h["attributes"][name] = value
            referred.update(v["guid"] for v in (value if isinstance(value, list) else [value]))
        entities.append(h)
    others = load_entities(conn, sorted(referred)) if referred else {}
    return entities, {g: plain_header(conn, registry, o) for g, o in others.items()}


def _page(params: dict[str, Any]) -> tuple[int, int]:
    """(limit, start): the route has checked and normalised them (search_params.normalize); a marker starts
    where the previous page ended."""
    limit = params.get("limit")
    offset = params.get("offset")
    limit = limit if isinstance(limit, int) and limit > 0 else SEARCH_DEFAULT_LIMIT
    offset = offset if isinstance(offset, int) and offset > 0 else 0
    if params.get("marker"):
        return limit, search_params.decode_marker(params)
    return limit, offset


def basic_search(conn: sqlite3.Connection, registry: TypeRegistry, params: dict[str, Any]) -> dict[str, Any]:
    scope = resolve_scope(conn, registry, params)
    limit, start = _page(params)
    found = ordered(conn, scope, params)
    page = found[start : start + limit]
    result: dict[str, Any] = {
        "queryType": "BASIC",
        "searchParameters": search_params.echo(params),
        "approximateCount": len(found),
    }
    if params.get("query"):  # AtlasSearchResult(SearchParameters): queryText, never type/classification
        result["queryText"] = params["query"]
    if page:
        result["entities"], referred = entity_headers(conn, registry, page, params.get("attributes"))
        if referred:
            result["referredEntities"] = referred
    if params.get("marker"):
        more = start + limit < len(found)
        result["nextMarker"] = search_params.encode_marker(params, start + len(page)) if more else "-1"
    return result
