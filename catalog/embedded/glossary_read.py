"""Glossary objects as Atlas stores and shows them: entities of Atlas's glossary model, read back as AtlasGlossary,
AtlasGlossaryTerm and AtlasGlossaryCategory (``AtlasGlossaryDTO`` & co.), plus the helpers the glossary writes share.

Atlas keeps glossaries, terms and categories as entities of ``AtlasGlossary``/``AtlasGlossaryTerm``/
``AtlasGlossaryCategory`` (``__internal`` subtypes) linked by the relationships of its glossary model
(``0011-glossary_model.json``), so ``GET entity/guid/{termGuid}`` answers the term as an entity and an entity's
``relationshipAttributes.meanings`` lists its terms. The store installs that model the first time a glossary is
created (:func:`ensure_types`): a store holds only the types its users brought or used. Glossary objects are hard
deleted, as Atlas deletes vertices of internal types (``DeleteHandlerV1.deleteTypeVertex``).
"""

from __future__ import annotations

import json
import sqlite3
from importlib.resources import files
from typing import Any

import orjson

from catalog.embedded import entity_read as er
from catalog.embedded import propagation
from catalog.embedded import relationships as rel_mod
from catalog.embedded.entity_read import EntityRow, RelRow
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.instance_checks import Check, check_fields
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.typesystem import TypeRegistry, parse_type
from catalog.embedded.values import InvalidValue, ValueNormalizer

GLOSSARY, TERM, CATEGORY = "AtlasGlossary", "AtlasGlossaryTerm", "AtlasGlossaryCategory"
TERM_ANCHOR, CATEGORY_ANCHOR = "AtlasGlossaryTermAnchor", "AtlasGlossaryCategoryAnchor"
CATEGORY_HIERARCHY, TERM_CATEGORIZATION = "AtlasGlossaryCategoryHierarchyLink", "AtlasGlossaryTermCategorization"
TERM_ASSIGNMENT = er.TERM_ASSIGNMENT
INVALID_NAME_CHARS = "@.<>"  # GlossaryService.INVALID_NAME_CHARS
# AtlasGlossaryTerm.Relation: attribute -> (relationship, whether the term is the relationship's end2)
TERM_RELATIONS: dict[str, tuple[str, bool]] = {
    "seeAlso": ("AtlasGlossaryRelatedTerm", False), "synonyms": ("AtlasGlossarySynonym", False),
    "antonyms": ("AtlasGlossaryAntonym", False), "preferredToTerms": ("AtlasGlossaryPreferredTerm", True),
    "preferredTerms": ("AtlasGlossaryPreferredTerm", False), "replacementTerms": ("AtlasGlossaryReplacementTerm", True),
    "replacedBy": ("AtlasGlossaryReplacementTerm", False), "translationTerms": ("AtlasGlossaryTranslation", True),
    "translatedTerms": ("AtlasGlossaryTranslation", False), "isA": ("AtlasGlossaryIsARelationship", True),
    "classifies": ("AtlasGlossaryIsARelationship", False), "validValues": ("AtlasGlossaryValidValue", True),
    "validValuesFor": ("AtlasGlossaryValidValue", False),
}
TERM_RELATION_ATTRS = ("description", "expression", "steward", "source", "status")
Pairs = dict[str, list[tuple[RelRow, EntityRow]]]


# -- the model ---------------------------------------------------------------------------------------------------
def _model() -> dict[str, Any]:
    model: dict[str, Any] = json.loads(files(__package__).joinpath("glossary_model.json").read_text("utf-8"))
    return model


def installed(registry: TypeRegistry) -> bool:
    return all(registry.get(n) is not None for n in (GLOSSARY, TERM, CATEGORY))


def ensure_types(store: EmbeddedStore, user: str) -> None:
    """Create the glossary model's missing types, in a transaction of their own (the registry is swapped when that
    commits, so a later failure of the request can not leave the registry ahead of the database)."""
    if installed(store.registry):
        return
    missing = {key: [d for d in defs if store.registry.get(d["name"]) is None] for key, defs in _model().items()}
    store.typedefs.create(missing, user)


# -- loading -----------------------------------------------------------------------------------------------------
def require(conn: sqlite3.Connection, guid: str, type_name: str) -> EntityRow:
    """DataAccess.load: the object of this type, not deleted."""
    e = er.load_entity(conn, guid)
    if e is None:
        raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, guid)
    if e.type_name != type_name:
        raise AtlasError(ErrorCode.UNEXPECTED_TYPE, type_name, e.type_name)
    if e.status == "DELETED":
        raise AtlasError(ErrorCode.INSTANCE_GUID_DELETED, guid)
    return e


def related(conn: sqlite3.Connection, registry: TypeRegistry, e: EntityRow) -> Pairs:
    """The object's active relationships by the attribute they fill on it."""
    rels = er.relationships_of(conn, e.guid)
    others = er.load_entities(conn, list({r.end2 if r.end1 == e.guid else r.end1 for r in rels}))
    t = registry.get(e.type_name)
    if t is None:
        return {}
    grouped = er.relationship_values(registry, t, e, rels, others)
    for pairs in grouped.values():
        pairs.sort(key=lambda p: (p[0].create_time, p[0].guid))
    return grouped


def find(conn: sqlite3.Connection, type_name: str, qualified_name: str) -> EntityRow | None:
    row = conn.execute(f"SELECT {er.ENTITY_COLS} FROM entity WHERE type_name = ? AND qualified_name = ?",
                       (type_name, qualified_name)).fetchone()
    return EntityRow.from_row(row) if row else None


def anchor_of(pairs: Pairs) -> tuple[RelRow, EntityRow] | None:
    anchors = pairs.get("anchor") or []
    return anchors[0] if anchors else None


# -- rendering (NON_EMPTY: empty values are left out) ---------------------------------------------------------
def _non_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "", [], {})}


def _rel_attrs(r: RelRow) -> dict[str, Any]:
    attrs: dict[str, Any] = r.body.get("attributes") or {}
    return attrs


def term_header(r: RelRow, term: EntityRow, with_qualified_name: bool = False) -> dict[str, Any]:
    """AtlasRelatedTermHeader (AbstractGlossaryDTO.constructRelatedTermId)."""
    attrs = _rel_attrs(r)
    h = {"termGuid": term.guid, "relationGuid": r.guid, "displayText": term.attributes.get("name"),
         **{k: attrs.get(k) for k in TERM_RELATION_ATTRS}}
    if with_qualified_name:
        h["qualifiedName"] = term.attributes.get("qualifiedName")
    return _non_empty(h)


def category_header(r: RelRow, category: EntityRow, parent_guid: str | None = None) -> dict[str, Any]:
    """AtlasRelatedCategoryHeader (constructRelatedCategoryId; ``parent_guid`` as setInfoForRelatedCategories)."""
    return _non_empty({"categoryGuid": category.guid, "parentCategoryGuid": parent_guid, "relationGuid": r.guid,
                       "displayText": category.attributes.get("name"), "description": _rel_attrs(r).get("description")})


def categorization_header(r: RelRow, category: EntityRow) -> dict[str, Any]:
    attrs = _rel_attrs(r)
    return _non_empty({"categoryGuid": category.guid, "relationGuid": r.guid, "description": attrs.get("description"),
                       "displayText": category.attributes.get("name"), "status": attrs.get("status")})


def glossary_header(r: RelRow, glossary: EntityRow) -> dict[str, Any]:
    return {"glossaryGuid": glossary.guid, "relationGuid": r.guid}


def _base(e: EntityRow, names: tuple[str, ...], classifications: list[dict[str, Any]]) -> dict[str, Any]:
    attrs = e.attributes
    return {"guid": e.guid, **{n: attrs.get(n) for n in names}, "classifications": classifications}


def _parent_of(conn: sqlite3.Connection, category_guid: str) -> str | None:
    row = conn.execute("SELECT end1 FROM relationship WHERE end2 = ? AND type_name = ? AND status = 'ACTIVE'",
                       (category_guid, CATEGORY_HIERARCHY)).fetchone()
    return None if row is None else str(row[0])


def glossary_json(conn: sqlite3.Connection, registry: TypeRegistry, e: EntityRow, info: bool = True
                  ) -> dict[str, Any]:
    """AtlasGlossary; ``info``: GlossaryService.setInfoForRelations (each category's parent)."""
    pairs = related(conn, registry, e)
    out = _base(e, ("qualifiedName", "name", "shortDescription", "longDescription", "language", "usage",
                    "additionalAttributes"), er.load_classifications(conn, e.guid))
    out["terms"] = [term_header(r, t) for r, t in pairs.get("terms", [])]
    out["categories"] = [category_header(r, c, _parent_of(conn, c.guid) if info else None)
                         for r, c in pairs.get("categories", [])]
    return _non_empty(out)


def term_json(conn: sqlite3.Connection, registry: TypeRegistry, e: EntityRow, info: bool = True) -> dict[str, Any]:
    """AtlasGlossaryTerm; ``info``: related terms carry their qualifiedName (GlossaryService.getTerm)."""
    pairs = related(conn, registry, e)
    out = _base(e, ("qualifiedName", "name", "shortDescription", "longDescription", "examples", "abbreviation",
                    "usage", "additionalAttributes"), er.load_classifications(conn, e.guid))
    anchor = anchor_of(pairs)
    out["anchor"] = glossary_header(*anchor) if anchor else None
    out["assignedEntities"] = [er.related_object_id(registry, o, r) for r, o in pairs.get("assignedEntities", [])]
    out["categories"] = [categorization_header(r, c) for r, c in pairs.get("categories", [])]
    for attr in TERM_RELATIONS:
        out[attr] = [term_header(r, t, info) for r, t in pairs.get(attr, [])]
    out["glossaryTermHeader"] = {"termGuid": e.guid, "qualifiedName": e.attributes.get("qualifiedName")}
    return _non_empty(out)


def category_json(conn: sqlite3.Connection, registry: TypeRegistry, e: EntityRow, info: bool = True
                  ) -> dict[str, Any]:
    pairs = related(conn, registry, e)
    out = _base(e, ("qualifiedName", "name", "shortDescription", "longDescription", "additionalAttributes"),
                er.load_classifications(conn, e.guid))
    anchor = anchor_of(pairs)
    out["anchor"] = glossary_header(*anchor) if anchor else None
    parents = pairs.get("parentCategory") or []
    out["parentCategory"] = category_header(*parents[0]) if parents else None
    out["childrenCategories"] = [category_header(r, c, e.guid if info else None)
                                 for r, c in pairs.get("childrenCategories", [])]
    out["terms"] = [term_header(r, t) for r, t in pairs.get("terms", [])]
    return _non_empty(out)


def audit_string(term: EntityRow) -> str:
    """AtlasGlossaryTerm.toAuditString: a term of guid, name and qualifiedName, as JSON."""
    qn = term.attributes.get("qualifiedName")
    return orjson.dumps(_non_empty({"guid": term.guid, "qualifiedName": qn, "name": term.attributes.get("name"),
                                    "glossaryTermHeader": {"termGuid": term.guid, "qualifiedName": qn}})).decode()


# -- writing -----------------------------------------------------------------------------------------------------
def link(conn: sqlite3.Connection, registry: TypeRegistry, rel_type: str, end1: str, end2: str,
         attrs: dict[str, Any], user: str) -> str:
    """The relationship between the two, created unless it exists (AtlasRelationshipStore.getOrCreate)."""
    row = conn.execute("SELECT guid FROM relationship WHERE type_name = ? AND end1 = ? AND end2 = ? "
                       "AND status = 'ACTIVE'", (rel_type, end1, end2)).fetchone()
    if row is not None:
        return str(row[0])
    body = {"typeName": rel_type, "end1": {"guid": end1}, "end2": {"guid": end2},
            "attributes": {k: v for k, v in attrs.items() if v is not None}}
    created: dict[str, Any] = rel_mod.create_relationship(conn, registry, body, user)
    return str(created["guid"])


def set_relationship_attributes(conn: sqlite3.Connection, registry: TypeRegistry, rel_guid: str,
                                attrs: dict[str, Any], user: str) -> None:
    rel_mod.update_relationship(conn, registry, {"guid": rel_guid, "attributes": attrs}, user)


def unlink(conn: sqlite3.Connection, rel_guid: str | None, registry: TypeRegistry | None = None) -> None:
    """Remove a relationship for good (relationshipStore.deleteById(guid, forceDelete=true)). A term assignment
    carries the term's classifications to the entity: with ``registry``, what it alone carried is taken back first
    (DeleteHandlerV1.removeTagPropagation(edge)); the glossary's other relationships carry nothing."""
    if not rel_guid:
        return
    if registry is not None:
        propagation.relationship_purged(conn, registry, rel_guid)
    conn.execute("DELETE FROM relationship WHERE guid = ?", (rel_guid,))


def hard_delete(conn: sqlite3.Connection, guid: str) -> None:
    for sql in ("DELETE FROM entity WHERE guid = ?", "DELETE FROM uattr WHERE guid = ?",
                "DELETE FROM classification WHERE entity_guid = ?"):
        conn.execute(sql, (guid,))
    conn.execute("DELETE FROM relationship WHERE end1 = ? OR end2 = ?", (guid, guid))


def check_name(name: Any, missing: ErrorCode) -> str:
    if not isinstance(name, str) or not name:
        raise AtlasError(missing)
    if any(c in name for c in INVALID_NAME_CHARS):
        raise AtlasError(ErrorCode.INVALID_DISPLAY_NAME)
    return name


def check_body(body: Any, checks: dict[str, Check], what: str) -> dict[str, Any]:
    """The object as Jackson reads it into Atlas's model class (null fields are absent); its additionalAttributes
    as the model's ``map<string,string>`` takes them (checked here, before the glossary model may be installed)."""
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, f"body must be an {what} object")
    out = {k: v for k, v in body.items() if v is not None}
    check_fields(out, checks, what)
    if "additionalAttributes" in out:
        try:
            ValueNormalizer(TypeRegistry({})).normalize(out["additionalAttributes"], _STRING_MAP,
                                                       f"{what}.additionalAttributes")
        except InvalidValue as e:
            raise AtlasError(ErrorCode.INSTANCE_CRUD_INVALID_PARAMS, str(e)) from e
    return out


_STRING_MAP = parse_type("map<string,string>")


def paginate(items: list[Any], offset: int, limit: int) -> list[Any]:
    """GlossaryService.PaginationHelper: a negative limit is everything from offset on."""
    start = max(offset, 0)
    return items[start:] if limit < 0 else items[start:start + limit]


def sorted_by_text(items: list[dict[str, Any]], descending: bool) -> list[dict[str, Any]]:
    return sorted(items, key=lambda h: str(h.get("displayText") or ""), reverse=descending)
