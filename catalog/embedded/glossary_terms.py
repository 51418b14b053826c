"""Glossary terms (GlossaryREST ``glossary/term[s]``, ``GlossaryService`` and ``GlossaryTermUtils``): create, read,
update, delete, related terms, and the assignment of a term to entities.

A term's qualifiedName is ``name@glossaryQualifiedName``, fixed at creation and recomputed only when the term moves
to another glossary (a changed anchor). An update replaces the term's attributes and makes its related terms and
categories exactly those of the body (a relation the body leaves out is removed). Assigning a term to an entity is an
``AtlasGlossarySemanticAssignment`` relationship and a TERM_ADD audit event on the entity; a term still assigned
can not be deleted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from catalog.embedded import audit
from catalog.embedded import entity_read as er
from catalog.embedded import glossary_read as gr
from catalog.embedded.entity_read import EntityRow
from catalog.embedded.entity_write import EntityWriter, replace_attributes
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.instance_checks import OBJECT, OBJECT_LIST, STR, STR_LIST, Check, check_fields
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.typesystem import TypeRegistry

TERM_STATUS: Check = (lambda v: v in ("DRAFT", "ACTIVE", "DEPRECATED", "OBSOLETE", "OTHER"),
                      "one of DRAFT, ACTIVE, DEPRECATED, OBSOLETE, OTHER")  # AtlasTermRelationshipStatus
ASSIGNMENT_STATUS: Check = (
    lambda v: v in ("DISCOVERED", "PROPOSED", "IMPORTED", "VALIDATED", "DEPRECATED", "OBSOLETE", "OTHER"),
    "an AtlasTermAssignmentStatus")
FIELDS: dict[str, Check] = {
    "guid": STR, "qualifiedName": STR, "name": STR, "shortDescription": STR, "longDescription": STR,
    "examples": STR_LIST, "abbreviation": STR, "usage": STR, "additionalAttributes": OBJECT,
    "classifications": OBJECT_LIST, "anchor": OBJECT, "assignedEntities": OBJECT_LIST, "categories": OBJECT_LIST,
    **{attr: OBJECT_LIST for attr in gr.TERM_RELATIONS},
}
TERM_HEADER: dict[str, Check] = {"termGuid": STR, "relationGuid": STR, "displayText": STR, "description": STR,
                                 "expression": STR, "steward": STR, "source": STR, "status": TERM_STATUS,
                                 "qualifiedName": STR}
CATEGORY_HEADER: dict[str, Check] = {"categoryGuid": STR, "relationGuid": STR, "description": STR,
                                     "displayText": STR, "status": TERM_STATUS}
ANCHOR: dict[str, Check] = {"glossaryGuid": STR, "relationGuid": STR, "displayText": STR}
OBJECT_ID: dict[str, Check] = {"guid": STR, "typeName": STR, "uniqueAttributes": OBJECT, "relationshipGuid": STR,
                               "relationshipType": STR, "relationshipAttributes": OBJECT, "displayText": STR}
ATTRIBUTES = ("qualifiedName", "name", "shortDescription", "longDescription", "examples", "abbreviation", "usage",
              "additionalAttributes")
PARTIAL = ("name", "shortDescription", "longDescription", "abbreviation", "usage")  # AtlasGlossaryTerm.setAttribute


def parse(body: Any) -> dict[str, Any]:
    t = gr.check_body(body, FIELDS, "AtlasGlossaryTerm")
    if "anchor" in t:
        check_fields(t["anchor"], ANCHOR, "AtlasGlossaryTerm.anchor")
    for c in t.get("categories", []):
        check_fields(c, CATEGORY_HEADER, "AtlasGlossaryTerm.categories")
    for attr in gr.TERM_RELATIONS:
        for h in t.get(attr, []):
            check_fields(h, TERM_HEADER, f"AtlasGlossaryTerm.{attr}")
    return t


def _attributes(t: dict[str, Any], qualified_name: str) -> dict[str, Any]:
    return {**{k: t[k] for k in ATTRIBUTES if k in t}, "qualifiedName": qualified_name}


def _glossary_qn(conn: sqlite3.Connection, guid: Any) -> str:
    g = er.load_entity(conn, guid) if isinstance(guid, str) and guid else None
    qn = g.attributes.get("qualifiedName") if g is not None and g.type_name == gr.GLOSSARY else None
    if not qn:
        raise AtlasError(ErrorCode.GLOSSARY_QUALIFIED_NAME_CANT_BE_DERIVED)
    return str(qn)


# -- create, read --------------------------------------------------------------------------------------------------
def create(store: EmbeddedStore, body: Any, user: str) -> dict[str, Any]:
    t = parse(body)
    with store.db.write() as conn:
        guid = create_in(conn, store.registry, t, user)
        return gr.term_json(conn, store.registry, gr.require(conn, guid, gr.TERM))


def create_many(store: EmbeddedStore, body: Any, user: str) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be a list of AtlasGlossaryTerm")
    items = [parse(b) for b in body]
    if any("anchor" not in t for t in items):
        raise AtlasError(ErrorCode.MISSING_MANDATORY_ANCHOR)
    with store.db.write() as conn:
        guids = [create_in(conn, store.registry, t, user) for t in items]
        return [gr.term_json(conn, store.registry, gr.require(conn, g, gr.TERM)) for g in guids]


def create_in(conn: sqlite3.Connection, registry: TypeRegistry, t: dict[str, Any], user: str) -> str:
    """GlossaryService.createTerm inside the caller's transaction; returns the term's guid."""
    if "anchor" not in t:
        raise AtlasError(ErrorCode.MISSING_MANDATORY_ANCHOR)
    name = gr.check_name(t.get("name"), ErrorCode.GLOSSARY_TERM_QUALIFIED_NAME_CANT_BE_DERIVED)
    glossary_guid = t["anchor"].get("glossaryGuid")
    qn = f"{name}@{_glossary_qn(conn, glossary_guid)}"
    if gr.find(conn, gr.TERM, qn) is not None:
        raise AtlasError(ErrorCode.GLOSSARY_TERM_ALREADY_EXISTS, qn)
    w = EntityWriter(conn, registry, user)
    entity = {"typeName": gr.TERM, "attributes": _attributes(t, qn),
              "relationshipAttributes": {"anchor": {"guid": glossary_guid}}}
    if t.get("classifications"):
        entity["classifications"] = t["classifications"]
    w.create_or_update([entity], None, partial=False)
    guid = w.result.created[0]
    _sync_related(conn, registry, guid, {}, t, user)
    _sync_categories(conn, registry, guid, {}, t, user)
    return guid


def get(store: EmbeddedStore, guid: str) -> dict[str, Any]:
    conn = store.db.reader()
    return gr.term_json(conn, store.registry, gr.require(conn, guid, gr.TERM))


def related_terms(store: EmbeddedStore, guid: str) -> dict[str, Any]:
    """GET glossary/terms/{guid}/related: relation name -> related term headers (non-empty relations only)."""
    term = get(store, guid)
    return {attr: term[attr] for attr in gr.TERM_RELATIONS if term.get(attr)}


# -- update, delete ------------------------------------------------------------------------------------------------
def update(store: EmbeddedStore, guid: str, body: Any, user: str) -> dict[str, Any]:
    t = parse(body)
    name = t.get("name")
    if not name:
        raise AtlasError(ErrorCode.BAD_REQUEST, "DisplayName can't be null/empty")
    gr.check_name(name, ErrorCode.INVALID_DISPLAY_NAME)
    with store.db.write() as conn:
        _check_duplicates(conn, t)
        reg = store.registry
        stored = gr.require(conn, guid, gr.TERM)
        pairs = gr.related(conn, reg, stored)
        qn = str(stored.attributes.get("qualifiedName"))
        replace_attributes(conn, reg, guid, _attributes(t, qn), user)
        new_qn = _sync_anchor(conn, reg, guid, pairs, t, user) or qn
        _sync_related(conn, reg, guid, pairs, t, user)
        _sync_categories(conn, reg, guid, pairs, t, user)
        if new_qn != qn:
            if gr.find(conn, gr.TERM, new_qn) is not None:
                raise AtlasError(ErrorCode.GLOSSARY_TERM_ALREADY_EXISTS, new_qn)
            replace_attributes(conn, reg, guid, _attributes(t, new_qn), user)
        return gr.term_json(conn, reg, gr.require(conn, guid, gr.TERM))


def partial_update(store: EmbeddedStore, guid: str, changes: dict[str, Any], user: str) -> dict[str, Any]:
    term = get(store, guid)
    for key, value in changes.items():
        if key not in PARTIAL:
            # GlossaryREST passes these two the other way round for terms and categories
            raise AtlasError(ErrorCode.INVALID_PARTIAL_UPDATE_ATTR, "Glossary Term", key)
        term[key] = value
    return update(store, guid, term, user)


def delete(store: EmbeddedStore, guid: str, user: str) -> None:
    with store.db.write() as conn:
        delete_in(conn, store.registry, guid, user)


def delete_in(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, user: str) -> None:
    e = gr.require(conn, guid, gr.TERM)
    assigned = gr.related(conn, registry, e).get("assignedEntities", [])
    if assigned:
        raise AtlasError(ErrorCode.TERM_HAS_ENTITY_ASSOCIATION, guid, len(assigned))
    gr.hard_delete(conn, guid)


def _check_duplicates(conn: sqlite3.Connection, t: dict[str, Any]) -> None:
    """GlossaryService.getDuplicateGlossaryRelatedTerm: a term twice in one relation is a conflict."""
    for attr in gr.TERM_RELATIONS:
        seen: set[str] = set()
        for h in t.get(attr, []):
            g = h.get("termGuid")
            if g in seen:
                raise AtlasError(ErrorCode.GLOSSARY_TERM_ALREADY_EXISTS, gr.require(conn, g, gr.TERM).attributes.get(
                    "qualifiedName"))
            seen.add(g)


def _sync_anchor(conn: sqlite3.Connection, reg: TypeRegistry, guid: str, pairs: gr.Pairs, t: dict[str, Any],
                 user: str) -> str | None:
    """GlossaryTermUtils.processTermAnchor (UPDATE): a different anchor moves the term; returns its new
    qualifiedName then."""
    wanted = t.get("anchor")
    if wanted is None:
        raise AtlasError(ErrorCode.MISSING_MANDATORY_ANCHOR)
    current = gr.anchor_of(pairs)
    if current is not None and (wanted.get("glossaryGuid"), wanted.get("relationGuid")) == (current[1].guid,
                                                                                            current[0].guid):
        return None
    if not wanted.get("glossaryGuid"):
        raise AtlasError(ErrorCode.INVALID_NEW_ANCHOR_GUID)
    gr.unlink(conn, current[0].guid if current else None)
    glossary = gr.require(conn, wanted["glossaryGuid"], gr.GLOSSARY)
    gr.link(conn, reg, gr.TERM_ANCHOR, glossary.guid, guid, {}, user)
    return f"{t.get('name')}@{glossary.attributes.get('qualifiedName')}"


def by_guid(headers: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """Headers by the guid they name, preferring one with a relationGuid (GlossaryTermUtils.getRelatedTermHeaders)."""
    out: dict[str, dict[str, Any]] = {}
    for h in headers:
        g = str(h.get(key) or "")
        if g not in out or (not out[g].get("relationGuid") and h.get("relationGuid")):
            out[g] = h
    return out


def sync(current: dict[str, tuple[str, dict[str, Any]]], wanted: dict[str, dict[str, Any]], attr_names: tuple[str, ...],
         create: Callable[[str, dict[str, Any]], None], update: Callable[[str, dict[str, Any]], None],
         remove: Callable[[str], None]) -> None:
    """Make the relationships (``current``: other guid -> (relationship guid, attributes)) those ``wanted`` (other
    guid -> header): create the new, update the changed ones given with a relationGuid, remove the rest."""
    for g, h in wanted.items():
        if g not in current:
            create(g, h)
        elif h.get("relationGuid") and (h["relationGuid"] != current[g][0] or any(
                h.get(a) != current[g][1].get(a) for a in attr_names)):
            update(h["relationGuid"], h)
    for g, (rel_guid, _) in current.items():
        if g not in wanted:
            remove(rel_guid)


def _sync_related(conn: sqlite3.Connection, reg: TypeRegistry, guid: str, pairs: gr.Pairs, t: dict[str, Any],
                  user: str) -> None:
    for attr, (rel_type, term_is_end2) in gr.TERM_RELATIONS.items():
        def create(other: str, h: dict[str, Any], rel_type: str = rel_type, end2: bool = term_is_end2) -> None:
            if other == guid:
                raise AtlasError(ErrorCode.INVALID_TERM_RELATION_TO_SELF)
            ends = (other, guid) if end2 else (guid, other)
            gr.link(conn, reg, rel_type, *ends, _relation_attrs(h), user)

        current = {o.guid: (r.guid, r.body.get("attributes") or {}) for r, o in pairs.get(attr, [])}
        sync(current, by_guid(t.get(attr, []), "termGuid"), gr.TERM_RELATION_ATTRS, create,
             lambda rel, h: gr.set_relationship_attributes(conn, reg, rel, _relation_attrs(h), user),
             lambda rel: gr.unlink(conn, rel))


def _relation_attrs(h: dict[str, Any]) -> dict[str, Any]:
    return {a: h[a] for a in gr.TERM_RELATION_ATTRS if h.get(a) is not None}


def _sync_categories(conn: sqlite3.Connection, reg: TypeRegistry, guid: str, pairs: gr.Pairs, t: dict[str, Any],
                     user: str) -> None:
    current = {c.guid: (r.guid, r.body.get("attributes") or {}) for r, c in pairs.get("categories", [])}
    attrs = ("description", "status")
    def create(category: str, h: dict[str, Any]) -> None:
        gr.link(conn, reg, gr.TERM_CATEGORIZATION, category, guid, {a: h.get(a) for a in attrs}, user)

    sync(current, by_guid(t.get("categories", []), "categoryGuid"), attrs, create,
         lambda rel, h: gr.set_relationship_attributes(conn, reg, rel, {a: h[a] for a in attrs if a in h}, user),
         lambda rel: gr.unlink(conn, rel))


# -- assignment to entities ---------------------------------------------------------------------------------------
def parse_object_ids(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, list) or not all(isinstance(x, dict) for x in body):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be a list of AtlasRelatedObjectId")
    for obj in body:
        check_fields(obj, OBJECT_ID, "AtlasRelatedObjectId")
        rel = obj.get("relationshipAttributes")
        if isinstance(rel, dict) and rel.get("attributes") is not None and not isinstance(rel["attributes"], dict):
            raise AtlasError(ErrorCode.BAD_REQUEST, "relationshipAttributes.attributes must be an object")
    return list(body)


def _entity_of(conn: sqlite3.Connection, reg: TypeRegistry, obj: dict[str, Any]) -> EntityRow:
    guid, type_name, uniq = obj.get("guid"), obj.get("typeName"), obj.get("uniqueAttributes")
    e = er.load_entity(conn, guid) if guid else None
    if e is None and not guid and type_name and uniq:
        e = er.find_by_unique(conn, reg, type_name, uniq)
    if e is None:
        raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, guid or uniq)
    return e


def _touched(conn: sqlite3.Connection, reg: TypeRegistry, e: EntityRow, term: EntityRow, action: str,
             user: str) -> None:
    now = audit.now_ms()
    conn.execute("UPDATE entity SET update_time = ?, updated_by = ? WHERE guid = ?", (now, user, e.guid))
    if audit.is_audited(reg, e.type_name):
        prefix = "Added term: " if action == "TERM_ADD" else "Deleted term: "
        audit.record(conn, e.guid, action, prefix + gr.audit_string(term), user, now)


def assign(store: EmbeddedStore, term_guid: str, body: Any, user: str) -> None:
    """POST glossary/terms/{guid}/assignedEntities."""
    objects = parse_object_ids(body)
    reg = store.registry
    with store.db.write() as conn:
        term = gr.require(conn, term_guid, gr.TERM)
        for obj in objects:
            e = _entity_of(conn, reg, obj)
            attrs = (obj.get("relationshipAttributes") or {}).get("attributes") or {}
            gr.link(conn, reg, gr.TERM_ASSIGNMENT, term.guid, e.guid, attrs, user)
            _touched(conn, reg, e, term, "TERM_ADD", user)


def dissociate(store: EmbeddedStore, term_guid: str, body: Any, user: str) -> None:
    """DELETE or PUT glossary/terms/{guid}/assignedEntities: each given assignment, named by its relationshipGuid."""
    objects = parse_object_ids(body)
    reg = store.registry
    with store.db.write() as conn:
        term = gr.require(conn, term_guid, gr.TERM)
        assigned = {o.guid: (r, o) for r, o in gr.related(conn, reg, term).get("assignedEntities", [])}
        for obj in objects:
            rel_guid = obj.get("relationshipGuid")
            if not rel_guid:
                raise AtlasError(ErrorCode.TERM_DISSOCIATION_MISSING_RELATION_GUID)
            found = assigned.get(str(obj.get("guid")))
            if found is None or found[0].guid != rel_guid:
                raise AtlasError(ErrorCode.INVALID_TERM_DISSOCIATION, rel_guid, term_guid, obj.get("guid"))
            gr.unlink(conn, rel_guid, reg)
            _touched(conn, reg, found[1], term, "TERM_DELETE", user)


def assigned_entities(store: EmbeddedStore, term_guid: str, offset: int, limit: int, descending: bool
                      ) -> list[dict[str, Any]]:
    term = get(store, term_guid)
    return gr.paginate(gr.sorted_by_text(term.get("assignedEntities", []), descending), offset, limit)
