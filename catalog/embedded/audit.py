"""Atlas's entity audit: ``EntityAuditEventV2`` events, written in the transaction of the change they record.

What each event says is ``EntityAuditListenerV2``'s: ``details`` is a prefix ("Created: ", "Added classification: ",
...) followed by the JSON of the entity or classification, or a sentence ("Deleted entity"). Events are read the way
Atlas's ``EntityREST.getAuditEvents`` reads its repository: newest first from an optional ``startKey``, or, when
``sortBy`` or ``offset`` is given, sorted by ``timestamp``/``user``/``action`` and sliced. Entities of Atlas's
internal types (``__internal`` subtypes: glossaries, terms, categories) are not audited, as in Atlas
(``AtlasEntityChangeNotifier.toAtlasEntities``).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import orjson

from catalog.embedded.entity_read import EntityRow
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import shown
from catalog.embedded.request_context import current_user
from catalog.embedded.typesystem import TypeRegistry

ACTIONS = frozenset({
    "ENTITY_CREATE", "ENTITY_UPDATE", "ENTITY_DELETE", "ENTITY_IMPORT_CREATE", "ENTITY_IMPORT_UPDATE",
    "ENTITY_IMPORT_DELETE", "CLASSIFICATION_ADD", "CLASSIFICATION_DELETE", "CLASSIFICATION_UPDATE",
    "PROPAGATED_CLASSIFICATION_ADD", "PROPAGATED_CLASSIFICATION_DELETE", "PROPAGATED_CLASSIFICATION_UPDATE",
    "TERM_ADD", "TERM_DELETE", "LABEL_ADD", "LABEL_DELETE", "ENTITY_PURGE", "BUSINESS_ATTRIBUTE_UPDATE",
    "CUSTOM_ATTRIBUTE_UPDATE",
})
# EntityAuditActionV2.fromString also reads the V1 names.
ACTION_ALIASES = {"TAG_ADD": "CLASSIFICATION_ADD", "TAG_DELETE": "CLASSIFICATION_DELETE",
                  "TAG_UPDATE": "CLASSIFICATION_UPDATE"}
INTERNAL_SUPERTYPE = "__internal"
DEFAULT_COUNT = 100  # EntityREST: @DefaultValue("100") short count; the sorted listing's limit < 0 as well
_COLS = "entity_guid, ts, idx, user_name, action, details, event_key"


def rewrite_body(conn: Any, guid: str, body: dict[str, Any], user: str) -> int:
    """Store an entity's new body as an update (time, user, version); returns the update's time for its events."""
    now = now_ms()
    conn.execute("UPDATE entity SET body = ?, update_time = ?, updated_by = ?, version = version + 1 WHERE guid = ?",
                 (to_json(body), now, user, guid))
    return now


def now_ms() -> int:
    return int(time.time() * 1000)


def is_audited(registry: TypeRegistry, type_name: str) -> bool:
    t = registry.get(type_name)
    return t is not None and not t.is_a(INTERNAL_SUPERTYPE)


def record(conn: sqlite3.Connection, guid: str, action: str, details: str, user: str | None = None,
           ts: int | None = None) -> None:
    """One event, in the caller's transaction (so it exists exactly when the change does)."""
    ts = now_ms() if ts is None else ts
    row = conn.execute("SELECT MAX(idx) FROM entity_audit WHERE entity_guid = ? AND ts = ?", (guid, ts)).fetchone()
    idx = 0 if row[0] is None else int(row[0]) + 1
    key = f"{guid}:{ts}:{idx}:{now_ms()}"
    conn.execute(f"INSERT INTO entity_audit({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (guid, ts, idx, user or current_user(), action, details, key))


def to_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def entity_json(e: EntityRow, classifications: list[dict[str, Any]] | None = None,
                relationship_attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The AtlasEntity an event carries: the entity as written by the request (Atlas audits the request's entity
    from its RequestContext cache), its references as object ids."""
    out: dict[str, Any] = {
        "typeName": e.type_name, "attributes": e.attributes, "guid": e.guid, "isIncomplete": False,
        "status": e.status, "createdBy": e.created_by, "updatedBy": e.updated_by, "createTime": e.create_time,
        "updateTime": e.update_time, "version": e.version,
    }
    if relationship_attributes:
        out["relationshipAttributes"] = relationship_attributes
    if classifications:
        out["classifications"] = classifications
    for key in ("customAttributes", "businessAttributes", "labels"):
        if e.body.get(key):
            out[key] = e.body[key]
    return out


def header_entity(header: dict[str, Any]) -> dict[str, Any]:
    """``new AtlasEntity(AtlasEntityHeader)``: what Atlas keeps of a purged entity."""
    out: dict[str, Any] = {k: header[k] for k in ("typeName", "attributes", "guid", "status") if k in header}
    out["isIncomplete"] = False
    if header.get("classifications"):
        out["classifications"] = header["classifications"]
    if header.get("labels"):
        out["labels"] = header["labels"]
    return out


def _event(row: tuple[Any, ...]) -> dict[str, Any]:
    # EntityAuditEventV2 is @JsonInclude(ALWAYS): "entity" is null unless the repository persists entity
    # definitions (atlas.EntityAuditRepository.persistEntityDefinition, false by default).
    return {"entityId": row[0], "timestamp": row[1], "user": row[3], "action": row[4], "details": row[5],
            "eventKey": row[6], "entity": None, "type": "ENTITY_AUDIT_V2"}


def parse_action(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    action = ACTION_ALIASES.get(value, value)
    if action not in ACTIONS:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"auditAction={shown(value, 60)} is not an audit action")
    return action


def _start(start_key: str) -> tuple[int, int]:
    parts = start_key.split(":")
    try:
        return int(parts[1]), int(parts[2])
    except (IndexError, ValueError) as e:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"startKey={shown(start_key, 80)} is not an event key") from e


def _sort_key(column: str) -> Any:
    col = column.lower()
    if col == "user":
        return lambda ev: (ev["user"].lower(), ev["timestamp"])
    if col == "action":
        return lambda ev: (ev["action"].lower(), ev["timestamp"])
    return lambda ev: ev["timestamp"]  # EntityAuditEventV2.sortEvents: anything else sorts by timestamp


def events(conn: sqlite3.Connection, guid: str, *, action: str | None = None, start_key: str | None = None,
           sort_by: str | None = None, sort_desc: bool = False, offset: int = -1, count: int = DEFAULT_COUNT
           ) -> list[dict[str, Any]]:
    """``EntityREST.getAuditEvents`` over the repository (HBaseBasedAuditRepository's semantics)."""
    sql = f"SELECT {_COLS} FROM entity_audit WHERE entity_guid = ?"
    args: list[Any] = [guid]
    if action is not None:
        sql += " AND action = ?"
        args.append(action)
    order = " ORDER BY ts DESC, idx DESC, seq DESC"
    if sort_by is not None or offset > -1:
        found = [_event(r) for r in conn.execute(sql + order, args)]
        found.sort(key=_sort_key(sort_by or "timestamp"), reverse=sort_desc)
        start = max(offset, 0)
        limit = DEFAULT_COUNT if count < 0 else count
        return found[start:start + limit] if limit > 0 else found[start:]
    if start_key:
        ts, idx = _start(start_key)
        sql += " AND (ts < ? OR (ts = ? AND idx <= ?))"
        args += [ts, ts, idx]
    if count < -1:
        return []
    if count > -1:
        order += f" LIMIT {int(count)}"
    return [_event(r) for r in conn.execute(sql + order, args)]


def purged_header(conn: sqlite3.Connection, guid: str) -> dict[str, Any] | None:
    """The entity header kept in a purged entity's ENTITY_PURGE event (EntityREST.getEntityHeaderFromPurgedAudit)."""
    row = conn.execute("SELECT details FROM entity_audit WHERE entity_guid = ? AND action = 'ENTITY_PURGE' "
                       "ORDER BY ts DESC, idx DESC LIMIT 1", (guid,)).fetchone()
    if row is None or "{" not in row[0]:
        return None
    try:
        header: Any = orjson.loads(row[0][row[0].index("{"):])
    except orjson.JSONDecodeError:
        return None
    return header if isinstance(header, dict) else None


def entities_with_tag_changes(conn: sqlite3.Connection, start: int, end: int) -> list[str]:
    """Guids with a CLASSIFICATION_* event in [start, end) (HBaseBasedAuditRepository.getEntitiesWithTagChanges:
    a prefix filter on the action, so propagated-classification events do not count)."""
    rows = conn.execute("SELECT DISTINCT entity_guid FROM entity_audit WHERE ts >= ? AND ts < ? "
                        "AND action LIKE 'CLASSIFICATION\\_%' ESCAPE '\\' ORDER BY entity_guid", (start, end))
    return [r[0] for r in rows]
