"""What Atlas's export and import exchange (``org.apache.atlas.model.impexp``), and the lock that keeps them one at a
time.

``AtlasExportRequest`` / ``AtlasImportRequest`` are read here (with their getters' defaults), ``AtlasExportResult``
and ``AtlasImportResult`` written as Jackson writes them (getter names, nulls left out). The ZIP's entry names are
``ZipExportFileNames``': ``atlas-export-info.json`` (the export result), ``atlas-typesdef.json``,
``atlas-export-order.json`` and one ``<guid>.json`` per exported entity.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.websession import current_web

EXPORT_INFO = "atlas-export-info"
EXPORT_ORDER = "atlas-export-order"
TYPESDEF = "atlas-typesdef"
# AuditsWriter.getCurrentClusterName: atlas.metadata.namespace, else atlas.cluster.name, else this default
CURRENT_CLUSTER = "default"
FULL, CONNECTED, INCREMENTAL = "full", "connected", "incremental"
MATCH_TYPES = ("startsWith", "endsWith", "contains", "matches", "forType")
TYPESDEF_KEYS = ("enumDefs", "structDefs", "classificationDefs", "entityDefs", "relationshipDefs",
                 "businessMetadataDefs")
# options of AtlasImportRequest this store does not carry out: refused rather than silently ignored
UNSUPPORTED_IMPORT_OPTIONS = ("transforms", "transformers", "migration", "migrationFileName", "format")


_LOCK = threading.Lock()


@contextmanager
def exclusive(wanted: bool) -> Iterator[None]:
    """AdminResource.acquireExportImportLock: a second export/import while one runs is refused, not queued."""
    if not wanted:
        yield
        return
    if not _LOCK.acquire(blocking=False):
        raise AtlasError(ErrorCode.FAILED_TO_OBTAIN_IMPORT_EXPORT_LOCK)
    try:
        yield
    finally:
        _LOCK.release()


def now_ms() -> int:
    return int(time.time() * 1000)


@functools.cache
def host_name() -> str:
    return socket.gethostname()


def client_ip() -> str | None:
    return current_web().client


def _java_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.lower() == "true"


@dataclass
class ExportRequest:
    items: list[dict[str, Any]]
    options: dict[str, Any]

    @property
    def fetch_type(self) -> str:
        value = self.options.get("fetchType")
        return value if isinstance(value, str) else FULL

    @property
    def skip_lineage(self) -> bool:
        return _java_bool(self.options.get("skipLineage"))

    @property
    def match_type(self) -> str | None:
        value = self.options.get("matchType")
        return None if value is None else str(value)

    @property
    def replicated_to(self) -> str:
        value = self.options.get("replicatedTo")
        return value if isinstance(value, str) else ""

    @property
    def omit_zip_for_empty(self) -> bool:
        return _java_bool(self.options.get("omitZipResponseForEmptyExport"))

    def to_json(self) -> dict[str, Any]:
        """As Jackson writes AtlasExportRequest: its fields and its public getters."""
        out: dict[str, Any] = {"itemsToExport": self.items, "options": self.options,
                               "fetchTypeOptionValue": self.fetch_type, "skipLineageOptionValue": self.skip_lineage}
        if self.match_type is not None:
            out["matchTypeOptionValue"] = self.match_type
        out["changeTokenFromOptions"] = 0
        out["omitZipResponseForEmptyExport"] = self.omit_zip_for_empty
        return out


def parse_export_request(body: Any) -> ExportRequest:
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an AtlasExportRequest {itemsToExport, options}")
    items = body.get("itemsToExport")
    options = body.get("options")
    if options is None:
        options = {}
    if not isinstance(items, list) or not items:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "itemsToExport: at least one item is required")
    if not isinstance(options, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "options must be an object")
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("typeName"), str) or not item["typeName"]:
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"itemsToExport[{i}]: typeName is required")
        guid, uniq = item.get("guid"), item.get("uniqueAttributes")
        if guid is not None and not isinstance(guid, str):
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"itemsToExport[{i}]: guid must be a string")
        if uniq is not None and not isinstance(uniq, dict):
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"itemsToExport[{i}]: uniqueAttributes must be an object")
    request = ExportRequest([_object_id(item) for item in items], dict(options))
    fetch = request.fetch_type.lower()
    if fetch == INCREMENTAL:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "fetchType incremental is not supported by this store")
    if "changeMarker" in options:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "changeMarker (incremental export) is not supported")
    return request


def _object_id(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if item.get("guid"):
        out["guid"] = item["guid"]
    out["typeName"] = item["typeName"]
    if item.get("uniqueAttributes"):
        out["uniqueAttributes"] = item["uniqueAttributes"]
    return out


@dataclass
class ImportRequest:
    options: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        return self.options.get(key)

    @property
    def replicated_from(self) -> str:
        return self.options.get("replicatedFrom") or ""

    def to_json(self) -> dict[str, Any]:
        size = self.options.get("size")
        return {"options": self.options, "sizeOption": int(size) if size and size.isdigit() else 1}


def parse_import_request(raw: bytes | str | None) -> ImportRequest:
    """The form's ``request`` part (``{}`` when absent, as ``@DefaultValue("{}")``); Jackson reads every option's
    value as a string."""
    if raw is None or not raw.strip():
        return ImportRequest()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise AtlasError(ErrorCode.BAD_REQUEST, f"request: malformed JSON: {e}") from e
    if body is None:
        return ImportRequest()
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "request must be an AtlasImportRequest {options: {...}}")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "request.options must be an object")
    extra = {k: v for k, v in body.items() if k not in ("options", "sizeOption")}  # @JsonAnySetter
    out: dict[str, str] = {}
    for key, value in {**options, **extra}.items():
        if isinstance(value, (dict, list)):
            raise AtlasError(ErrorCode.BAD_REQUEST, f"request.options.{key} must be a string")
        if value is not None:
            out[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    for key in UNSUPPORTED_IMPORT_OPTIONS:
        if key in out:
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"import option {key} is not supported by this store")
    for key in ("startPosition", "size"):
        if key in out and not out[key].isdigit():
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"{key}={out[key]} is not a number")
    return ImportRequest(out)


def empty_typesdef() -> dict[str, list[dict[str, Any]]]:
    return {key: [] for key in TYPESDEF_KEYS}


def increment(metrics: dict[str, int], key: str, by: int = 1) -> None:
    metrics[key] = metrics.get(key, 0) + by
