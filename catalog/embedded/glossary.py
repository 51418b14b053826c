"""Glossaries (GlossaryREST ``v2/glossary``, ``GlossaryService``): create, read, list, update, delete, and the lists
of a glossary's terms and categories. Terms and categories are in :mod:`glossary_terms` and
:mod:`glossary_categories`; what they share, and how all three are stored, in :mod:`glossary_read`.
"""

from __future__ import annotations

from typing import Any

from catalog.embedded import glossary_categories as categories
from catalog.embedded import glossary_read as gr
from catalog.embedded import glossary_terms as terms
from catalog.embedded.entity_write import EntityWriter, replace_attributes
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.instance_checks import OBJECT, OBJECT_LIST, STR
from catalog.embedded.store import EmbeddedStore

FIELDS = {"guid": STR, "qualifiedName": STR, "name": STR, "shortDescription": STR, "longDescription": STR,
          "language": STR, "usage": STR, "additionalAttributes": OBJECT, "classifications": OBJECT_LIST,
          "terms": OBJECT_LIST, "categories": OBJECT_LIST}
ATTRIBUTES = ("qualifiedName", "name", "shortDescription", "longDescription", "language", "usage",
              "additionalAttributes")
PARTIAL = ("name", "shortDescription", "longDescription", "language", "usage")  # AtlasGlossary.setAttribute


def _attributes(g: dict[str, Any]) -> dict[str, Any]:
    return {k: g[k] for k in ATTRIBUTES if k in g}


def create(store: EmbeddedStore, body: Any, user: str) -> dict[str, Any]:
    g = gr.check_body(body, FIELDS, "AtlasGlossary")
    if not g.get("qualifiedName"):
        g["qualifiedName"] = gr.check_name(g.get("name"), ErrorCode.GLOSSARY_QUALIFIED_NAME_CANT_BE_DERIVED)
    if not g.get("name"):  # the entity's mandatory name, refused before the glossary model is installed
        raise AtlasError(ErrorCode.INSTANCE_CRUD_INVALID_PARAMS,
                         f"{gr.GLOSSARY}.name: mandatory attribute value missing in type {gr.GLOSSARY}")
    if gr.installed(store.registry) and gr.find(store.db.reader(), gr.GLOSSARY, g["qualifiedName"]):
        raise AtlasError(ErrorCode.GLOSSARY_ALREADY_EXISTS, g.get("name"))
    gr.ensure_types(store, user)
    with store.db.write() as conn:
        if gr.find(conn, gr.GLOSSARY, g["qualifiedName"]) is not None:
            raise AtlasError(ErrorCode.GLOSSARY_ALREADY_EXISTS, g.get("name"))
        w = EntityWriter(conn, store.registry, user)
        w.create_or_update([{"typeName": gr.GLOSSARY, "attributes": _attributes(g)}], None, partial=False)
        return gr.glossary_json(conn, store.registry, gr.require(conn, w.result.created[0], gr.GLOSSARY))


def get(store: EmbeddedStore, guid: str) -> dict[str, Any]:
    conn = store.db.reader()
    return gr.glossary_json(conn, store.registry, gr.require(conn, guid, gr.GLOSSARY))


def detailed(store: EmbeddedStore, guid: str) -> dict[str, Any]:
    """AtlasGlossaryExtInfo: the glossary with its terms and categories in full (termInfo, categoryInfo)."""
    conn = store.db.reader()
    reg = store.registry
    e = gr.require(conn, guid, gr.GLOSSARY)
    out = gr.glossary_json(conn, reg, e, info=False)
    pairs = gr.related(conn, reg, e)
    term_info = {t.guid: gr.term_json(conn, reg, t, info=False) for _, t in pairs.get("terms", [])}
    category_info = {c.guid: gr.category_json(conn, reg, c, info=False) for _, c in pairs.get("categories", [])}
    if term_info:
        out["termInfo"] = term_info
    if category_info:
        out["categoryInfo"] = category_info
    return out


def list_all(store: EmbeddedStore, limit: int, offset: int, descending: bool) -> list[dict[str, Any]]:
    """GET glossary: in qualifiedName order (AtlasGraphUtilsV2.findEntityGUIDsByType)."""
    if not gr.installed(store.registry):
        return []
    conn = store.db.reader()
    order = "DESC" if descending else "ASC"
    rows = conn.execute(f"SELECT guid FROM entity WHERE type_name = ? ORDER BY qualified_name {order}",
                        (gr.GLOSSARY,)).fetchall()
    guids = gr.paginate([r[0] for r in rows], offset, limit)
    return [gr.glossary_json(conn, store.registry, gr.require(conn, g, gr.GLOSSARY), info=False) for g in guids]


def update(store: EmbeddedStore, guid: str, body: Any, user: str) -> dict[str, Any]:
    """PUT glossary/{guid}: the glossary's attributes become the body's (its qualifiedName stays); terms and
    categories are changed through their own endpoints."""
    g = gr.check_body(body, FIELDS, "AtlasGlossary")
    name = g.get("name")
    if not name:
        raise AtlasError(ErrorCode.BAD_REQUEST, "DisplayName can't be null/empty")
    gr.check_name(name, ErrorCode.INVALID_DISPLAY_NAME)
    with store.db.write() as conn:
        stored = gr.require(conn, guid, gr.GLOSSARY)
        g["qualifiedName"] = stored.attributes.get("qualifiedName")
        replace_attributes(conn, store.registry, guid, _attributes(g), user)
        return gr.glossary_json(conn, store.registry, gr.require(conn, guid, gr.GLOSSARY))


def partial_update(store: EmbeddedStore, guid: str, body: Any, user: str) -> dict[str, Any]:
    changes = partial_body(body)
    glossary = get(store, guid)
    for key, value in changes.items():
        if key not in PARTIAL:
            raise AtlasError(ErrorCode.INVALID_PARTIAL_UPDATE_ATTR, key, "Glossary")
        glossary[key] = value
    return update(store, guid, glossary, user)


def partial_body(body: Any) -> dict[str, Any]:
    """A ``Map<String, String>`` of attribute changes, not empty."""
    if body is not None and (not isinstance(body, dict) or not all(v is None or isinstance(v, str)
                                                                    for v in body.values())):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an object of attribute name: string value")
    if not body:
        raise AtlasError(ErrorCode.BAD_REQUEST, "PartialUpdates missing or empty")
    return dict(body)


def delete(store: EmbeddedStore, guid: str, user: str) -> None:
    """DELETE glossary/{guid}: its terms (none may be assigned to an entity), its categories, then itself."""
    with store.db.write() as conn:
        e = gr.require(conn, guid, gr.GLOSSARY)
        pairs = gr.related(conn, store.registry, e)
        for _, t in pairs.get("terms", []):
            terms.delete_in(conn, store.registry, t.guid, user)
        for _, c in pairs.get("categories", []):
            categories.delete_in(conn, store.registry, c.guid, user)
        gr.hard_delete(conn, guid)


# -- a glossary's terms and categories ---------------------------------------------------------------------------
def term_headers(store: EmbeddedStore, guid: str, offset: int, limit: int, descending: bool) -> list[dict[str, Any]]:
    heads: list[dict[str, Any]] = get(store, guid).get("terms", [])
    return gr.paginate(gr.sorted_by_text(heads, descending), offset, limit)


def glossary_terms(store: EmbeddedStore, guid: str, offset: int, limit: int, descending: bool
                   ) -> list[dict[str, Any]]:
    conn = store.db.reader()
    return [gr.term_json(conn, store.registry, gr.require(conn, h["termGuid"], gr.TERM), info=False)
            for h in term_headers(store, guid, offset, limit, descending)]


def category_headers(store: EmbeddedStore, guid: str, offset: int, limit: int, descending: bool
                     ) -> list[dict[str, Any]]:
    heads: list[dict[str, Any]] = get(store, guid).get("categories", [])
    return gr.paginate(gr.sorted_by_text(heads, descending), offset, limit)


def glossary_categories(store: EmbeddedStore, guid: str, offset: int, limit: int, descending: bool
                        ) -> list[dict[str, Any]]:
    conn = store.db.reader()
    return [gr.category_json(conn, store.registry, gr.require(conn, h["categoryGuid"], gr.CATEGORY), info=False)
            for h in category_headers(store, guid, offset, limit, descending)]
