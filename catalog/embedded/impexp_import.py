"""``POST admin/import`` and ``admin/importfile``, as Atlas's ``ImportService`` runs them.

The ZIP (an export of this store or of Atlas) is read whole and checked before anything is written
(``ZipSource``: no entries, or an empty ``atlas-export-order.json``, is IMPORT_ATTEMPTING_EMPTY_ZIP). Then, as
``ImportTypeDefProcessor``: the types the store lacks are created, and attributes (enum elements) a stored type
lacks are added (``updateTypeDefinition: false`` skips both). Then the entities, in ``atlas-export-order.json``'s
order (``startGuid``/``startPosition`` skip ahead), each with its referred entities, keeping their guids
(``RegularImport`` over ``createOrUpdateForImport``, see :mod:`impexp_writer`): a reference to an entity neither in
the store nor in the ZIP entry is left out, as Atlas's ``EntityGraphMapper`` leaves it out while importing (the other
end, imported later, makes the relationship); an entity that cannot be written yet waits at the end of the order (the
residual list) and is tried again while that makes progress. An entity exported DELETED is deleted after.

Unlike Atlas (a transaction per entity), the entities of one import are one transaction: an import that fails
leaves no entity of it behind (the types it created stay, as in Atlas).
"""

from __future__ import annotations

import io
import sqlite3
import zipfile
from dataclasses import dataclass, field
from typing import Any

import orjson

from catalog.embedded import admin_audit, impexp_audit
from catalog.embedded.entity_delete import delete_entities
from catalog.embedded.entity_write import MutationResult, is_assigned_guid
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.impexp_model import (
    CURRENT_CLUSTER,
    EXPORT_INFO,
    EXPORT_ORDER,
    TYPESDEF,
    TYPESDEF_KEYS,
    ImportRequest,
    client_ip,
    host_name,
    increment,
    now_ms,
)
from catalog.embedded.impexp_writer import ImportWriter
from catalog.embedded.store import EmbeddedStore

# errors of an entity that may succeed once others are in (RegularImport retries only INVALID_OBJECT_ID, but this
# store reports an unresolvable reference or a missing mandatory relationship with these)
RETRIED = (ErrorCode.INVALID_OBJECT_ID, ErrorCode.REFERENCED_ENTITY_NOT_FOUND, ErrorCode.INSTANCE_CRUD_INVALID_PARAMS)
_TYPEDEF_METRICS = {"classificationDefs": "classification", "enumDefs": "enum", "entityDefs": "entitydef",
                    "structDefs": "struct", "relationshipDefs": "relationship",
                    "businessMetadataDefs": "businessmetadata"}
_UPDATE_METRICS = {"enumDefs": "enum", "structDefs": "struct", "classificationDefs": "classification",
                   "entityDefs": "entitydef", "relationshipDefs": "relationshipdef",
                   "businessMetadataDefs": "businessmetadatadef"}


@dataclass
class ZipSource:
    export_result: dict[str, Any]
    typesdef: dict[str, Any]
    order: list[str]
    entries: dict[str, bytes] = field(repr=False)

    def entity(self, guid: str) -> dict[str, Any]:
        value = _json(guid, self.entries[guid])
        if not isinstance(value, dict) or not isinstance(value.get("entity"), dict):
            raise AtlasError(ErrorCode.IMPORT_INVALID_ZIP_ENTRY, guid + ".json", "not an AtlasEntityWithExtInfo")
        return value


def _json(name: str, data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise AtlasError(ErrorCode.IMPORT_INVALID_ZIP_ENTRY, name + ".json", f"malformed JSON: {e}") from e


def read_zip(data: bytes) -> ZipSource:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        if not data:
            raise AtlasError(ErrorCode.IMPORT_ATTEMPTING_EMPTY_ZIP) from e
        raise AtlasError(ErrorCode.BAD_REQUEST, f"data is not a ZIP file: {e}") from e
    entries: dict[str, bytes] = {}
    with archive:
        for info in archive.infolist():
            name = info.filename.replace(".json", "")
            if name not in entries:  # ZipSource keeps the first entry of a name
                try:
                    entries[name] = archive.read(info)
                except (zipfile.BadZipFile, OSError, RuntimeError) as e:
                    raise AtlasError(ErrorCode.IMPORT_INVALID_ZIP_ENTRY, info.filename, str(e)) from e
    if not entries or entries.get(EXPORT_ORDER, b"").strip() == b"[]":
        raise AtlasError(ErrorCode.IMPORT_ATTEMPTING_EMPTY_ZIP)
    for name in (EXPORT_INFO, TYPESDEF, EXPORT_ORDER):
        if name not in entries:
            raise AtlasError(ErrorCode.IMPORT_INVALID_ZIP_ENTRY, name + ".json", "missing")
    order, types, info = _json(EXPORT_ORDER, entries[EXPORT_ORDER]), _json(TYPESDEF, entries[TYPESDEF]), \
        _json(EXPORT_INFO, entries[EXPORT_INFO])
    if not isinstance(order, list) or not all(isinstance(g, str) for g in order):
        raise AtlasError(ErrorCode.IMPORT_INVALID_ZIP_ENTRY, EXPORT_ORDER + ".json", "not a list of guids")
    if not isinstance(types, dict):
        raise AtlasError(ErrorCode.IMPORT_INVALID_ZIP_ENTRY, TYPESDEF + ".json", "not an AtlasTypesDef")
    if not isinstance(info, dict):
        raise AtlasError(ErrorCode.IMPORT_INVALID_ZIP_ENTRY, EXPORT_INFO + ".json", "not an AtlasExportResult")
    for guid in order:
        if guid not in entries:
            raise AtlasError(ErrorCode.IMPORT_INVALID_ZIP_ENTRY, guid + ".json",
                             "missing, though atlas-export-order.json names it")
    return ZipSource(info, types, order, entries)


# -- types ----------------------------------------------------------------------------------------------------
def process_types(store: EmbeddedStore, types: dict[str, Any], metrics: dict[str, int], user: str) -> None:
    """ImportTypeDefProcessor.processTypes: create the missing types, then add what stored ones lack
    (TypeAttributeDifference)."""
    missing: dict[str, list[dict[str, Any]]] = {}
    extended: dict[str, list[dict[str, Any]]] = {}
    for key in TYPESDEF_KEYS:
        defs = types.get(key) or []
        if not isinstance(defs, list) or not all(isinstance(d, dict) and isinstance(d.get("name"), str)
                                                 for d in defs):
            raise AtlasError(ErrorCode.IMPORT_INVALID_ZIP_ENTRY, TYPESDEF + ".json",
                             f"{key} is not a list of type definitions")
        for d in defs:
            incoming = {k: v for k, v in d.items() if k != "guid"}  # setGuidToEmpty
            stored = store.registry.raw_def(d["name"])
            if stored is None:
                missing.setdefault(key, []).append(incoming)
                continue
            changed = _with_missing_parts(store.typedefs.get_by_name(d["name"]), incoming, key)
            if changed is not None:
                extended.setdefault(key, []).append(changed)
    if missing:
        admin_audit.create_typedefs(store, missing, user)
        for key in TYPESDEF_KEYS:
            increment(metrics, f"typedef:{_TYPEDEF_METRICS[key]}", len(missing.get(key, [])))
    for key, defs in extended.items():
        admin_audit.update_typedefs(store, {key: defs}, user)
        increment(metrics, f"typedef:{_UPDATE_METRICS[key]}:update", len(defs))


def _with_missing_parts(stored: dict[str, Any], incoming: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The stored def plus the incoming attributes (enum elements) it lacks, or None if it lacks none."""
    if key == "enumDefs":
        values = {e.get("value") for e in stored.get("elementDefs") or []}
        extra = [e for e in incoming.get("elementDefs") or [] if e.get("value") not in values]
        return {**stored, "elementDefs": [*(stored.get("elementDefs") or []), *extra]} if extra else None
    have = {a.get("name"): a for a in stored.get("attributeDefs") or []}
    extra = [a for a in incoming.get("attributeDefs") or []
             if a.get("name") not in have or have[a["name"]].get("typeName") != a.get("typeName")]
    if not extra:
        return None
    merged = {a["name"]: a for a in stored.get("attributeDefs") or []}
    merged.update({a["name"]: a for a in extra})
    return {**stored, "attributeDefs": list(merged.values())}


# -- entities -------------------------------------------------------------------------------------------------
def _known(conn: sqlite3.Connection, guid: str, in_request: set[str]) -> bool:
    if guid in in_request:
        return True
    return conn.execute("SELECT 1 FROM entity WHERE guid = ?", (guid,)).fetchone() is not None


def _prune(value: Any, conn: sqlite3.Connection, in_request: set[str]) -> Any:
    """A reference value without the references the store can not resolve (None: nothing left)."""
    if isinstance(value, list):
        kept = [v for v in (_prune(v, conn, in_request) for v in value) if v is not None]
        return kept
    if isinstance(value, dict) and "guid" in value and "typeName" in value:
        if value.get("relationshipStatus") == "DELETED":
            return None
        guid = value.get("guid")
        if is_assigned_guid(guid) and not _known(conn, str(guid), in_request):
            return None
    return value


def _prepared(entity: dict[str, Any], conn: sqlite3.Connection, in_request: set[str],
              registry_rel_attrs: set[str]) -> dict[str, Any]:
    out = dict(entity)
    rels = dict(entity.get("relationshipAttributes") or {})
    attrs = dict(entity.get("attributes") or {})
    for name in list(attrs):
        if name in rels:
            del attrs[name]  # the relationship attribute says it, with the relationship's state
        elif name in registry_rel_attrs:
            pruned = _prune(attrs[name], conn, in_request)
            if pruned is None:
                del attrs[name]
            else:
                attrs[name] = pruned
    for name in list(rels):
        pruned = _prune(rels[name], conn, in_request)
        if pruned is None:
            del rels[name]
        else:
            rels[name] = pruned
    out["attributes"] = attrs
    out["relationshipAttributes"] = rels
    out.pop("status", None)
    return out


@dataclass
class EntityImport:
    store: EmbeddedStore
    conn: sqlite3.Connection
    user: str
    metrics: dict[str, int]
    processed: list[str] = field(default_factory=list)
    to_delete: list[str] = field(default_factory=list)

    def write(self, entity_with_ext: dict[str, Any]) -> None:
        """One entry, in a savepoint: what fails leaves nothing of it."""
        reg = self.store.registry
        referred = entity_with_ext.get("referredEntities") or {}
        if not isinstance(referred, dict):
            raise AtlasError(ErrorCode.BAD_REQUEST, "referredEntities must be an object of guid: entity")
        all_entities = [entity_with_ext["entity"], *referred.values()]
        in_request = {e.get("guid") for e in all_entities if isinstance(e, dict) and isinstance(e.get("guid"), str)}
        prepared = []
        for e in all_entities:
            if not isinstance(e, dict):
                raise AtlasError(ErrorCode.BAD_REQUEST, "every entity must be a JSON object")
            t = reg.get(e.get("typeName") or "")
            prepared.append(_prepared(e, self.conn, {str(g) for g in in_request}, set(t.rel_attrs) if t else set()))
        self.conn.execute("SAVEPOINT impexp_entity")
        try:
            w = ImportWriter(self.conn, reg, self.user)
            w.create_or_update(prepared[:1], {str(e.get("guid")): e for e in prepared[1:]}, False)
        except BaseException:
            self.conn.execute("ROLLBACK TO impexp_entity")
            self.conn.execute("RELEASE impexp_entity")
            raise
        self.conn.execute("RELEASE impexp_entity")
        for kind, guids in (("created", w.result.created), ("updated", w.result.updated)):
            for guid in guids:
                if guid not in self.processed:  # BulkImporterImpl.updateImportMetrics counts a guid once
                    self.processed.append(guid)
                    increment(self.metrics, f"entity:{w.by_guid[guid].type.name}:{kind}")
        for e in all_entities:
            if e.get("status") == "DELETED" and isinstance(e.get("guid"), str):
                self.to_delete.append(w.by_request_guid[e["guid"]].guid if e["guid"] in w.by_request_guid
                                      else e["guid"])


def start_index(request: ImportRequest, order: list[str]) -> int:
    start_guid = request.get("startGuid")
    if start_guid and start_guid in order:
        return order.index(start_guid) + 1  # ZipSource.setPosition marks the entries up to it as done
    position = request.get("startPosition")
    return int(position) + 1 if position is not None else 0


def import_entities(store: EmbeddedStore, source: ZipSource, request: ImportRequest, job: EntityImport) -> None:
    pending = source.order[start_index(request, source.order):]
    while pending:
        residual: list[str] = []
        last: AtlasError | None = None
        for guid in pending:
            try:
                job.write(source.entity(guid))
            except AtlasError as e:
                if e.code not in RETRIED:
                    raise
                residual.append(guid)
                last = e
        if len(residual) == len(pending):
            assert last is not None
            raise last
        pending = residual
    if job.to_delete:
        delete_entities(job.conn, store.registry, job.to_delete, job.user, now_ms(), MutationResult(), strict=False)


def run_import(store: EmbeddedStore, source: ZipSource, request: ImportRequest, user: str) -> dict[str, Any]:
    start = now_ms()
    metrics: dict[str, int] = {}
    update_types = request.get("updateTypeDefinition")
    if update_types is None or update_types == "true":
        process_types(store, source.typesdef, metrics, user)
    impexp_audit.ensure_types(store)
    with store.db.write() as conn:
        job = EntityImport(store, conn, user, metrics)
        entities_start = now_ms()
        import_entities(store, source, request, job)
        end = now_ms()
        increment(metrics, "duration", end - entities_start)
        result: dict[str, Any] = {
            "request": request.to_json(), "userName": user, "clientIpAddress": client_ip(), "hostName": host_name(),
            "timeStamp": start, "metrics": metrics, "processedEntities": job.processed,
            "operationStatus": "SUCCESS", "exportResult": source.export_result,
        }
        result = {k: v for k, v in result.items() if v is not None}
        write_import_audits(store, conn, request, result, source, user, start, end)
        increment(metrics, "duration", now_ms() - start)
    return result


def write_import_audits(store: EmbeddedStore, conn: sqlite3.Connection, request: ImportRequest,
                        result: dict[str, Any], source: ZipSource, user: str, start: int, end: int) -> None:
    """AuditsWriter.ImportAudits.add and ImportService.addToImportOperationAudits."""
    impexp_audit.current_server(store, conn, user)
    full_name = request.replicated_from
    if source.order:
        impexp_audit.add_entry(store, user, impexp_audit.server_name_of(full_name), CURRENT_CLUSTER, "IMPORT", result,
                               start, end)
    if full_name and request.get("skipUpdateReplicationAttr") != "true" and source.order:
        marker = source.export_result.get("changeMarker")
        impexp_audit.save_replication(store, conn, full_name, source.order[0],
                                      marker if isinstance(marker, int) else 0, user)
    export_request = source.export_result.get("request")
    items = export_request.get("itemsToExport") if isinstance(export_request, dict) else None
    items = [i for i in items if isinstance(i, dict) and isinstance(i.get("typeName"), str)] \
        if isinstance(items, list) else None
    impexp_audit.admin_entry(conn, "IMPORT", user, start, {"operationStatus": result["operationStatus"]}, items,
                             result["metrics"], len(result["processedEntities"]))
