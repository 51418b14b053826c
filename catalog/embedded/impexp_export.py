"""``POST admin/export``, as Atlas's ``ExportService`` runs it.

Each item of ``itemsToExport`` names its starting entities (``StartEntityFetchByExportRequest``: a guid as given;
else entities of exactly that type whose attribute equals - or, with ``matchType``, starts with, ends with, contains
or matches - the value; ``matchType: forType`` every entity of the comma-separated types). From there the export walks
the relationship attributes (``RelationshipAttributesExtractor``): ``full`` every related entity, ``connected`` only
those in one direction, as Atlas decides it; ``skipLineage`` leaves out Process entities. An entity goes into the
ZIP once, as ``<guid>.json`` (its AtlasEntityWithExtInfo, owned entities in ``referredEntities``), in
``atlas-export-order.json``'s order; the types they use go into ``atlas-typesdef.json`` (``ExportTypeProcessor``);
``atlas-export-info.json`` is the AtlasExportResult. An item whose start is not found fails
(``operationStatus``: FAIL, PARTIAL_SUCCESS when others succeed); when every item fails the request is answered
with the error the first one met (Atlas would send a ZIP saying FAIL), so a typo is not a 200.

The ZIP is written entity by entity into a spooled temporary file, so an export's entity JSON is never all in memory
at once (the reply itself is bytes: the route layer sends a body, not a stream).
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.impexp_model import (
    CONNECTED,
    CURRENT_CLUSTER,
    EXPORT_INFO,
    EXPORT_ORDER,
    TYPESDEF,
    ExportRequest,
    client_ip,
    empty_typesdef,
    host_name,
    increment,
    now_ms,
)
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.typesystem import parse_type

PROCESS = "Process"
OUTWARD, INWARD, BOTH = "OUTWARD", "INWARD", "BOTH"
SPOOL_BYTES = 8 * 1024 * 1024
_CATEGORY_KEYS = {"ENUM": "enumDefs", "STRUCT": "structDefs", "CLASSIFICATION": "classificationDefs",
                  "ENTITY": "entityDefs", "RELATIONSHIP": "relationshipDefs",
                  "BUSINESS_METADATA": "businessMetadataDefs"}


class ZipSink:
    """Atlas's ZipSink: entries written as they come, guids of everything written (referred entities too)."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - see close()
        self.zip = zipfile.ZipFile(self.file, "w", compression=zipfile.ZIP_DEFLATED)
        self.guids: set[str] = set()

    def add(self, entity_with_ext: dict[str, Any]) -> None:
        guid = entity_with_ext["entity"]["guid"]
        self.write(guid, entity_with_ext)
        self.guids.add(guid)
        self.guids.update((entity_with_ext.get("referredEntities") or {}).keys())

    def write(self, name: str, value: Any) -> None:
        self.zip.writestr(name + ".json", orjson.dumps(value))

    def close(self) -> bytes:
        self.zip.close()
        self.file.seek(0)
        data = self.file.read()
        self.file.close()
        return data


@dataclass
class ExportContext:
    store: EmbeddedStore
    request: ExportRequest
    sink: ZipSink
    fetch: str
    creation_order: list[str] = field(default_factory=list)
    processed: set[str] = field(default_factory=set)
    to_process: list[str] = field(default_factory=list)  # UniqueList
    lineage_to_process: list[str] = field(default_factory=list)
    direction: dict[str, str] = field(default_factory=dict)
    types: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in _CATEGORY_KEYS})
    terms_glossary: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, int] = field(default_factory=dict)

    def to_be_processed(self, is_lineage: bool, guid: str, direction: str) -> None:
        target = self.lineage_to_process if is_lineage else self.to_process
        if guid not in target:
            target.append(guid)
        self.direction[guid] = direction


@dataclass
class ExportOutcome:
    zip_bytes: bytes
    result: dict[str, Any]
    exported: list[str]


# -- starting entities ----------------------------------------------------------------------------------------
_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "startswith": lambda v, p: v.startswith(p),
    "endswith": lambda v, p: v.endswith(p),
    "contains": lambda v, p: p in v,
    "matches": lambda v, p: re.fullmatch(p, v) is not None,
}


def starting_guids(store: EmbeddedStore, request: ExportRequest, item: dict[str, Any]) -> list[str]:
    """StartEntityFetchByExportRequest.get (an unknown type raises UNKNOWN_TYPENAME, as it does before Atlas logs
    it)."""
    if item.get("guid"):
        return [item["guid"]]
    type_name = item["typeName"]
    match = (request.match_type or "").lower()
    conn = store.db.reader()
    if match == "fortype":
        names = [n for n in type_name.split(",") if n]
        rows = conn.execute(f"SELECT guid FROM entity WHERE type_name IN ({','.join('?' * len(names))}) "
                            "ORDER BY rowid", names).fetchall()
        return [r[0] for r in rows]
    uniq = item.get("uniqueAttributes") or {}
    t = store.registry.get(type_name)
    if t is None or t.category != "ENTITY":
        raise AtlasError(ErrorCode.UNKNOWN_TYPENAME, type_name)
    if not uniq:
        return []
    matcher = _MATCHERS.get(match)
    found: list[str] = []
    rows = conn.execute("SELECT guid, body FROM entity WHERE type_name = ? ORDER BY rowid", (type_name,)).fetchall()
    for name, wanted in uniq.items():
        if name not in t.attributes or wanted is None:
            continue
        for guid, body in rows:
            value = (orjson.loads(body).get("attributes") or {}).get(name)
            hit = value == wanted if matcher is None else isinstance(value, str) and matcher(value, str(wanted))
            if hit and guid not in found:
                found.append(guid)
    return found


# -- types (ExportTypeProcessor) ------------------------------------------------------------------------------
def _add_type_name(ctx: ExportContext, type_name: str) -> None:
    for named in parse_type(type_name).named_types():
        _add_named(ctx, named)


def _add_named(ctx: ExportContext, name: str) -> None:
    reg = ctx.store.registry
    cat = reg.category_of(name)
    if cat is None or name in ctx.types[cat]:
        return
    if cat == "ENTITY":
        _add_entity_type(ctx, name)
    elif cat == "CLASSIFICATION":
        _add_classification_type(ctx, name)
    elif cat == "RELATIONSHIP":
        _add_relationship_type(ctx, name)
    else:
        ctx.types[cat].add(name)
        raw = reg.raw_def(name) or {}
        for a in raw.get("attributeDefs") or []:
            _add_type_name(ctx, a["typeName"])


def _own_attribute_types(ctx: ExportContext, name: str) -> None:
    for a in (ctx.store.registry.raw_def(name) or {}).get("attributeDefs") or []:
        _add_type_name(ctx, a["typeName"])


def _add_entity_type(ctx: ExportContext, name: str) -> None:
    reg = ctx.store.registry
    t = reg.get(name)
    if t is None or name in ctx.types["ENTITY"]:
        return
    ctx.types["ENTITY"].add(name)
    _own_attribute_types(ctx, name)
    for ends in t.rel_attrs.values():
        for end in ends:
            _add_relationship_type(ctx, end.rel_type)
    for bm in reg.business_attributes(name):
        _add_named(ctx, bm)
    for sup in sorted(t.all_super_types):
        _add_entity_type(ctx, sup)


def _add_classification_type(ctx: ExportContext, name: str) -> None:
    t = ctx.store.registry.get(name)
    if t is None or name in ctx.types["CLASSIFICATION"]:
        return
    ctx.types["CLASSIFICATION"].add(name)
    _own_attribute_types(ctx, name)
    for sup in sorted(t.all_super_types):
        _add_classification_type(ctx, sup)


def _add_relationship_type(ctx: ExportContext, name: str) -> None:
    raw = ctx.store.registry.relationship_def(name)
    if raw is None or name in ctx.types["RELATIONSHIP"]:
        return
    ctx.types["RELATIONSHIP"].add(name)
    _own_attribute_types(ctx, name)
    for end in ("endDef1", "endDef2"):
        _add_entity_type(ctx, raw[end]["type"])


def _add_types(ctx: ExportContext, entity: dict[str, Any]) -> None:
    _add_entity_type(ctx, entity["typeName"])
    for c in entity.get("classifications") or []:
        _add_classification_type(ctx, c["typeName"])
    for term in (entity.get("relationshipAttributes") or {}).get("meanings") or []:
        # ExportTypeProcessor.addTerms: the term and its glossary go into the export with the entity
        try:
            anchor = (ctx.store.get_by_guid(term["guid"])["entity"].get("relationshipAttributes") or {}).get("anchor")
        except AtlasError:
            continue
        if isinstance(anchor, dict) and anchor.get("guid"):
            ctx.terms_glossary[term["guid"]] = anchor["guid"]


def typesdef(ctx: ExportContext) -> dict[str, list[dict[str, Any]]]:
    out = empty_typesdef()
    for cat, key in _CATEGORY_KEYS.items():
        out[key] = [ctx.store.typedefs.get_by_name(n) for n in sorted(ctx.types[cat])]
    return out


# -- traversal (ExportService, RelationshipAttributesExtractor) -----------------------------------------------
def _is_lineage_type(ctx: ExportContext, type_name: str) -> bool:
    t = ctx.store.registry.get(type_name)  # the def's own superTypes, as Atlas's isLineageType reads them
    return t is not None and PROCESS in t.super_types


def _related_ids(entity: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for value in (entity.get("relationshipAttributes") or {}).values():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, dict) and v.get("guid"):
                out.append(v)
    return out


def _edge_direction(ctx: ExportContext, related: dict[str, Any], type_name: str) -> str:
    raw = ctx.store.registry.relationship_def(related.get("relationshipType") or "") or {}
    return OUTWARD if (raw.get("endDef1") or {}).get("type") == type_name else INWARD


def _full_fetch(ctx: ExportContext, entity: dict[str, Any]) -> None:
    for related in _related_ids(entity):
        is_lineage = _is_lineage_type(ctx, related["typeName"])
        if ctx.request.skip_lineage and is_lineage:
            continue
        ctx.to_be_processed(is_lineage, related["guid"], BOTH)


def _connected_fetch(ctx: ExportContext, entity: dict[str, Any]) -> None:
    direction = ctx.direction.get(entity["guid"])
    if direction is None:
        directions = [OUTWARD, INWARD]
    else:
        directions = [OUTWARD if _is_lineage_type(ctx, entity["typeName"]) else direction]
    is_lineage_entity = _is_lineage_type(ctx, entity["typeName"])
    related_ids = _related_ids(entity)
    for d in directions:
        for related in related_ids:
            guid = related["guid"]
            current = ctx.direction.get(guid)
            is_lineage_id = _is_lineage_type(ctx, related["typeName"])
            edge = _edge_direction(ctx, related, entity["typeName"])
            if ctx.request.skip_lineage and is_lineage_id:
                continue
            if (not is_lineage_entity and d != edge) or (is_lineage_entity and d == edge):
                continue
            if current is None:
                ctx.to_be_processed(is_lineage_id, guid, d)
            elif current == OUTWARD and d == INWARD:
                ctx.processed.discard(guid)  # to be walked again, inward this time
                ctx.to_be_processed(is_lineage_id, guid, d)


def _extract(ctx: ExportContext, entity: dict[str, Any]) -> None:
    if ctx.fetch == CONNECTED:
        _connected_fetch(ctx, entity)
    else:
        _full_fetch(ctx, entity)


def _add_entity(ctx: ExportContext, entity_with_ext: dict[str, Any]) -> None:
    entity = entity_with_ext["entity"]
    if entity["guid"] in ctx.sink.guids:
        return
    ctx.creation_order.append(entity["guid"])
    ctx.sink.add(entity_with_ext)
    increment(ctx.metrics, f"entity:{entity['typeName']}")
    for referred in (entity_with_ext.get("referredEntities") or {}).values():
        increment(ctx.metrics, f"entity:{referred['typeName']}")
    increment(ctx.metrics, "entity:withExtInfo")


def _add_glossary_entities(ctx: ExportContext) -> None:
    for term_guid, glossary_guid in list(ctx.terms_glossary.items()):
        for guid in (glossary_guid, term_guid):
            if guid not in ctx.sink.guids:
                try:
                    entity = ctx.store.get_by_guid(guid, min_ext_info=True)["entity"]
                except AtlasError:
                    continue
                _add_entity(ctx, {"entity": entity})
    ctx.terms_glossary.clear()


def _process_guid(ctx: ExportContext, guid: str) -> None:
    if guid in ctx.processed:
        return
    entity_with_ext = ctx.store.get_by_guid(guid)
    entity = entity_with_ext["entity"]
    _add_types(ctx, entity)
    if ctx.terms_glossary:
        _add_glossary_entities(ctx)
    _add_entity(ctx, entity_with_ext)
    ctx.processed.add(guid)
    _extract(ctx, entity)
    referred = entity_with_ext.get("referredEntities") or {}
    for e in referred.values():
        _add_types(ctx, e)
        _extract(ctx, e)
    ctx.processed.update(referred.keys())


def _process_item(ctx: ExportContext, item: dict[str, Any]) -> tuple[str, AtlasError | None]:
    """ExportService.processObjectId: SUCCESS, or FAIL with the error that stopped it."""
    try:
        guids = starting_guids(ctx.store, ctx.request, item)
        if not guids:
            uniq = item.get("uniqueAttributes") or {}
            return "FAIL", AtlasError(ErrorCode.INSTANCE_BY_UNIQUE_ATTRIBUTE_NOT_FOUND, item["typeName"], uniq)
        for guid in guids:
            _process_guid(ctx, guid)
        # as Atlas: lineage waits until the entities around it are done, and is only picked up while any remain
        while ctx.to_process:
            while ctx.to_process:
                _process_guid(ctx, ctx.to_process.pop(0))
            if ctx.lineage_to_process:
                ctx.to_process.extend(g for g in ctx.lineage_to_process if g not in ctx.to_process)
                ctx.lineage_to_process.clear()
    except AtlasError as e:
        return "FAIL", e
    return "SUCCESS", None


def _overall(statuses: list[str]) -> str:
    overall = statuses[0] if statuses else "FAIL"
    return "PARTIAL_SUCCESS" if any(s != overall for s in statuses) else overall


def run_export(store: EmbeddedStore, request: ExportRequest, user: str) -> ExportOutcome:
    start = now_ms()
    fetch = CONNECTED if request.fetch_type.lower() == CONNECTED else "full"
    ctx = ExportContext(store, request, ZipSink(), fetch)
    try:
        outcomes = [_process_item(ctx, item) for item in request.items]
        statuses = [s for s, _ in outcomes]
        if all(s == "FAIL" for s in statuses):
            first = next((e for _, e in outcomes if e is not None), None)
            raise first or AtlasError(ErrorCode.INVALID_PARAMETERS, "nothing to export")
        types = typesdef(ctx)
        increment(ctx.metrics, "duration", now_ms() - start)
        result: dict[str, Any] = {
            "request": request.to_json(), "userName": user, "clientIpAddress": client_ip(), "hostName": host_name(),
            "timeStamp": start, "metrics": ctx.metrics, "operationStatus": _overall(statuses),
            "sourceClusterName": CURRENT_CLUSTER, "changeMarker": start,
        }
        result = {k: v for k, v in result.items() if v is not None}
        ctx.sink.write(EXPORT_ORDER, ctx.creation_order)
        ctx.sink.write(TYPESDEF, types)
        ctx.sink.write(EXPORT_INFO, result)
        return ExportOutcome(ctx.sink.close(), result, ctx.creation_order)
    finally:
        if not ctx.sink.file.closed:
            ctx.sink.zip.close()
            ctx.sink.file.close()
