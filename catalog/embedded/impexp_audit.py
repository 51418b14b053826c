"""What an export or import leaves behind, as Atlas's ``AuditsWriter`` writes it.

Atlas keeps these as entities (``DataAccess`` over the OGM DTOs): an ``AtlasServer`` per server named
(``AtlasServerService.getCreateAtlasServer``: this one, ``default``, on every export/import; the other end of a
replication too, with ``REPL_DETAILS`` in its ``additionalInfo``), and an ``__ExportImportAuditEntry`` per export or
import that moved at least one entity (``ExportImportAuditService.add``). ``GET admin/server/{serverName}`` loads an
AtlasServer by ``fullName``; ``GET admin/expimp/audit`` searches the audit entries. Each operation also writes
Atlas's admin audit entry (``AtlasAuditService``: operation EXPORT or IMPORT).

Atlas then marks every replicated entity's ``replicatedTo`` / ``replicatedFrom``; this store does not (yet).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

import orjson

from catalog.embedded import admin_audit
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.impexp_model import CURRENT_CLUSTER
from catalog.embedded.store import EmbeddedStore

SERVER_TYPE = "AtlasServer"
AUDIT_TYPE = "__ExportImportAuditEntry"
REPL_DETAILS = "REPL_DETAILS"
# ExportImportAuditEntryDTO's attribute names -> ExportImportAuditEntry's JSON property names
_AUDIT_PROPERTIES = {"userName": "userName", "operation": "operation", "operationParams": "operationParams",
                     "operationStartTime": "startTime", "operationEndTime": "endTime",
                     "resultSummary": "resultSummary", "sourceServerName": "sourceServerName",
                     "targetServerName": "targetServerName"}


def _attr(name: str, type_name: str, optional: bool = True) -> dict[str, Any]:
    return {"name": name, "typeName": type_name, "cardinality": "SINGLE", "isOptional": optional,
            "isUnique": False, "isIndexable": True}


# Atlas's 0010-base_model.json defines both; the store's bundled model (typedefs/0010-base.json) lacks them, so they
# are created the first time an export or import needs them.
AUDIT_TYPES: dict[str, list[dict[str, Any]]] = {
    "entityDefs": [
        {"name": "__internal", "serviceType": "atlas_core", "typeVersion": "1.0", "attributeDefs": []},
        {"name": AUDIT_TYPE, "superTypes": ["__internal"], "serviceType": "atlas_core", "typeVersion": "1.0",
         "attributeDefs": [_attr("userName", "string"), _attr("operation", "string", False),
                           _attr("sourceServerName", "string"), _attr("targetServerName", "string"),
                           _attr("operationParams", "string"), _attr("operationStartTime", "long", False),
                           _attr("operationEndTime", "long"), _attr("resultSummary", "string")]},
    ]}


def ensure_types(store: EmbeddedStore) -> None:
    missing = [d for d in AUDIT_TYPES["entityDefs"] if store.registry.raw_def(d["name"]) is None]
    if missing:
        store.typedefs.create({"entityDefs": missing}, "admin")


def server_name_of(full_name: str) -> str:
    """AuditsWriter.getServerNameFromFullName: ``dc$server`` names ``server``."""
    if "$" not in full_name:
        return full_name
    parts = [p for p in full_name.split("$") if p]
    if not parts:
        return ""
    return parts[1] if len(parts) >= 2 else parts[0]


def _find(conn: sqlite3.Connection, type_name: str, attr: str, value: str) -> dict[str, Any] | None:
    for guid, body in conn.execute("SELECT guid, body FROM entity WHERE type_name = ? AND status = 'ACTIVE'",
                                   (type_name,)):
        attrs = orjson.loads(body).get("attributes") or {}
        if attrs.get(attr) == value:
            return {"guid": guid, "attributes": attrs}
    return None


def get_create_server(store: EmbeddedStore, conn: sqlite3.Connection, name: str, full_name: str, user: str
                      ) -> dict[str, Any]:
    """AtlasServerService.getCreateAtlasServer (in the caller's write transaction)."""
    found = _find(conn, SERVER_TYPE, "fullName", full_name)
    if found is not None:
        return found
    attrs = {"name": name, "displayName": name, "fullName": full_name, "additionalInfo": {}, "urls": []}
    store.create_or_update([{"typeName": SERVER_TYPE, "guid": "-1", "attributes": attrs}], None, user)
    saved = _find(conn, SERVER_TYPE, "fullName", full_name)
    assert saved is not None
    return saved


def save_replication(store: EmbeddedStore, conn: sqlite3.Connection, full_name: str, entity_guid: str,
                     timestamp: int, user: str) -> None:
    """AuditsWriter.saveServer: the server replicated to/from, with the replicated entity's time in REPL_DETAILS."""
    server = get_create_server(store, conn, server_name_of(full_name), full_name, user)
    info = dict(server["attributes"].get("additionalInfo") or {})
    details = orjson.loads(info[REPL_DETAILS]) if REPL_DETAILS in info else {}
    if timestamp == 0:
        details.pop(entity_guid, None)
    else:
        details[entity_guid] = timestamp
    info[REPL_DETAILS] = orjson.dumps(details).decode()
    store.create_or_update([{"typeName": SERVER_TYPE, "guid": server["guid"],
                             "attributes": {**server["attributes"], "additionalInfo": info}}], None, user, partial=True)


def add_entry(store: EmbeddedStore, user: str, source: str, target: str, operation: str, result: dict[str, Any],
              start: int, end: int) -> None:
    """ExportImportAuditService.add (the caller checked there was data)."""
    attrs = {"userName": user, "operation": operation, "sourceServerName": source, "targetServerName": target,
             "resultSummary": orjson.dumps(result).decode(), "operationStartTime": start, "operationEndTime": end}
    store.create_or_update([{"typeName": AUDIT_TYPE, "guid": "-1", "attributes": attrs}], None, user)


def admin_entry(conn: sqlite3.Connection, operation: str, user: str, start: int, params: dict[str, Any],
                items: list[dict[str, Any]] | None, metrics: dict[str, int], processed: int) -> None:
    """AdminResource.auditImportExportOperations / ImportService.addToImportOperationAudits: the admin audit's
    EXPORT or IMPORT entry, its result the exported items counted by type (else the import's metrics)."""
    if items is None:
        result, count = orjson.dumps(metrics).decode(), processed
    else:
        result, count = orjson.dumps(dict(Counter(i["typeName"] for i in items))).decode(), len(items)
    admin_audit.record(conn, operation, user, start_ms=start, params=orjson.dumps(params).decode(), result=result,
                       result_count=count)


# -- reads ----------------------------------------------------------------------------------------------------
def get_server(store: EmbeddedStore, server_name: str) -> dict[str, Any]:
    """``GET admin/server/{serverName}``: ``new AtlasServer(serverName, serverName)`` loaded by its fullName."""
    found = _find(store.db.reader(), SERVER_TYPE, "fullName", server_name)
    if found is None:
        raise AtlasError(ErrorCode.INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND, SERVER_TYPE, {"fullName": server_name})
    attrs = found["attributes"]
    out: dict[str, Any] = {"guid": found["guid"]}
    for key in ("name", "fullName", "displayName", "additionalInfo", "urls"):
        if attrs.get(key) is not None:
            out[key] = attrs[key]
    return out


def search_entries(store: EmbeddedStore, *, user: str | None, operation: str | None, server: str | None,
                   start: str | None, end: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    """``GET admin/expimp/audit``: every filter given must equal (the server either end), as the FilterCriteria
    of ExportImportAuditService.get; the basic search's paging."""
    wanted = {"userName": user, "operation": operation, "operationStartTime": start, "operationEndTime": end}
    out: list[dict[str, Any]] = []
    for guid, body in store.db.reader().execute(
            "SELECT guid, body FROM entity WHERE type_name = ? AND status = 'ACTIVE' ORDER BY rowid", (AUDIT_TYPE,)):
        attrs = orjson.loads(body).get("attributes") or {}
        if any(v and str(attrs.get(k)) != v for k, v in wanted.items()):
            continue
        if server and server not in (attrs.get("sourceServerName"), attrs.get("targetServerName")):
            continue
        entry: dict[str, Any] = {"guid": guid}
        for attr, prop in _AUDIT_PROPERTIES.items():
            if attrs.get(attr) is not None:
                entry[prop] = attrs[attr]
        entry.setdefault("startTime", 0)
        entry.setdefault("endTime", 0)
        out.append(entry)
    return out[offset:offset + limit]


def current_server(store: EmbeddedStore, conn: sqlite3.Connection, user: str) -> None:
    """AuditsWriter.saveCurrentServer."""
    get_create_server(store, conn, CURRENT_CLUSTER, CURRENT_CLUSTER, user)
