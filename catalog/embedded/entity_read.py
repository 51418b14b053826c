"""Reading entities back in Atlas's wire shapes (AtlasEntity, AtlasEntityHeader, AtlasRelatedObjectId)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.typesystem import HEADER_ATTRIBUTES, StructType, TypeRegistry

ENTITY_COLS = "guid, type_name, status, body, create_time, update_time, version, created_by, updated_by"
# Atlas's __isIncomplete vertex property (a shell entity), kept in the entity's JSON body: true while a shell; false
# once a full create/update has filled it in (see EntityWriter), absent otherwise.
INCOMPLETE = "isIncomplete"


@dataclass
class EntityRow:
    guid: str
    type_name: str
    status: str
    body: dict[str, Any]
    create_time: int
    update_time: int
    version: int
    created_by: str
    updated_by: str

    @property
    def attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = self.body.setdefault("attributes", {})
        return attrs

    @property
    def is_incomplete(self) -> bool:
        return self.body.get(INCOMPLETE) is True

    @staticmethod
    def from_row(row: tuple[Any, ...]) -> EntityRow:
        return EntityRow(row[0], row[1], row[2], orjson.loads(row[3]), row[4], row[5], row[6], row[7], row[8])


@dataclass
class RelRow:
    guid: str
    type_name: str
    label: str
    end1: str
    end2: str
    status: str
    body: dict[str, Any]
    create_time: int
    update_time: int
    version: int
    created_by: str
    updated_by: str

    @staticmethod
    def from_row(row: tuple[Any, ...]) -> RelRow:
        return RelRow(row[0], row[1], row[2], row[3], row[4], row[5], orjson.loads(row[6]), row[7], row[8],
                      row[9], row[10], row[11])


REL_COLS = "guid, type_name, label, end1, end2, status, body, create_time, update_time, version, created_by, " \
           "updated_by"


def load_entity(conn: sqlite3.Connection, guid: str) -> EntityRow | None:
    row = conn.execute(f"SELECT {ENTITY_COLS} FROM entity WHERE guid = ?", (guid,)).fetchone()
    return EntityRow.from_row(row) if row else None


def load_entities(conn: sqlite3.Connection, guids: list[str]) -> dict[str, EntityRow]:
    out: dict[str, EntityRow] = {}
    for i in range(0, len(guids), 500):
        chunk = guids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT {ENTITY_COLS} FROM entity WHERE guid IN ({marks})", chunk):
            e = EntityRow.from_row(row)
            out[e.guid] = e
    return out


def require_entity(conn: sqlite3.Connection, guid: str) -> EntityRow:
    e = load_entity(conn, guid)
    if e is None:
        raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, guid)
    return e


def find_by_unique(conn: sqlite3.Connection, registry: TypeRegistry, type_name: str,
                   unique_attrs: dict[str, Any], active_only: bool = True) -> EntityRow | None:
    """Atlas's findByUniqueAttributes: the type and its subtypes, ACTIVE entities first."""
    et = registry.entity_type(type_name)
    types = sorted(et.type_and_sub_types)
    for attr_name, value in unique_attrs.items():
        a = et.attributes.get(attr_name)
        if a is None or not a.unique or value is None:
            continue
        key = f"{a.defined_in}.{a.name}"
        marks = ",".join("?" * len(types))
        sql = (f"SELECT {', '.join('e.' + c.strip() for c in ENTITY_COLS.split(','))} FROM uattr u "
               f"JOIN entity e ON e.guid = u.guid WHERE u.attr = ? AND u.value = ? AND e.type_name IN ({marks})")
        if active_only:
            sql += " AND e.status = 'ACTIVE'"
        sql += " ORDER BY (e.status = 'ACTIVE') DESC, e.update_time DESC LIMIT 1"
        row = conn.execute(sql, [key, unique_key_value(value), *types]).fetchone()
        if row:
            return EntityRow.from_row(row)
    return None


def unique_key_value(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def display_text(t: StructType | None, attrs: dict[str, Any]) -> str | None:
    opt = t.display_text_attr() if t else None
    keys: tuple[str | None, ...] = (opt, "name", "displayName", "qualifiedName")
    for key in keys:
        if key and attrs.get(key) not in (None, ""):
            return str(attrs[key])
    return None


def header(registry: TypeRegistry, e: EntityRow, classifications: list[dict[str, Any]] | None = None,
           meanings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """AtlasEntityHeader; ``meanings``: the entity's term assignments (:func:`load_meanings`)."""
    t = registry.get(e.type_name)
    attrs = e.attributes
    hattrs: dict[str, Any] = {}
    if t is not None:
        for a in t.unique_attrs:
            if a.name in attrs:
                hattrs[a.name] = attrs[a.name]
        for name in HEADER_ATTRIBUTES:
            if name in t.attributes:
                hattrs[name] = attrs.get(name, "") if attrs.get(name) is not None else ""
    out: dict[str, Any] = {
        "typeName": e.type_name,
        "attributes": hattrs,
        "guid": e.guid,
        "status": e.status,
        "classificationNames": [c["typeName"] for c in classifications or []],
        "meaningNames": [m["displayText"] for m in meanings or [] if "displayText" in m],
        "meanings": list(meanings or []),
        "isIncomplete": e.is_incomplete,
        "labels": list(e.body.get("labels") or []),
    }
    if classifications is not None:
        out["classifications"] = classifications
    dt = display_text(t, attrs)
    if dt is not None:
        out["displayText"] = dt
    return out


def object_id(e: EntityRow) -> dict[str, Any]:
    qn = e.attributes.get("qualifiedName")
    out: dict[str, Any] = {"guid": e.guid, "typeName": e.type_name}
    if qn is not None:
        out["uniqueAttributes"] = {"qualifiedName": qn}
    return out


def related_object_id(registry: TypeRegistry, other: EntityRow, rel: RelRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "guid": other.guid,
        "typeName": other.type_name,
        "entityStatus": other.status,
        "relationshipType": rel.type_name,
        "relationshipGuid": rel.guid,
        "relationshipStatus": rel.status,
        "relationshipAttributes": {"typeName": rel.type_name},
    }
    if rel.body.get("attributes"):
        out["relationshipAttributes"]["attributes"] = rel.body["attributes"]
    dt = display_text(registry.get(other.type_name), other.attributes)
    if dt is not None:
        out["displayText"] = dt
    qn = other.attributes.get("qualifiedName")
    if qn is not None:
        out["qualifiedName"] = qn
    return out


def relationships_of(conn: sqlite3.Connection, guid: str, active_only: bool = True) -> list[RelRow]:
    cond = " AND status = 'ACTIVE'" if active_only else ""
    rows = conn.execute(
        f"SELECT {REL_COLS} FROM relationship WHERE end1 = ?{cond} UNION ALL "
        f"SELECT {REL_COLS} FROM relationship WHERE end2 = ? AND end1 != end2{cond}",
        (guid, guid),
    ).fetchall()
    return [RelRow.from_row(r) for r in rows]


# AtlasGlossarySemanticAssignment: end1 AtlasGlossaryTerm.assignedEntities, end2 Referenceable.meanings.
TERM_ASSIGNMENT = "AtlasGlossarySemanticAssignment"
_ASSIGNMENT_ATTRS = ("description", "expression", "createdBy", "steward", "source")


def load_meanings(conn: sqlite3.Connection, guid: str) -> list[dict[str, Any]]:
    """The entity's terms as AtlasTermAssignmentHeaders (EntityGraphRetriever.mapAssignedTerms)."""
    out: list[dict[str, Any]] = []
    rows = conn.execute(
        "SELECT r.guid, r.body, t.guid, t.body FROM relationship r JOIN entity t ON t.guid = r.end1 "
        "WHERE r.end2 = ? AND r.label = ? ORDER BY r.create_time, r.guid", (guid, "r:" + TERM_ASSIGNMENT))
    for rel_guid, rel_body, term_guid, term_body in rows:
        attrs = orjson.loads(rel_body).get("attributes") or {}
        term = orjson.loads(term_body).get("attributes") or {}
        h: dict[str, Any] = {"termGuid": term_guid, "relationGuid": rel_guid, "confidence": attrs.get("confidence", 0)}
        for key, value in (("displayText", term.get("name")), ("qualifiedName", term.get("qualifiedName")),
                           ("status", attrs.get("status")), *((k, attrs.get(k)) for k in _ASSIGNMENT_ATTRS)):
            if value not in (None, ""):
                h[key] = value
        out.append(h)
    return out


# An entity's classifications: its own (by name), then those propagated to it (by name, then source), each with the
# entityGuid of the entity it is attached to, as Atlas lists them (AtlasEntity.classifications).
CLASSIFICATIONS_ORDER = "ORDER BY (source_guid != entity_guid), type_name, source_guid"


def load_classifications(conn: sqlite3.Connection, guid: str) -> list[dict[str, Any]]:
    """The entity's classifications, own and propagated (catalog.embedded.propagation)."""
    rows = conn.execute(
        f"SELECT body FROM entity_classification WHERE entity_guid = ? {CLASSIFICATIONS_ORDER}", (guid,)
    ).fetchall()
    return [orjson.loads(r[0]) for r in rows]


def load_classifications_many(conn: sqlite3.Connection, guids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """:func:`load_classifications` of many entities, a few queries in all (entities without any left out)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for i in range(0, len(guids), 500):
        chunk = guids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for g, body in conn.execute(
                f"SELECT entity_guid, body FROM entity_classification WHERE entity_guid IN ({marks}) "
                f"{CLASSIFICATIONS_ORDER}", chunk):
            out.setdefault(g, []).append(orjson.loads(body))
    return out


def relationship_values(registry: TypeRegistry, t: StructType, e: EntityRow, rels: list[RelRow],
                        others: dict[str, EntityRow]) -> dict[str, list[tuple[RelRow, EntityRow]]]:
    """Group the entity's relationships by the attribute name they fill on this entity."""
    by_attr: dict[str, list[tuple[RelRow, EntityRow]]] = {}
    ends_by_rel: dict[tuple[str, int], str] = {}
    for attr, ends in t.rel_attrs.items():
        for end in ends:
            ends_by_rel[(end.rel_type, end.side)] = attr
    for r in rels:
        sides = []
        if r.end1 == e.guid:
            sides.append((1, r.end2))
        if r.end2 == e.guid:
            sides.append((2, r.end1))
        for side, other_guid in sides:
            attr_name = ends_by_rel.get((r.type_name, side))
            other = others.get(other_guid)
            if attr_name is None or other is None:
                continue
            by_attr.setdefault(attr_name, []).append((r, other))
    return by_attr


class _Empty:
    rel_attrs: ClassVar[dict[str, Any]] = {}


_EMPTY = _Empty()


def relationship_refs_many(conn: sqlite3.Connection, registry: TypeRegistry, entities: list[EntityRow],
                           names: list[str]) -> dict[str, dict[str, Any]]:
    """Relationship attributes as AtlasObjectIds for a page of search results, in a few queries."""
    guids = [e.guid for e in entities]
    rels_by: dict[str, list[RelRow]] = {g: [] for g in guids}
    # Only the relationship types behind the requested attributes (a table's db, not its many processes).
    rel_types = sorted({end.rel_type for e in entities for n in names
                        for end in ((registry.get(e.type_name) or _EMPTY).rel_attrs.get(n) or [])})
    if not rel_types:
        return {}
    tmarks = ",".join("?" * len(rel_types))
    for i in range(0, len(guids), 400):
        chunk = guids[i : i + 400]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            # "+type_name" keeps SQLite off the rel_type index: one type (hive_table_db) may have 100k rows,
            # while at most 400 guids each have a handful of relationships.
            f"SELECT {REL_COLS} FROM relationship WHERE status = 'ACTIVE' AND end1 IN ({marks}) "
            f"AND +type_name IN ({tmarks}) UNION ALL "
            f"SELECT {REL_COLS} FROM relationship WHERE status = 'ACTIVE' AND end2 IN ({marks}) AND end1 != end2 "
            f"AND +type_name IN ({tmarks})",
            chunk + rel_types + chunk + rel_types).fetchall()
        for row in rows:
            r = RelRow.from_row(row)
            for g in {r.end1, r.end2}:
                if g in rels_by:
                    rels_by[g].append(r)
    other_guids = {r.end2 if r.end1 == g else r.end1 for g, rs in rels_by.items() for r in rs}
    others = load_entities(conn, list(other_guids))
    out: dict[str, dict[str, Any]] = {}
    for e in entities:
        t = registry.get(e.type_name)
        if t is None:
            continue
        grouped = relationship_values(registry, t, e, rels_by.get(e.guid, []), others)
        attrs: dict[str, Any] = {}
        for n in names:
            if n not in t.rel_attrs:
                continue
            ids = [object_id(o) for _, o in grouped.get(n, [])]
            if any(end.cardinality in ("SET", "LIST") for end in t.rel_attrs[n]):
                attrs[n] = ids
            elif ids:
                attrs[n] = ids[0]
        out[e.guid] = attrs
    return out


def _shown_pairs(pairs: list[tuple[RelRow, EntityRow]], many: bool) -> list[tuple[RelRow, EntityRow]]:
    """What Atlas's retriever shows of an attribute's relationships, soft-deleted ones included
    (EntityGraphRetriever.mapRelationshipArrayAttribute): all of them for a SET/LIST end; for a SINGLE end the ACTIVE
    one, else the one deleted last (GraphHelper.getEdgeForLabel)."""
    if many or len(pairs) < 2:
        return pairs
    for pair in pairs:
        if pair[0].status == "ACTIVE":
            return [pair]
    latest = pairs[0]
    for pair in pairs[1:]:
        if pair[0].update_time >= latest[0].update_time:
            latest = pair
    return [latest]


def render_entity(conn: sqlite3.Connection, registry: TypeRegistry, e: EntityRow, *,
                  ignore_relationships: bool = False) -> tuple[dict[str, Any], list[str]]:
    """AtlasEntity JSON plus the guids of owned (COMPOSITION child) entities for referredEntities.

    Atlas deletes softly: a relationship deleted, or one whose end was deleted, stays on both ends with
    ``relationshipStatus: DELETED`` (and the other end's ``entityStatus``), in ``relationshipAttributes`` and in an
    attribute of the entity's attributeDefs that a relationship fills (Process.inputs). ``ignore_relationships``: no
    relationship attributes, so no owned entities either (Atlas then never maps them)."""
    t = registry.get(e.type_name)
    attrs = dict(e.attributes)
    rel_attrs: dict[str, Any] = {}
    owned: list[str] = []
    if t is not None:
        rels = relationships_of(conn, e.guid, active_only=False)
        others = load_entities(conn, list({r.end2 if r.end1 == e.guid else r.end1 for r in rels}))
        grouped = relationship_values(registry, t, e, rels, others)
        for attr, ends in t.rel_attrs.items():
            many = any(end.cardinality in ("SET", "LIST") for end in ends)
            pairs = _shown_pairs(grouped.get(attr, []), many)
            if not ignore_relationships:
                owned += [o.guid for r, o in pairs if _owns(t, attr, r)]
                values = [related_object_id(registry, o, r) for r, o in pairs]
                if many:
                    rel_attrs[attr] = values
                elif values:
                    rel_attrs[attr] = values[0]
            if attr in t.attributes:  # an attributeDef a relationship fills: Atlas shows it among the attributes too
                ids = [object_id(o) for _, o in pairs]
                if many:
                    attrs[attr] = ids
                elif ids:
                    attrs[attr] = ids[0]
    # AtlasEntity's fields in Jackson's order. Never "proxy", "provenanceType" or "homeId": Atlas stores those only
    # when importing, and maps an absent one to null, which it leaves out.
    out: dict[str, Any] = {
        "typeName": e.type_name,
        "attributes": attrs,
        "guid": e.guid,
        "isIncomplete": e.is_incomplete,
        "status": e.status,
        "createdBy": e.created_by,
        "updatedBy": e.updated_by,
        "createTime": e.create_time,
        "updateTime": e.update_time,
        "version": e.version,
    }
    if not ignore_relationships:
        out["relationshipAttributes"] = rel_attrs
    classifications = load_classifications(conn, e.guid)
    if classifications:
        out["classifications"] = classifications
    for key in ("customAttributes", "businessAttributes"):
        if key in e.body:
            out[key] = e.body[key]
    out["labels"] = list(e.body.get("labels") or [])
    return out, owned


def _owns(t: StructType, attr: str, r: RelRow) -> bool:
    end = t.rel_end(attr, r.type_name)
    return end is not None and end.is_container and end.category == "COMPOSITION"


def _min_info_names(t: StructType) -> set[str]:
    """AtlasEntityType.getMinInfoAttributes: the unique and header attributes, and the type's schemaAttributes."""
    names = {a.name for a in t.unique_attrs} | {n for n in HEADER_ATTRIBUTES if n in t.attributes}
    raw = (t.raw.get("options") or {}).get("schemaAttributes")
    try:
        listed = json.loads(raw) if isinstance(raw, str) else []
    except ValueError:
        listed = []
    if isinstance(listed, list):
        names |= {n for n in listed if isinstance(n, str) and n in t.attributes}
    return names


def render_entity_min(conn: sqlite3.Connection, registry: TypeRegistry, e: EntityRow) -> dict[str, Any]:
    """EntityGraphRetriever.mapVertexToAtlasEntityMin: system attributes, classifications and the min-info
    attributes; no relationships."""
    out, _ = render_entity(conn, registry, e, ignore_relationships=True)
    t = registry.get(e.type_name)
    if t is not None:
        keep = _min_info_names(t)
        out["attributes"] = {k: v for k, v in out["attributes"].items() if k in keep}
    return out


def _add_referred(conn: sqlite3.Connection, registry: TypeRegistry, owned: list[str], referred: dict[str, Any],
                  seen: set[str], min_ext_info: bool, ignore_relationships: bool) -> None:
    """The owned entities, and theirs in turn (mapVertexToRelatedObjectId maps an owned end into the ext info):
    in full, or in min form (which maps no relationships, so goes no deeper)."""
    stack = list(reversed(owned))
    while stack:
        g = stack.pop()
        if g in seen:
            continue
        seen.add(g)
        child = load_entity(conn, g)
        if child is None:
            continue
        if min_ext_info:
            referred[g] = render_entity_min(conn, registry, child)
            continue
        referred[g], grandchildren = render_entity(conn, registry, child, ignore_relationships=ignore_relationships)
        stack.extend(reversed(grandchildren))


def entity_with_ext_info(conn: sqlite3.Connection, registry: TypeRegistry, e: EntityRow, *,
                         min_ext_info: bool = False, ignore_relationships: bool = False) -> dict[str, Any]:
    """AtlasEntityWithExtInfo. ``referredEntities`` is always there, ``{}`` when nothing is owned: Atlas maps the
    entity itself into it first and ``compact()`` takes it out again, leaving an empty map, not none."""
    entity, owned = render_entity(conn, registry, e, ignore_relationships=ignore_relationships)
    referred: dict[str, Any] = {}
    _add_referred(conn, registry, owned, referred, {e.guid}, min_ext_info, ignore_relationships)
    return {"referredEntities": referred, "entity": entity}


def entities_with_ext_info(conn: sqlite3.Connection, registry: TypeRegistry, entities: list[EntityRow], *,
                           min_ext_info: bool = False, ignore_relationships: bool = False) -> dict[str, Any]:
    """AtlasEntitiesWithExtInfo (GET entity/bulk): ``referredEntities`` without the listed entities
    (AtlasEntitiesWithExtInfo.compact), there (``{}`` at least) as soon as one entity is: mapping an entity puts it
    in the map first. With no entity at all (a bulk read by unique attributes that found none) Atlas sends neither
    key."""
    if not entities:
        return {}
    listed = {e.guid for e in entities}
    out: list[dict[str, Any]] = []
    referred: dict[str, Any] = {}
    for e in entities:
        entity, owned = render_entity(conn, registry, e, ignore_relationships=ignore_relationships)
        out.append(entity)
        _add_referred(conn, registry, owned, referred, set(listed) | set(referred), min_ext_info,
                      ignore_relationships)
    return {"referredEntities": referred, "entities": out}
