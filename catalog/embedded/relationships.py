"""Relationship instances: POST/PUT/GET/DELETE ``relationship``.

A relationship created, or its ``propagateTags`` updated, moves classification propagations (:mod:`propagation`); one
deleted keeps them, as Atlas's soft delete does. ``propagatedClassifications`` lists what it passes on. A deleted
relationship stays readable (status DELETED) and on both its ends (:func:`entity_read.render_entity`); deleting it
again is Atlas's RELATIONSHIP_ALREADY_DELETED.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import orjson

from catalog.embedded import propagation
from catalog.embedded.entity_read import (
    REL_COLS,
    EntityRow,
    RelRow,
    find_by_unique,
    header,
    load_entity,
)
from catalog.embedded.entity_write import is_assigned_guid, now_ms
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.instance_checks import check_relationship
from catalog.embedded.typedefs import strip_nulls
from catalog.embedded.typesystem import TypeRegistry
from catalog.embedded.values import InvalidValue, ValueNormalizer


def _resolve_end(conn: sqlite3.Connection, registry: TypeRegistry, ref: Any, which: str) -> EntityRow:
    if not isinstance(ref, dict):
        raise AtlasError(ErrorCode.INVALID_OBJECT_ID, f"{which}: {ref!r}")
    guid = ref.get("guid")
    if isinstance(guid, str) and is_assigned_guid(guid):
        e = load_entity(conn, guid)
        if e is None:
            raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, guid)
        return e
    type_name = ref.get("typeName")
    uniq = ref.get("uniqueAttributes")
    if isinstance(type_name, str) and isinstance(uniq, dict) and uniq:
        found = find_by_unique(conn, registry, type_name, uniq)
        if found is None:
            raise AtlasError(ErrorCode.INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND, type_name, uniq)
        return found
    raise AtlasError(ErrorCode.INVALID_OBJECT_ID, f"{which}: {ref!r}")


def _rel_json(conn: sqlite3.Connection, r: RelRow, e1: EntityRow | None, e2: EntityRow | None) -> dict[str, Any]:
    def end(e: EntityRow | None, guid: str) -> dict[str, Any]:
        out: dict[str, Any] = {"guid": guid}
        if e is not None:
            out["typeName"] = e.type_name
            qn = e.attributes.get("qualifiedName")
            if qn is not None:
                out["uniqueAttributes"] = {"qualifiedName": qn}
        return out

    tags = str(r.body.get("propagateTags", propagation.NONE))
    return {
        "typeName": r.type_name,
        "attributes": r.body.get("attributes") or {},
        "guid": r.guid,
        # EntityGraphRetriever.mapSystemAttributes(edge) reads an absent provenanceType as 0; homeId, absent, is null
        "provenanceType": 0,
        "end1": end(e1, r.end1),
        "end2": end(e2, r.end2),
        "label": r.label,
        "propagateTags": tags,
        "status": r.status,
        "createdBy": r.created_by,
        "updatedBy": r.updated_by,
        "createTime": r.create_time,
        "updateTime": r.update_time,
        "version": r.version,
        "blockedPropagatedClassifications": [],
        "propagatedClassifications": propagation.propagated_through(conn, tags, r.end1, r.end2)
        if r.status == "ACTIVE" else [],
    }


def load_relationship(conn: sqlite3.Connection, guid: str) -> RelRow:
    row = conn.execute(f"SELECT {REL_COLS} FROM relationship WHERE guid = ?", (guid,)).fetchone()
    if row is None:
        raise AtlasError(ErrorCode.RELATIONSHIP_GUID_NOT_FOUND, guid)
    return RelRow.from_row(row)


def get_relationship(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, extended: bool
                     ) -> dict[str, Any]:
    r = load_relationship(conn, guid)
    e1, e2 = load_entity(conn, r.end1), load_entity(conn, r.end2)
    out: dict[str, Any] = {"relationship": _rel_json(conn, r, e1, e2)}
    if extended:
        out["referredEntities"] = {e.guid: header(registry, e) for e in (e1, e2) if e is not None}
    return out


def create_relationship(conn: sqlite3.Connection, registry: TypeRegistry, body: Any, user: str
                        ) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an AtlasRelationship")
    body = strip_nulls(body)
    check_relationship(body)
    type_name = body.get("typeName")
    rdef = registry.relationship_def(type_name) if isinstance(type_name, str) else None
    if rdef is None:
        raise AtlasError(ErrorCode.TYPE_NAME_NOT_FOUND, type_name)
    e1 = _resolve_end(conn, registry, body.get("end1"), "end1")
    e2 = _resolve_end(conn, registry, body.get("end2"), "end2")
    t1 = registry.entity_type(e1.type_name)
    t2 = registry.entity_type(e2.type_name)
    d1, d2 = rdef.get("endDef1") or {}, rdef.get("endDef2") or {}
    if not (t1.is_a(str(d1.get("type"))) and t2.is_a(str(d2.get("type")))):
        raise AtlasError(ErrorCode.INVALID_RELATIONSHIP_END_TYPE, type_name, e1.type_name, e2.type_name)
    dup = conn.execute("SELECT 1 FROM relationship WHERE type_name = ? AND end1 = ? AND end2 = ? "
                       "AND status = 'ACTIVE'", (type_name, e1.guid, e2.guid)).fetchone()
    if dup:
        raise AtlasError(ErrorCode.RELATIONSHIP_ALREADY_EXISTS, type_name, e1.guid, e2.guid)
    attrs = _attributes(registry, str(type_name), body.get("attributes") or {}, complete=True)
    now = now_ms()
    end = t1.rel_end(str(d1.get("name")), str(type_name))
    label = end.label if end is not None else f"r:{type_name}"
    tags = _propagate_tags(rdef, body.get("propagateTags"))
    rel_body = {"attributes": attrs, "propagateTags": tags, "label": label}
    guid = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO relationship(guid, type_name, label, end1, end2, status, body, create_time, update_time,"
        " version, created_by, updated_by) VALUES (?, ?, ?, ?, ?, 'ACTIVE', ?, ?, ?, 0, ?, ?)",
        (guid, type_name, label, e1.guid, e2.guid, orjson.dumps(rel_body).decode(), now, now, user, user),
    )
    propagation.relationships_created(conn, registry, [guid])
    return _rel_json(conn, load_relationship(conn, guid), e1, e2)


def _propagate_tags(rdef: dict[str, Any], given: Any) -> str:
    """The relationship's propagateTags: its type's unless given; one that does not propagate, or the type's, or any
    when the type's is BOTH (AtlasRelationshipStoreV2.validateRelationship's INVALID_PROPAGATION_TYPE)."""
    default = str(rdef.get("propagateTags") or propagation.NONE)
    if not given:
        return default
    if given != propagation.NONE and default != propagation.BOTH and given != default:
        raise AtlasError(ErrorCode.INVALID_PROPAGATION_TYPE, given, rdef["name"], default)
    return str(given)


def _attributes(registry: TypeRegistry, type_name: str, given: dict[str, Any], *, complete: bool
                ) -> dict[str, Any]:
    """The relationship type's attributes of ``given``, normalised (others dropped, as Atlas drops them);
    ``complete``: every mandatory attribute must be there."""
    rt = registry.get(type_name)
    if rt is None:
        raise AtlasError(ErrorCode.TYPE_NAME_NOT_FOUND, type_name)
    norm = ValueNormalizer(registry)
    attrs: dict[str, Any] = {}
    for name, a in rt.attributes.items():
        v = given.get(name)
        if v is None:
            if complete and not a.optional:
                raise AtlasError(ErrorCode.INSTANCE_CRUD_INVALID_PARAMS,
                                 f"{type_name}.{name}: mandatory attribute value missing in type {type_name}")
            continue
        try:
            attrs[name] = norm.normalize(v, a.type_ref, f"{type_name}.{name}")
        except InvalidValue as e:
            raise AtlasError(ErrorCode.INSTANCE_CRUD_INVALID_PARAMS, str(e)) from e
    return attrs


def update_relationship(conn: sqlite3.Connection, registry: TypeRegistry, body: Any, user: str
                        ) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an AtlasRelationship")
    body = strip_nulls(body)
    check_relationship(body)
    if not isinstance(body.get("guid"), str):
        raise AtlasError(ErrorCode.BAD_REQUEST, "relationship guid is required for update")
    r = load_relationship(conn, body["guid"])
    attrs = dict(r.body.get("attributes") or {})
    attrs.update(_attributes(registry, r.type_name, body.get("attributes") or {}, complete=False))
    r.body["attributes"] = attrs
    old_tags = str(r.body.get("propagateTags") or propagation.NONE)
    if body.get("propagateTags"):
        rdef = registry.relationship_def(r.type_name)
        r.body["propagateTags"] = _propagate_tags(rdef, body["propagateTags"]) if rdef else body["propagateTags"]
    conn.execute("UPDATE relationship SET body = ?, update_time = ?, updated_by = ?, version = version + 1 "
                 "WHERE guid = ?", (orjson.dumps(r.body).decode(), now_ms(), user, r.guid))
    if r.status == "ACTIVE":
        propagation.propagate_tags_changed(conn, registry, r.guid, r.end1, r.end2, old_tags,
                                           str(r.body["propagateTags"] or propagation.NONE))
    return get_relationship(conn, registry, r.guid, False)["relationship"]  # type: ignore[no-any-return]


def delete_relationship(conn: sqlite3.Connection, guid: str, user: str) -> None:
    """AtlasRelationshipStoreV2.deleteById with the soft delete handler: the relationship is marked DELETED (state,
    modification time and user; SoftDeleteHandlerV1.deleteEdge touches nothing else, not its version), and what was
    propagated through it stays. A deleted one is RELATIONSHIP_ALREADY_DELETED."""
    r = load_relationship(conn, guid)
    if r.status == "DELETED":
        raise AtlasError(ErrorCode.RELATIONSHIP_ALREADY_DELETED, guid)
    conn.execute("UPDATE relationship SET status = 'DELETED', update_time = ?, updated_by = ? WHERE guid = ?",
                 (now_ms(), user, guid))
