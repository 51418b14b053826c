"""``POST admin/checkstate``: checking entities for consistency (AdminResource.checkState, ``EntityStateChecker``).

Atlas checks what its graph keeps twice: an entity vertex's classification names against its classification edges.
The embedded store keeps these things twice, and checks each against its source:

- the qualifiedName/name columns and the unique-attribute index (``uattr``) against the entity's attributes; an
  ACTIVE entity sharing a unique value with another ACTIVE entity of its type family is reported, not fixed;
- its classifications' ``entityGuid``/``entityStatus`` against the entity, and their types against the registry
  (an unknown type is reported, not fixed);
- the classifications propagated to it whose source classification is gone, and those it propagates to entities that
  are gone;
- its relationships whose other end is gone (purged without them).

With ``fixIssues`` each fixable issue is fixed (index rows rewritten, stale rows removed, a dangling relationship
removed as a forced delete removes it), in one transaction. As in Atlas: only entities with issues are listed (by
guid), ``entityGuids`` wins over ``entityTypes``, ``"*"`` is every entity type, a type's scan is of that exact type
(not its subtypes, deleted entities included), an unknown type is skipped and an unknown guid is 404.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict

from catalog.embedded import entity_read as er
from catalog.embedded import propagation
from catalog.embedded.body_model import parse_model
from catalog.embedded.entity_read import EntityRow
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.typesystem import StructType, TypeRegistry

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

OK, FIXED, PARTIALLY_FIXED, NOT_FIXED = "OK", "FIXED", "PARTIALLY_FIXED", "NOT_FIXED"


class CheckStateRequest(BaseModel):
    """AtlasCheckStateRequest as Jackson reads it (unknown fields ignored)."""

    model_config = ConfigDict(extra="ignore")

    entityGuids: list[str] | None = None
    entityTypes: list[str] | None = None
    fixIssues: bool = False


def parse_request(body: Any) -> CheckStateRequest:
    return parse_model(CheckStateRequest, body, "AtlasCheckStateRequest")


@dataclass
class Check:
    """One entity's issues; each fixable one with what fixes it."""

    conn: sqlite3.Connection
    issues: list[str] = field(default_factory=list)
    fixes: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    unfixable: int = 0

    def fixable(self, issue: str, sql: str, *args: Any) -> None:
        self.issues.append(issue)
        self.fixes.append((sql, args))

    def report(self, issue: str) -> None:
        self.issues.append(issue)
        self.unfixable += 1


def _check_columns(c: Check, e: EntityRow) -> None:
    row = c.conn.execute("SELECT qualified_name, name FROM entity WHERE guid = ?", (e.guid,)).fetchone()
    for column, attr, stored in (("qualified_name", "qualifiedName", row[0]), ("name", "name", row[1])):
        value = e.attributes.get(attr)
        wanted = None if value is None else str(value)
        if stored != wanted:
            c.fixable(f"incorrect property: {attr} index has {stored!r}, the entity has {wanted!r}",
                      f"UPDATE entity SET {column} = ? WHERE guid = ?", wanted, e.guid)


def _check_unique(c: Check, registry: TypeRegistry, t: StructType, e: EntityRow) -> None:
    wanted = {(f"{a.defined_in}.{a.name}", er.unique_key_value(e.attributes[a.name]))
              for a in t.unique_attrs if e.attributes.get(a.name) is not None}
    stored = set(c.conn.execute("SELECT attr, value FROM uattr WHERE guid = ?", (e.guid,)).fetchall())
    missing, stale = sorted(wanted - stored), sorted(stored - wanted)
    if missing:
        c.issues.append(f"incorrect property: unique attribute index has missing values: {_pairs(missing)}")
    if stale:
        c.issues.append(f"incorrect property: unique attribute index has unassigned values: {_pairs(stale)}")
    if missing or stale:
        c.fixes.append(("DELETE FROM uattr WHERE guid = ?", (e.guid,)))
        c.fixes += [("INSERT OR IGNORE INTO uattr(attr, value, guid) VALUES (?, ?, ?)", (attr, value, e.guid))
                    for attr, value in sorted(wanted)]
    if e.status != "ACTIVE":
        return
    family = t.type_and_sub_types | t.all_super_types
    for attr, value in sorted(wanted):
        for other, other_type in c.conn.execute(
                "SELECT e.guid, e.type_name FROM uattr u JOIN entity e ON e.guid = u.guid WHERE u.attr = ? "
                "AND u.value = ? AND u.guid != ? AND e.status = 'ACTIVE'", (attr, value, e.guid)):
            if other_type in family:
                c.report(f"unique attribute {attr}={value!r} is also held by entity {other} ({other_type})")


def _pairs(pairs: list[tuple[str, str]]) -> str:
    return "[" + ", ".join(f"{attr}={value}" for attr, value in pairs) + "]"


def _check_classifications(c: Check, registry: TypeRegistry, e: EntityRow) -> None:
    for type_name, raw in c.conn.execute("SELECT type_name, body FROM classification WHERE entity_guid = ? "
                                         "ORDER BY type_name", (e.guid,)).fetchall():
        if registry.category_of(type_name) != "CLASSIFICATION":
            c.report(f"classification {type_name}: classification-type not found")
        body = orjson.loads(raw)
        wrong = {k: body.get(k) for k, v in (("entityGuid", e.guid), ("entityStatus", e.status)) if body.get(k) != v}
        if wrong:
            body.update(entityGuid=e.guid, entityStatus=e.status)
            c.fixable(f"incorrect property: classification {type_name} has "
                      + ", ".join(f"{k} {v!r}" for k, v in wrong.items()) + f"; the entity is {e.guid} ({e.status})",
                      "UPDATE classification SET body = ? WHERE entity_guid = ? AND type_name = ?",
                      orjson.dumps(body).decode(), e.guid, type_name)
    for type_name, source in c.conn.execute(
            "SELECT p.type_name, p.source_guid FROM propagated_classification p WHERE p.entity_guid = ? AND NOT EXISTS "
            "(SELECT 1 FROM classification s WHERE s.entity_guid = p.source_guid AND s.type_name = p.type_name) "
            "ORDER BY 1, 2", (e.guid,)).fetchall():
        c.fixable(f"incorrect property: propagated classification {type_name} from {source} has no source "
                  "classification", "DELETE FROM propagated_classification WHERE entity_guid = ? AND type_name = ? "
                  "AND source_guid = ?", e.guid, type_name, source)
    for type_name, target in c.conn.execute(
            "SELECT p.type_name, p.entity_guid FROM propagated_classification p WHERE p.source_guid = ? "
            "AND p.entity_guid != p.source_guid AND NOT EXISTS (SELECT 1 FROM entity t WHERE t.guid = p.entity_guid) "
            "ORDER BY 1, 2", (e.guid,)).fetchall():
        c.fixable(f"incorrect property: classification {type_name} is propagated to missing entity {target}",
                  "DELETE FROM propagated_classification WHERE entity_guid = ? AND type_name = ? AND source_guid = ?",
                  target, type_name, e.guid)


def _check_relationships(c: Check, e: EntityRow) -> list[str]:
    """Relationships to entities that are gone; returns their guids (removed as a forced delete removes them)."""
    dangling = []
    for rel, type_name, end1, end2 in c.conn.execute(
            "SELECT r.guid, r.type_name, r.end1, r.end2 FROM relationship r WHERE (r.end1 = ? OR r.end2 = ?) AND "
            "NOT EXISTS (SELECT 1 FROM entity o WHERE o.guid = CASE WHEN r.end1 = ? THEN r.end2 ELSE r.end1 END) "
            "ORDER BY r.guid", (e.guid, e.guid, e.guid)).fetchall():
        other = end2 if end1 == e.guid else end1
        c.issues.append(f"relationship {rel} ({type_name}) refers to missing entity {other}")
        dangling.append(rel)
    return dangling


def _name(t: StructType | None, e: EntityRow) -> str | None:
    """EntityStateChecker.getEntityName: the qualifiedName, else the first unique attribute with a value."""
    if e.attributes.get("qualifiedName") is not None:
        return str(e.attributes["qualifiedName"])
    for a in t.unique_attrs if t is not None else []:
        if e.attributes.get(a.name) is not None:
            return str(e.attributes[a.name])
    return None


def check_entity(conn: sqlite3.Connection, registry: TypeRegistry, e: EntityRow, fix: bool) -> dict[str, Any]:
    """AtlasEntityState of one entity (issues fixed if ``fix``)."""
    c = Check(conn)
    t = registry.get(e.type_name)
    _check_columns(c, e)
    if t is None or t.category != "ENTITY":
        c.report(f"entity-type {e.type_name} not found")
    else:
        _check_unique(c, registry, t, e)
    _check_classifications(c, registry, e)
    dangling = _check_relationships(c, e)
    state = OK
    if c.issues:
        state = NOT_FIXED
        if fix:
            for sql, args in c.fixes:
                conn.execute(sql, args)
            for rel in dangling:
                propagation.relationship_purged(conn, registry, rel)
                conn.execute("DELETE FROM relationship WHERE guid = ?", (rel,))
            state = FIXED if not c.unfixable else PARTIALLY_FIXED if c.fixes or dangling else NOT_FIXED
    out = {"guid": e.guid, "typeName": e.type_name, "name": _name(t, e), "status": e.status, "state": state,
           "issues": c.issues or None}
    return {k: v for k, v in out.items() if v is not None}


def _targets(conn: sqlite3.Connection, registry: TypeRegistry, request: CheckStateRequest) -> list[EntityRow]:
    if request.entityGuids:
        out = []
        for guid in dict.fromkeys(request.entityGuids):
            out.append(er.require_entity(conn, guid))
        return out
    types = list(dict.fromkeys(request.entityTypes or []))
    if "*" in types:
        types = sorted(n for n, d in registry.defs.items() if d.get("category") == "ENTITY")
    out = []
    for type_name in types:
        if registry.category_of(type_name) != "ENTITY":
            continue  # Atlas logs "entity-type not found" and goes on
        rows = conn.execute(f"SELECT {er.ENTITY_COLS} FROM entity WHERE type_name = ? ORDER BY guid",
                            (type_name,)).fetchall()
        out += [EntityRow.from_row(r) for r in rows]
    return out


def summarize(states: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {s: sum(1 for e in states if e["state"] == s) for s in (OK, FIXED, PARTIALLY_FIXED, NOT_FIXED)}
    fixed, partly, not_fixed = counts[FIXED], counts[PARTIALLY_FIXED], counts[NOT_FIXED]
    if not (fixed or partly or not_fixed):
        state = OK
    elif partly:
        state = PARTIALLY_FIXED
    elif not_fixed:
        state = PARTIALLY_FIXED if fixed else NOT_FIXED
    else:
        state = FIXED
    out: dict[str, Any] = {"entitiesScanned": len(states), "entitiesOk": counts[OK], "entitiesFixed": fixed,
                           "entitiesPartiallyFixed": partly, "entitiesNotFixed": not_fixed, "state": state}
    listed = {e["guid"]: e for e in states if e["state"] != OK}
    if listed:
        out["entities"] = listed
    return out


def fix_entities(conn: sqlite3.Connection, registry: TypeRegistry, guids: Iterable[str]) -> list[dict[str, Any]]:
    """Check and fix the entities of ``guids`` in the caller's transaction (guids no longer stored are skipped): the
    AtlasEntityState of each, for callers that choose entities otherwise than a request does (index recovery)."""
    rows: list[EntityRow] = []
    wanted = list(dict.fromkeys(guids))
    for i in range(0, len(wanted), propagation.CHUNK):
        chunk = wanted[i : i + propagation.CHUNK]
        rows += [EntityRow.from_row(r) for r in conn.execute(
            f"SELECT {er.ENTITY_COLS} FROM entity WHERE guid IN ({','.join('?' * len(chunk))}) ORDER BY guid", chunk)]
    return [check_entity(conn, registry, e, True) for e in rows]


def check_state(store: EmbeddedStore, request: CheckStateRequest) -> dict[str, Any]:
    """AtlasCheckStateResult of the request's entities."""
    if request.fixIssues:
        with store.db.write() as conn:
            return summarize([check_entity(conn, store.registry, e, True)
                              for e in _targets(conn, store.registry, request)])
    conn = store.db.reader()
    return summarize([check_entity(conn, store.registry, e, False) for e in _targets(conn, store.registry, request)])


def checkstate(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    """``POST admin/checkstate``; no body is an empty request (nothing scanned, state OK), as Atlas reads it."""
    request = parse_request(req.json()) if req.body.strip() else CheckStateRequest()
    return check_state(store, request)
