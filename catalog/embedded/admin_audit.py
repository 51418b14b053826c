"""Atlas's admin audit (``AtlasAuditService``, ``AtlasAuditEntry``): what the server did that is no one entity's change.

Recorded as Atlas records them: ``SERVER_START`` (``ServiceStateChangeAuditHandler``: user ``atlas``, no params);
``TYPE_DEF_CREATE`` / ``_UPDATE`` / ``_DELETE`` (``TypeDefAuditListener``: params the categories, result the defs
grouped by category as JSON, resultCount how many), written in the transaction of the change; ``PURGE``
(``AdminResource.purgeByIds``: params the requested guids as Java prints a set, result the purged ones joined by
commas); ``EXPORT`` / ``IMPORT`` (``AdminResource.auditImportExportOperations``,
``ImportService.addToImportOperationAudits``: params the request's options with its operationStatus, result the
items counted by type, else the import's metrics; written by :func:`catalog.embedded.impexp_audit.admin_entry`). The
clientId is the caller's address, else ``host:address`` of this machine, as Atlas's. The scheduled purge does not
exist here, so neither do its entries. The types the store loads at start-up are not audited (the store's bootstrap,
not a request).

``POST admin/audits`` searches the entries with ``AuditSearchParameters``: a FilterCriteria on their attributes
(the filters of a basic search, criteria without a value dropped as ``AtlasAuditService.getNonEmptyFilter`` does),
``sortBy`` one of them, ``limit`` and ``offset``. ``GET admin/audit/{guid}/details`` lists the entities a purge
entry names; ``summary`` and ``batches`` belong to the SUMMARY and BATCH entries of Atlas's batched purge
(``PurgeAuditWriter``), which the store, purging in one transaction, never writes (:data:`ROUTES`).
"""

from __future__ import annotations

import functools
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson

from catalog.embedded import audit
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import JAVA_INT, in_range, shown
from catalog.embedded.search_filters import criteria_ok
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.typedefs import typedef_names
from catalog.embedded.websession import current_web

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

SERVER_USER = "atlas"  # ServiceStateChangeAuditHandler.ADMIN_AUDIT_USER
# AtlasAuditEntryDTO's attributes: the only names a filter or sortBy may use
ATTRIBUTES = {"userName": "user_name", "operation": "operation", "params": "params", "startTime": "start_time",
              "endTime": "end_time", "clientId": "client_id", "result": "result", "resultCount": "result_count",
              "runId": None, "auditRowKind": None}
ENTRY_TYPE = "Atlas Audit Entry"  # how AtlasAuditService names the type in UNKNOWN_ATTRIBUTE
PURGE_OPERATIONS = frozenset({"PURGE", "AUTO_PURGE"})  # AuditOperation.toEntityAuditActionV2: ENTITY_PURGE
_ENTRY_COLS = "guid, user_name, operation, params, start_time, end_time, client_id, result, result_count"
# AtlasEntityHeader's properties: what Jackson keeps of an audit event's entity JSON (getEntityHeader)
_HEADER_KEYS = ("typeName", "attributes", "guid", "status", "displayText", "classificationNames", "classifications",
                "meaningNames", "meanings", "isIncomplete", "labels")


def now_ms() -> int:
    return int(time.time() * 1000)


@functools.cache
def _this_machine() -> str:
    try:
        host = socket.gethostname()
        return f"{host}:{socket.gethostbyname(host)}"
    except OSError:
        return "unknown"


def record(conn: sqlite3.Connection, operation: str, user: str, *, start_ms: int, params: str | None = None,
           result: str | None = None, result_count: int = 0, client: str | None = None) -> str:
    """Write one entry (in the caller's transaction); its guid."""
    guid = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO admin_audit(guid, user_name, operation, params, start_time, end_time, client_id, result, "
        "result_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (guid, user, operation, params, start_ms, now_ms(), client or current_web().client or _this_machine(),
         result, result_count))
    return guid


def server_started(store: EmbeddedStore, start_ms: int) -> None:
    """SERVER_START: the server serving ``store`` began at ``start_ms``."""
    with store.db.write() as conn:
        record(conn, "SERVER_START", SERVER_USER, start_ms=start_ms, client=_this_machine())


def last_server_start(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT MAX(start_time) FROM admin_audit WHERE operation = 'SERVER_START'").fetchone()
    return None if row is None or row[0] is None else int(row[0])


# -- typedef changes and purges, with their entries ----------------------------------------------------------
def _typedef_entry(conn: sqlite3.Connection, operation: str, defs: list[dict[str, Any]], user: str,
                   start_ms: int) -> None:
    if not defs:
        return
    by_category: dict[str, list[dict[str, Any]]] = {}
    for d in defs:
        by_category.setdefault(str(d.get("category")), []).append(d)
    record(conn, operation, user, start_ms=start_ms, params=",".join(by_category),
           result=orjson.dumps(by_category).decode(), result_count=len(defs))


@contextmanager
def _in_write(store: EmbeddedStore) -> Iterator[tuple[sqlite3.Connection, int]]:
    start = now_ms()
    with store.db.write() as conn:
        yield conn, start


def create_typedefs(store: EmbeddedStore, body: Any, user: str) -> list[dict[str, Any]]:
    with _in_write(store) as (conn, start):
        created = store.typedefs.create(body, user)
        _typedef_entry(conn, "TYPE_DEF_CREATE", created, user, start)
        return created


def update_typedefs(store: EmbeddedStore, body: Any, user: str) -> list[dict[str, Any]]:
    with _in_write(store) as (conn, start):
        updated = store.typedefs.update(body, user)
        _typedef_entry(conn, "TYPE_DEF_UPDATE", updated, user, start)
        return updated


def _deleting(store: EmbeddedStore, names: list[str], delete: Callable[[], None], user: str) -> None:
    with _in_write(store) as (conn, start):
        doomed = [store.typedefs.get_by_name(n) for n in dict.fromkeys(names) if store.registry.raw_def(n)]
        delete()
        _typedef_entry(conn, "TYPE_DEF_DELETE", doomed, user, start)


def delete_typedefs(store: EmbeddedStore, body: Any, user: str) -> None:
    _deleting(store, typedef_names(body), lambda: store.typedefs.delete(body), user)


def delete_typedef_names(store: EmbeddedStore, names: list[str], user: str) -> None:
    _deleting(store, names, lambda: store.typedefs.delete_names(names), user)


def purge(store: EmbeddedStore, guids: list[str], user: str) -> dict[str, Any]:
    """``PUT admin/purge`` with its entry, when anything was purged."""
    with _in_write(store) as (conn, start):
        response = store.purge(guids)
        purged = [h["guid"] for h in (response.get("mutatedEntities") or {}).get("PURGE") or []]
        if purged:
            record(conn, "PURGE", user, start_ms=start, params="[" + ", ".join(guids) + "]",
                   result=",".join(purged), result_count=len(purged))
        return response


# -- search -------------------------------------------------------------------------------------------------
def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    guid, user, operation, params, start, end, client, result, count = row
    out = {"guid": guid, "userName": user, "operation": operation, "params": params, "startTime": start,
           "endTime": end, "clientId": client, "result": result, "resultCount": count, "auditRowKind": "SINGLE"}
    return {k: v for k, v in out.items() if v is not None}


def _non_empty(crit: Any) -> dict[str, Any] | None:
    """AtlasAuditService.getNonEmptyFilter: unknown attributes refused, criteria without a value dropped."""
    if not isinstance(crit, dict):
        return None
    out: dict[str, Any] = {"condition": crit.get("condition")}
    criterion = crit.get("criterion")
    if not isinstance(criterion, list):
        return _leaf(crit)
    kept = []
    for each in criterion:
        if isinstance(each, dict) and each.get("condition") and each.get("criterion"):
            nested = _non_empty(each)
            if nested and nested.get("criterion"):
                kept.append(nested)
        elif isinstance(each, dict):
            leaf = _leaf(each)
            if leaf is not None:
                kept.append(leaf)
    out["criterion"] = kept
    return out


def _leaf(crit: dict[str, Any]) -> dict[str, Any] | None:
    name = crit.get("attributeName")
    if name and name not in ATTRIBUTES:
        raise AtlasError(ErrorCode.UNKNOWN_ATTRIBUTE, name, ENTRY_TYPE)
    value = crit.get("attributeValue")
    if value is None or value == "":
        return None
    return {"attributeName": name, "operator": crit.get("operator"), "attributeValue": value}


def search(conn: sqlite3.Connection, params: Any, default_limit: int, max_limit: int) -> list[dict[str, Any]]:
    """``POST admin/audits``: the entries matching an AuditSearchParameters body, one page of them."""
    if not isinstance(params, dict):
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "Audit Search Parameters not specified")
    sort_by = params.get("sortBy")
    if sort_by and sort_by not in ATTRIBUTES:
        raise AtlasError(ErrorCode.UNKNOWN_ATTRIBUTE, sort_by, ENTRY_TYPE)
    limit, offset = _int(params, "limit"), _int(params, "offset")
    if limit <= 0 or limit > max_limit:  # SearchContext: no limit, or over the largest, is the default page
        limit = default_limit
    crit = _non_empty(params.get("auditFilters"))
    rows = conn.execute(f"SELECT {_ENTRY_COLS} FROM admin_audit ORDER BY start_time, rowid").fetchall()
    entries = [e for e in map(_entry, rows) if _matches(e, crit)]
    if sort_by:
        descending = str(params.get("sortOrder") or "ASCENDING").upper() == "DESCENDING"
        present = [e for e in entries if e.get(sort_by) is not None]
        missing = [e for e in entries if e.get(sort_by) is None]
        entries = sorted(present, key=lambda e: e[sort_by], reverse=descending) + missing
    return entries[max(offset, 0): max(offset, 0) + limit]


def _matches(entry: dict[str, Any], crit: dict[str, Any] | None) -> bool:
    return criteria_ok(entry.get, crit)


def _int(params: dict[str, Any], name: str) -> int:
    """An int field as Jackson reads one: a number, or a string of one; a Java int."""
    value = params.get(name)
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) < 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not in_range(value, JAVA_INT):
        raise AtlasError(ErrorCode.BAD_REQUEST, f"{name}: not an integer: {shown(value, 40)}")
    return value


# -- one entry ----------------------------------------------------------------------------------------------
def _load(conn: sqlite3.Connection, guid: str) -> dict[str, Any]:
    """The entry (AdminResource reads it with ``entityStore.getById``: an unknown guid is its 404)."""
    row = conn.execute(f"SELECT {_ENTRY_COLS} FROM admin_audit WHERE guid = ?", (guid,)).fetchone()
    if row is None:
        raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, guid)
    return _entry(row)


def details(conn: sqlite3.Connection, guid: str, limit: int, offset: int) -> list[dict[str, Any]]:
    """``GET admin/audit/{guid}/details`` (AdminResource.getAuditDetails): the guids of the entry's result (a
    purge's: the purged entities), ``limit`` of them from ``offset``, each as the entity header of its latest
    ENTITY_PURGE event. An entry without a result has none; any other operation with one is Atlas's 500 from
    ``AuditOperation.toEntityAuditActionV2`` (a typedef change is no entity audit action)."""
    entry = _load(conn, guid)
    if offset < 0:  # Atlas indexes the guids with it: an ArrayIndexOutOfBoundsException, its 500
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"offset={offset} must not be negative")
    result = entry.get("result")
    if not result:
        return []
    operation = str(entry.get("operation"))
    if operation not in PURGE_OPERATIONS:
        raise AtlasError(ErrorCode.INTERNAL_ERROR_MESSAGE, f"Invalid operation for Entity Audit Event V2: {operation}")
    out = []
    for entity_guid in str(result).split(",")[offset:offset + max(limit, 0)]:
        header = audit.purged_header(conn, entity_guid)
        if header is not None:
            out.append({"status": "ACTIVE", "isIncomplete": False,
                        **{k: header[k] for k in _HEADER_KEYS if header.get(k) is not None}})
    return out


def _purge_run_entry(conn: sqlite3.Connection, guid: str) -> dict[str, Any]:
    """AdminResource.loadSummaryPurgeAuditEntry: a SUMMARY entry of Atlas's batched purge. The store writes SINGLE
    entries only, refused as Atlas refuses one (``PurgeUtils.isCorrelatedPurgeAudit``)."""
    _load(conn, guid)
    raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"Not a purge audit entry: {guid}")


def purge_summary(conn: sqlite3.Connection, guid: str) -> dict[str, Any]:
    """``GET admin/audit/{guid}/summary`` (AdminResource.getPurgeAuditSummary): a batched purge's PurgeSummary."""
    return _purge_run_entry(conn, guid)


def purge_batches(conn: sqlite3.Connection, guid: str) -> list[str]:
    """``GET admin/audit/{guid}/batches`` (AdminResource.getPurgeAuditBatches): a batched purge's BATCH entries."""
    _purge_run_entry(conn, guid)
    return []


# -- routes (routes_admin.ROUTES takes them in) ------------------------------------------------------------
def _details_route(store: EmbeddedStore, req: AtlasRequest) -> list[dict[str, Any]]:
    return details(store.db.reader(), req.param("auditGuid"), req.qint("limit", 10), req.qint("offset", 0))


def _summary_route(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    return purge_summary(store.db.reader(), req.param("auditGuid"))


def _batches_route(store: EmbeddedStore, req: AtlasRequest) -> list[str]:
    return purge_batches(store.db.reader(), req.param("auditGuid"))


Route = tuple[str, str, Callable[[EmbeddedStore, "AtlasRequest"], Any], int]
ROUTES: list[Route] = [
    ("GET", "/admin/audit/{auditGuid}/details", _details_route, 200),
    ("GET", "/admin/audit/{auditGuid}/summary", _summary_route, 200),
    ("GET", "/admin/audit/{auditGuid}/batches", _batches_route, 200),
]
