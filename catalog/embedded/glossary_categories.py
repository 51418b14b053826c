"""Glossary categories (GlossaryREST ``glossary/category[ies]``, ``GlossaryService`` and ``GlossaryCategoryUtils``).

A category's qualifiedName is ``name@glossaryQualifiedName``, or ``name.parentQualifiedName`` under a parent; giving
a category a parent, taking it away or moving it to another glossary renames it and, recursively, its children, as
Atlas's ``updateChildCategories`` does (quirks included: a child whose parent loses all its children is named
``child.glossaryQualifiedName``; a category moved to another parent keeps its name). An update makes the parent,
children and terms exactly those of the body.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from catalog.embedded import glossary_read as gr
from catalog.embedded.entity_read import EntityRow
from catalog.embedded.entity_write import EntityWriter, replace_attributes
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.glossary_terms import ANCHOR, TERM_HEADER, by_guid, sync
from catalog.embedded.instance_checks import OBJECT, OBJECT_LIST, STR, Check, check_fields
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.typesystem import TypeRegistry

CATEGORY_HEADER: dict[str, Check] = {"categoryGuid": STR, "parentCategoryGuid": STR, "relationGuid": STR,
                                     "displayText": STR, "description": STR}
FIELDS: dict[str, Check] = {
    "guid": STR, "qualifiedName": STR, "name": STR, "shortDescription": STR, "longDescription": STR,
    "additionalAttributes": OBJECT, "classifications": OBJECT_LIST, "anchor": OBJECT, "parentCategory": OBJECT,
    "childrenCategories": OBJECT_LIST, "terms": OBJECT_LIST,
}
ATTRIBUTES = ("qualifiedName", "name", "shortDescription", "longDescription", "additionalAttributes")
PARTIAL = ("name", "shortDescription", "longDescription")  # AtlasGlossaryCategory.setAttribute


def parse(body: Any) -> dict[str, Any]:
    c = gr.check_body(body, FIELDS, "AtlasGlossaryCategory")
    if "anchor" in c:
        check_fields(c["anchor"], ANCHOR, "AtlasGlossaryCategory.anchor")
    if "parentCategory" in c:
        check_fields(c["parentCategory"], CATEGORY_HEADER, "AtlasGlossaryCategory.parentCategory")
    for h in c.get("childrenCategories", []):
        check_fields(h, CATEGORY_HEADER, "AtlasGlossaryCategory.childrenCategories")
    for h in c.get("terms", []):
        check_fields(h, TERM_HEADER, "AtlasGlossaryCategory.terms")
    return c


def _attributes(c: dict[str, Any], qualified_name: str) -> dict[str, Any]:
    return {**{k: c[k] for k in ATTRIBUTES if k in c}, "qualifiedName": qualified_name}


def _qn(e: EntityRow) -> str:
    return str(e.attributes.get("qualifiedName"))


def _rename(conn: sqlite3.Connection, reg: TypeRegistry, e: EntityRow, qualified_name: str, user: str) -> None:
    attrs = dict(e.attributes)
    attrs["qualifiedName"] = qualified_name
    replace_attributes(conn, reg, e.guid, attrs, user)


def _requalify_children(conn: sqlite3.Connection, reg: TypeRegistry, parent_guid: str, parent_qn: str, user: str,
                        seen: set[str] | None = None) -> None:
    """GlossaryCategoryUtils.updateChildCategories: each child becomes ``name.parentQualifiedName``, recursively."""
    seen = seen if seen is not None else {parent_guid}
    rows = conn.execute("SELECT end2 FROM relationship WHERE end1 = ? AND type_name = ? AND status = 'ACTIVE'",
                        (parent_guid, gr.CATEGORY_HIERARCHY)).fetchall()
    for (child_guid,) in rows:
        if child_guid in seen:
            continue
        seen.add(child_guid)
        child = gr.require(conn, child_guid, gr.CATEGORY)
        qn = f"{child.attributes.get('name')}.{parent_qn}"
        _rename(conn, reg, child, qn, user)
        _requalify_children(conn, reg, child_guid, qn, user, seen)


def _glossary_of(conn: sqlite3.Connection, reg: TypeRegistry, e: EntityRow) -> str | None:
    anchor = gr.anchor_of(gr.related(conn, reg, e))
    return anchor[1].guid if anchor else None


def _add_child(conn: sqlite3.Connection, reg: TypeRegistry, guid: str, glossary: str, child_guid: str,
               h: dict[str, Any], user: str) -> None:
    child = gr.require(conn, child_guid, gr.CATEGORY)
    if _glossary_of(conn, reg, child) != glossary:
        raise AtlasError(ErrorCode.INVALID_CHILD_CATEGORY_DIFFERENT_GLOSSARY, child_guid)
    gr.link(conn, reg, gr.CATEGORY_HIERARCHY, guid, child_guid, {"description": h.get("description")}, user)


def _add_term(conn: sqlite3.Connection, reg: TypeRegistry, guid: str, term_guid: str | None, h: dict[str, Any],
              user: str) -> None:
    if not term_guid:
        raise AtlasError(ErrorCode.MISSING_TERM_ID_FOR_CATEGORIZATION)
    attrs = {"description": h.get("description"), "status": h.get("status")}
    gr.link(conn, reg, gr.TERM_CATEGORIZATION, guid, term_guid, attrs, user)


# -- create, read --------------------------------------------------------------------------------------------------
def create(store: EmbeddedStore, body: Any, user: str) -> dict[str, Any]:
    c = parse(body)
    with store.db.write() as conn:
        guid = create_in(conn, store.registry, c, user)
        return gr.category_json(conn, store.registry, gr.require(conn, guid, gr.CATEGORY))


def create_many(store: EmbeddedStore, body: Any, user: str) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be a list of AtlasGlossaryCategory")
    items = [parse(b) for b in body]
    if any("anchor" not in c for c in items):
        raise AtlasError(ErrorCode.MISSING_MANDATORY_ANCHOR)
    with store.db.write() as conn:
        guids = [create_in(conn, store.registry, c, user) for c in items]
        return [gr.category_json(conn, store.registry, gr.require(conn, g, gr.CATEGORY)) for g in guids]


def create_in(conn: sqlite3.Connection, reg: TypeRegistry, c: dict[str, Any], user: str) -> str:
    if "anchor" not in c:
        raise AtlasError(ErrorCode.MISSING_MANDATORY_ANCHOR)
    name = gr.check_name(c.get("name"), ErrorCode.GLOSSARY_CATEGORY_QUALIFIED_NAME_CANT_BE_DERIVED)
    glossary_guid = c["anchor"].get("glossaryGuid")
    if not glossary_guid:
        raise AtlasError(ErrorCode.INVALID_NEW_ANCHOR_GUID)
    glossary = gr.require(conn, glossary_guid, gr.GLOSSARY)
    qn = f"{name}@{_qn(glossary)}"
    if gr.find(conn, gr.CATEGORY, qn) is not None:
        raise AtlasError(ErrorCode.GLOSSARY_CATEGORY_ALREADY_EXISTS, qn)
    w = EntityWriter(conn, reg, user)
    entity = {"typeName": gr.CATEGORY, "attributes": _attributes(c, qn),
              "relationshipAttributes": {"anchor": {"guid": glossary_guid}}}
    w.create_or_update([entity], None, partial=False)
    guid = w.result.created[0]
    parent = c.get("parentCategory")
    if parent:
        p = gr.require(conn, str(parent.get("categoryGuid")), gr.CATEGORY)
        gr.link(conn, reg, gr.CATEGORY_HIERARCHY, p.guid, guid, {"description": parent.get("description")}, user)
        qn = f"{name}.{_qn(p)}"
        if gr.find(conn, gr.CATEGORY, qn) is not None:
            raise AtlasError(ErrorCode.GLOSSARY_CATEGORY_ALREADY_EXISTS, qn)
        _rename(conn, reg, gr.require(conn, guid, gr.CATEGORY), qn, user)
    for child_guid, h in by_guid(c.get("childrenCategories", []), "categoryGuid").items():
        _add_child(conn, reg, guid, glossary_guid, child_guid, h, user)
    _requalify_children(conn, reg, guid, qn, user)
    for term_guid, h in by_guid(c.get("terms", []), "termGuid").items():
        _add_term(conn, reg, guid, term_guid, h, user)
    return guid


def get(store: EmbeddedStore, guid: str) -> dict[str, Any]:
    conn = store.db.reader()
    return gr.category_json(conn, store.registry, gr.require(conn, guid, gr.CATEGORY))


def related(store: EmbeddedStore, guid: str) -> dict[str, list[dict[str, Any]]]:
    """GET glossary/category/{guid}/related: {"parent": [...], "children": [...]} (the ones it has)."""
    c = get(store, guid)
    out: dict[str, list[dict[str, Any]]] = {}
    if c.get("parentCategory"):
        out["parent"] = [c["parentCategory"]]
    if c.get("childrenCategories"):
        out["children"] = c["childrenCategories"]
    return out


def terms(store: EmbeddedStore, guid: str, offset: int, limit: int, descending: bool) -> list[dict[str, Any]]:
    heads: list[dict[str, Any]] = get(store, guid).get("terms", [])
    return gr.paginate(gr.sorted_by_text(heads, descending), offset, limit)


# -- update, delete ------------------------------------------------------------------------------------------------
def update(store: EmbeddedStore, guid: str, body: Any, user: str) -> dict[str, Any]:
    c = parse(body)
    name = c.get("name")
    if not name:
        raise AtlasError(ErrorCode.BAD_REQUEST, "DisplayName can't be null/empty")
    gr.check_name(name, ErrorCode.INVALID_DISPLAY_NAME)
    with store.db.write() as conn:
        reg = store.registry
        stored = gr.require(conn, guid, gr.CATEGORY)
        pairs = gr.related(conn, reg, stored)
        old_qn = _qn(stored)
        replace_attributes(conn, reg, guid, _attributes(c, old_qn), user)
        glossary, qn = _sync_anchor(conn, reg, guid, pairs, c, old_qn, user)
        qn = _sync_parent(conn, reg, guid, pairs, c, glossary, qn, user)
        if qn != old_qn:
            if gr.find(conn, gr.CATEGORY, qn) is not None:
                raise AtlasError(ErrorCode.GLOSSARY_CATEGORY_ALREADY_EXISTS, qn)
            _rename(conn, reg, gr.require(conn, guid, gr.CATEGORY), qn, user)
            _requalify_children(conn, reg, guid, qn, user)
        _sync_children(conn, reg, guid, pairs, c, glossary, qn, user)
        current = {t.guid: (r.guid, r.body.get("attributes") or {}) for r, t in pairs.get("terms", [])}
        sync(current, by_guid(c.get("terms", []), "termGuid"), ("description", "status"),
             lambda t, h: _add_term(conn, reg, guid, t, h, user),
             lambda rel, h: gr.set_relationship_attributes(
                 conn, reg, rel, {a: h[a] for a in ("description", "status") if a in h}, user),
             lambda rel: gr.unlink(conn, rel))
        return gr.category_json(conn, reg, gr.require(conn, guid, gr.CATEGORY))


def _sync_anchor(conn: sqlite3.Connection, reg: TypeRegistry, guid: str, pairs: gr.Pairs, c: dict[str, Any],
                 qn: str, user: str) -> tuple[str, str]:
    """GlossaryCategoryUtils.processCategoryAnchor (UPDATE); returns the glossary and the qualifiedName."""
    wanted = c.get("anchor")
    if wanted is None:
        raise AtlasError(ErrorCode.MISSING_MANDATORY_ANCHOR)
    current = gr.anchor_of(pairs)
    if current is not None and (wanted.get("glossaryGuid"), wanted.get("relationGuid")) == (current[1].guid,
                                                                                            current[0].guid):
        return current[1].guid, qn
    if not wanted.get("glossaryGuid"):
        raise AtlasError(ErrorCode.INVALID_NEW_ANCHOR_GUID)
    gr.unlink(conn, current[0].guid if current else None)
    glossary = gr.require(conn, wanted["glossaryGuid"], gr.GLOSSARY)
    gr.link(conn, reg, gr.CATEGORY_ANCHOR, glossary.guid, guid, {}, user)
    return glossary.guid, f"{c.get('name')}@{_qn(glossary)}"


def _sync_parent(conn: sqlite3.Connection, reg: TypeRegistry, guid: str, pairs: gr.Pairs, c: dict[str, Any],
                 glossary: str, qn: str, user: str) -> str:
    """GlossaryCategoryUtils.processParentCategory (UPDATE); returns the qualifiedName."""
    wanted = c.get("parentCategory")
    current = (pairs.get("parentCategory") or [])[0] if pairs.get("parentCategory") else None
    if current is None and wanted is None:
        return qn
    if current is not None and wanted is not None and wanted.get("categoryGuid") == current[1].guid:
        if wanted.get("relationGuid") in (None, current[0].guid) and \
                wanted.get("description") == (current[0].body.get("attributes") or {}).get("description"):
            return qn
        gr.set_relationship_attributes(conn, reg, current[0].guid, {"description": wanted.get("description")}, user)
        return qn
    if current is not None:
        gr.unlink(conn, current[0].guid)
    if wanted is None:
        return f"{c.get('name')}@{_qn(gr.require(conn, glossary, gr.GLOSSARY))}"
    parent = gr.require(conn, str(wanted.get("categoryGuid")), gr.CATEGORY)
    gr.link(conn, reg, gr.CATEGORY_HIERARCHY, parent.guid, guid, {"description": wanted.get("description")}, user)
    return qn if current is not None else f"{c.get('name')}.{_qn(parent)}"


def _sync_children(conn: sqlite3.Connection, reg: TypeRegistry, guid: str, pairs: gr.Pairs, c: dict[str, Any],
                   glossary: str, qn: str, user: str) -> None:
    current = {o.guid: (r.guid, r.body.get("attributes") or {}) for r, o in pairs.get("childrenCategories", [])}
    wanted = by_guid(c.get("childrenCategories", []), "categoryGuid")
    if current and not wanted:
        glossary_qn = _qn(gr.require(conn, glossary, gr.GLOSSARY))
        for child_guid, (rel_guid, _) in current.items():
            gr.unlink(conn, rel_guid)
            child = gr.require(conn, child_guid, gr.CATEGORY)
            _rename(conn, reg, child, f"{child.attributes.get('name')}.{glossary_qn}", user)
        return
    def adopt(child_guid: str, h: dict[str, Any]) -> None:
        _add_child(conn, reg, guid, glossary, child_guid, h, user)
        child = gr.require(conn, child_guid, gr.CATEGORY)
        child_qn = f"{child.attributes.get('name')}.{qn}"
        _rename(conn, reg, child, child_qn, user)
        _requalify_children(conn, reg, child_guid, child_qn, user, {guid, child_guid})

    sync(current, wanted, ("description",), adopt,
         lambda rel, h: gr.set_relationship_attributes(conn, reg, rel, {"description": h.get("description")}, user),
         lambda rel: gr.unlink(conn, rel))


def partial_update(store: EmbeddedStore, guid: str, changes: dict[str, Any], user: str) -> dict[str, Any]:
    category = get(store, guid)
    for key, value in changes.items():
        if key not in PARTIAL:
            raise AtlasError(ErrorCode.INVALID_PARTIAL_UPDATE_ATTR, "Glossary Category", key)
        category[key] = value
    return update(store, guid, category, user)


def delete(store: EmbeddedStore, guid: str, user: str) -> None:
    with store.db.write() as conn:
        delete_in(conn, store.registry, guid, user)


def delete_in(conn: sqlite3.Connection, registry: TypeRegistry, guid: str, user: str) -> None:
    """The category goes with its links; its children stay, without a parent and with their names."""
    gr.require(conn, guid, gr.CATEGORY)
    gr.hard_delete(conn, guid)
