"""Searches over relationships: the entities related to one entity (``GET search/relationship``, the Atlas UI's
Relationships and Schema tabs) and the relationships of a type (``GET/POST search/relations``).

``search/relationship`` follows EntityDiscoveryService.searchRelatedEntities: ``relation`` is an attribute of the
entity's type (every relationshipDef behind it, as ``hive_column.table`` has two) or a relationship label; the
related entities come through relationships of any status (deleted ones too, as the graph keeps their edges)
and are sorted by ``sortBy`` (``name`` unless ``disableDefaultSorting``; an attribute the related type lacks leaves
them unsorted). ``search/relations`` follows RelationshipSearchProcessor: relationships of ``relationshipName``
(comma-separated, subtypes optional), ``relationshipFilters`` on their attributes, AtlasRelationshipHeaders.
"""

from __future__ import annotations

import sqlite3
from functools import partial
from typing import Any

from catalog.embedded import search_params
from catalog.embedded.entity_read import (
    REL_COLS,
    EntityRow,
    RelRow,
    load_entities,
    load_entity,
)
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.search import full_header, plain_header
from catalog.embedded.search_filters import attribute_names, criteria_ok, has_filter
from catalog.embedded.typesystem import StructType, TypeRegistry

DEFAULT_SORT_ATTRIBUTE = "name"  # EntityDiscoveryService.DEFAULT_SORT_ATTRIBUTE_NAME
_RELATIONSHIP_SYSTEM_ATTRIBUTES = {"__guid": "guid", "__typeName": "type_name", "__state": "status",
                                   "__createdBy": "created_by", "__modifiedBy": "updated_by",
                                   "__timestamp": "create_time", "__modificationTimestamp": "update_time"}


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (0, 0)
    if isinstance(v, bool | int | float):
        return (1, v)
    return (2, str(v))


# -- search/relationship ----------------------------------------------------------------------------------
def _relations_of(t: StructType, relation: str) -> tuple[set[tuple[str, int]] | None, str | None]:
    """The (relationshipDef, side of the entity) pairs behind attribute ``relation`` and the related type; None
    when ``relation`` is no attribute (a label then). An attribute that is not a reference is Atlas's 400."""
    ends = t.rel_attrs.get(relation)
    if ends:
        return {(end.rel_type, end.side) for end in ends}, ends[0].other_type
    a = t.attributes.get(relation)
    if a is not None:
        raise AtlasError(ErrorCode.INVALID_RELATIONSHIP_ATTRIBUTE, relation, a.type_name)
    return None, None


def _related(conn: sqlite3.Connection, guid: str, pairs: set[tuple[str, int]] | None, label: str
             ) -> list[RelRow]:
    if pairs is None:
        rows = conn.execute(f"SELECT {REL_COLS} FROM relationship WHERE label = ? AND (end1 = ? OR end2 = ?)",
                            (label, guid, guid)).fetchall()
        return [RelRow.from_row(r) for r in rows]
    out: list[RelRow] = []
    for rel_type, side in sorted(pairs):
        column = "end1" if side == 1 else "end2"
        rows = conn.execute(f"SELECT {REL_COLS} FROM relationship WHERE type_name = ? AND {column} = ? "
                            "ORDER BY create_time, rowid", (rel_type, guid)).fetchall()
        out.extend(RelRow.from_row(r) for r in rows)
    return out


def _sort_attribute(registry: TypeRegistry, end_type: str | None, others: list[EntityRow], sort_by: str | None,
                    disable_default: bool) -> str | None:
    name = sort_by or (None if disable_default else DEFAULT_SORT_ATTRIBUTE)
    if name is None:
        return None
    types = [registry.get(end_type)] if end_type else [registry.get(o.type_name) for o in others[:1]]
    return name if types and types[0] is not None and name in types[0].attributes else None


def related_entities(conn: sqlite3.Connection, registry: TypeRegistry, guid: str | None, relation: str | None,
                     params: dict[str, Any]) -> dict[str, Any]:
    """AtlasSearchResult of queryType RELATIONSHIP: the entities related to ``guid`` through ``relation``."""
    if not guid or not relation:
        shown_guid, shown_relation = ("null" if v is None else v for v in (guid, relation))
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"guid: '{shown_guid}', relation: '{shown_relation}'")
    e = load_entity(conn, guid)
    if e is None:
        raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, guid)
    t = registry.get(e.type_name)
    if t is None:
        raise AtlasError(ErrorCode.INVALID_RELATIONSHIP_TYPE, e.type_name, guid)
    pairs, end_type = _relations_of(t, relation)
    rels = _related(conn, guid, pairs, relation)
    others_by_guid = load_entities(conn, list({r.end2 if r.end1 == guid else r.end1 for r in rels}))
    others = list({o.guid: o for r in rels
                   if (o := others_by_guid.get(r.end2 if r.end1 == guid else r.end1)) is not None}.values())
    if params.get("excludeDeletedEntities"):
        others = [o for o in others if o.status == "ACTIVE"]
    sort_by = _sort_attribute(registry, end_type, others, params.get("sortBy"),
                              bool(params.get("disableDefaultSorting")))
    if sort_by is not None:
        others.sort(key=lambda o: _sort_key(o.attributes.get(sort_by)),
                    reverse=str(params.get("sortOrder") or "ASCENDING").upper() == "DESCENDING")
    offset, limit = params["offset"], params["limit"]
    wanted = [a for a in params.get("attributes") or [] if isinstance(a, str)]
    entities = []
    for o in others[offset : offset + limit]:
        # the classifications themselves only when asked for (includeClassificationAttributes)
        h = (full_header if params.get("includeClassificationAttributes") else plain_header)(conn, registry, o)
        for a in wanted:
            if a in o.attributes:
                h["attributes"][a] = o.attributes[a]
        entities.append(h)
    count = len(others) if params.get("getApproximateCount") or (pairs is None and not rels) else -1
    # setEntities(resultList): an empty page is an empty list here, not an absent one; a label no edge carries is
    # answered with a count of 0 whatever getApproximateCount says
    return {"queryType": "RELATIONSHIP", "entities": entities, "approximateCount": count}


# -- search/relations -------------------------------------------------------------------------------------
def _relationship_types(registry: TypeRegistry, names: str) -> list[StructType]:
    known = [t for n in dict.fromkeys(x.strip() for x in names.split(",") if x.strip())
             if (t := registry.get(n)) is not None and t.category == "RELATIONSHIP"]
    if not known:
        raise AtlasError(ErrorCode.UNKNOWN_TYPENAME, names)
    return known


def _relationship_value(r: RelRow, name: str) -> Any:
    column = _RELATIONSHIP_SYSTEM_ATTRIBUTES.get(name)
    if column is not None:
        return getattr(r, column)
    return (r.body.get("attributes") or {}).get(name)


def _relationship_header(r: RelRow, ends: dict[str, EntityRow]) -> dict[str, Any]:
    """AtlasRelationshipHeader (with its attributes, as mapEdgeToAtlasRelationshipHeader gives them)."""
    def end(guid: str) -> dict[str, Any]:
        e = ends.get(guid)
        out: dict[str, Any] = {"guid": guid}
        if e is not None:
            out["typeName"] = e.type_name
            if e.attributes.get("qualifiedName") is not None:
                out["uniqueAttributes"] = {"qualifiedName": e.attributes["qualifiedName"]}
        return out

    return {"typeName": r.type_name, "attributes": r.body.get("attributes") or {}, "guid": r.guid,
            "status": r.status, "label": r.label, "propagateTags": r.body.get("propagateTags", "NONE"),
            "end1": end(r.end1), "end2": end(r.end2)}


def relations(conn: sqlite3.Connection, registry: TypeRegistry, params: dict[str, Any]) -> dict[str, Any]:
    """AtlasSearchResult with ``relations``: the relationships of ``relationshipName``."""
    result: dict[str, Any] = {"queryType": "BASIC", "searchParameters": search_params.echo(params),
                              "approximateCount": -1}
    name = params.get("relationshipName")
    filters = params.get("relationshipFilters")
    if not name and has_filter(filters):
        raise AtlasError(ErrorCode.BAD_REQUEST, "RelationshipFilters specified without Type name")
    if not name:
        return result  # SearchContext.needRelationshipProcessor: nothing to search
    types = _relationship_types(registry, str(name))
    for t in types:
        for attr in attribute_names(filters):
            if attr not in t.attributes and attr not in _RELATIONSHIP_SYSTEM_ATTRIBUTES:
                raise AtlasError(ErrorCode.UNKNOWN_ATTRIBUTE, attr, t.name)
    names = sorted({n for t in types for n in (t.type_and_sub_types if params.get("includeSubTypes") else
                                               {t.name})})
    rows = conn.execute(f"SELECT {REL_COLS} FROM relationship WHERE type_name IN ({','.join('?' * len(names))}) "
                        "ORDER BY create_time, rowid", names).fetchall()
    found = [r for r in map(RelRow.from_row, rows)
             if criteria_ok(partial(_relationship_value, r), filters)]
    sort_by = params.get("sortBy")
    if sort_by and sort_by in types[0].attributes:
        found.sort(key=lambda r: _sort_key(_relationship_value(r, str(sort_by))),
                   reverse=str(params.get("sortOrder") or "ASCENDING").upper() == "DESCENDING")
    limit, offset = params["limit"], params.get("offset", 0)
    start = search_params.decode_marker(params) if params.get("marker") else offset
    page = found[start : start + limit]
    ends = load_entities(conn, list({g for r in page for g in (r.end1, r.end2)}))
    result["relations"] = [_relationship_header(r, ends) for r in page]
    result["approximateCount"] = len(found)
    if params.get("marker"):
        more = start + limit < len(found)
        result["nextMarker"] = search_params.encode_marker(params, start + len(page)) if more else "-1"
    return result


def relations_body(body: Any) -> dict[str, Any]:
    """RelationshipSearchParameters of a POST body, typed as Jackson reads them."""
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be RelationshipSearchParameters")
    params = search_params.from_body({k: v for k, v in body.items() if k in (
        "relationshipName", "relationshipFilters", "includeSubTypes", "limit", "offset", "sortBy", "sortOrder",
        "marker")})
    params.setdefault("includeSubTypes", False)
    return params

