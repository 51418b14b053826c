"""Atlas's async import (``admin/async/import...``): an import request is queued, answered at once, and imported by
one background worker, one request at a time in the order received, as ``AsyncImportTaskExecutor`` and
``ImportTaskListenerImpl`` do it.

A request (``AtlasAsyncImportRequest``) is identified by its ``importId``, the MD5 of the ZIP's entries (``ZipSource``):
posting a ZIP whose request is WAITING or PROCESSING answers that request; one that ended is registered anew. Status
goes WAITING -> PROCESSING -> SUCCESSFUL (every entity imported), PARTIAL_SUCCESS (some) or FAILED (none); a WAITING
request may be aborted (ABORTED). The worker imports as ``ImportService.onImportTypeDef`` / ``onImportEntity`` /
``onImportComplete``: the types first, then each entity in its own transaction (one that fails is listed in
``importDetails.failures`` and the others go on; one whose references are not in yet is tried again after the rest,
as :func:`impexp_import.import_entities` does), then the import's audits.

Requests are kept as Atlas keeps them, as ``__AtlasAsyncImportRequest`` entities (``AtlasAsyncImportRequestDTO``'s
attributes), so their status outlives a restart; the queued ZIPs wait in ``<store directory>/async-import`` (Atlas's
Kafka topic). A store's queue is loaded the first time its async API is used: WAITING and PROCESSING requests go back
in the queue (PROCESSING first, imported again from the start: the entities already in are imported unchanged). While
a request runs, its progress is in memory (Atlas's ``importCache``) and saved when it ends. Closing the store stops
the worker between two entities; the request stays PROCESSING.

Two differences from Atlas: a types failure is listed in ``failures`` under ``atlas-typesdef`` (Atlas only logs it),
and an ended request registered anew keeps its entity (its guid) rather than being deleted and made again.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from catalog.embedded import impexp_audit
from catalog.embedded.entity_delete import delete_entities
from catalog.embedded.entity_write import MutationResult
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.impexp_import import (
    RETRIED,
    EntityImport,
    ZipSource,
    process_types,
    read_zip,
    start_index,
    write_import_audits,
)
from catalog.embedded.impexp_model import CURRENT_CLUSTER, ImportRequest, client_ip, host_name, increment, now_ms
from catalog.embedded.store import EmbeddedStore

log = logging.getLogger(__name__)

REQUEST_TYPE = "__AtlasAsyncImportRequest"
REQUEST_ID_PREFIX = "async_import_"  # atlas.async.import.request_id.prefix
STAGING, WAITING, PROCESSING = "STAGING", "WAITING", "PROCESSING"
SUCCESSFUL, PARTIAL_SUCCESS, ABORTED, FAILED = "SUCCESSFUL", "PARTIAL_SUCCESS", "ABORTED", "FAILED"
STATUSES = (STAGING, WAITING, PROCESSING, SUCCESSFUL, PARTIAL_SUCCESS, ABORTED, FAILED)
TYPES_FAILURE = "atlas-typesdef"
# atlas.async.import.min.duration.override.test.automation: when True, a request's import option
# asyncImportMinDurationInMs keeps it PROCESSING at least that long after it was received (AtlasAsyncImportTestUtil)
MIN_DURATION_OVERRIDE = False
MIN_DURATION_OPTION = "asyncImportMinDurationInMs"
_ENDED = (SUCCESSFUL, PARTIAL_SUCCESS, ABORTED, FAILED)
_NEXT_ID = itertools.count(time.monotonic_ns())  # AtlasBaseModelObject's s_nextId: an unsaved object's "-n" guid


def _attr(name: str, optional: bool = False, unique: bool = False) -> dict[str, Any]:
    return {"name": name, "typeName": "string", "cardinality": "SINGLE", "isOptional": optional, "isUnique": unique,
            "isIndexable": name in ("requestId", "importId", "status")}


# 0010-base_model.json's __AtlasAsyncImportRequest (its times are strings there too)
REQUEST_TYPEDEF: dict[str, Any] = {
    "name": REQUEST_TYPE, "superTypes": ["__internal"], "serviceType": "atlas_core", "typeVersion": "1.0",
    "attributeDefs": [_attr("requestId", unique=True), _attr("importId"), _attr("status"),
                      _attr("importDetails", optional=True), _attr("startEntityPosition"), _attr("importResult"),
                      _attr("receivedTime"), _attr("stagedTime"), _attr("processingStartTime"),
                      _attr("completedTime")]}


def not_found(import_id: str) -> AtlasError:
    return AtlasError(ErrorCode.IMPORT_NOT_FOUND, import_id)


def _abort_failed(import_id: str, cause: AtlasError) -> AtlasError:
    # AsyncImportTaskExecutor.abortAsyncImportRequest wraps whatever abortImport threw
    return AtlasError(ErrorCode.ABORT_IMPORT_FAILED, import_id, cause=cause)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _details(total: int = 0, published: int = 0) -> dict[str, Any]:
    return {"publishedEntityCount": published, "totalEntitiesCount": total, "importedEntitiesCount": 0,
            "failedEntitiesCount": 0, "failedEntities": [], "importProgress": 0.0, "failures": {}}


@dataclass
class AsyncRequest:
    """One AtlasAsyncImportRequest. ``guid``: its entity's (None until saved)."""

    import_id: str
    status: str
    result: dict[str, Any]  # the AtlasImportResult
    details: dict[str, Any] = field(default_factory=_details)
    received: int = 0
    staged: int = 0
    processing_start: int = 0
    completed: int = 0
    start_position: int = 0
    guid: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As Jackson writes it (importTrackingInfo and the topic are @JsonIgnore'd); a copy, safe to hand out."""
        out: dict[str, Any] = {"guid": self.guid, "importId": self.import_id, "status": self.status,
                               "importDetails": self.details, "receivedTime": self.received,
                               "stagedTime": self.staged, "processingStartTime": self.processing_start,
                               "completedTime": self.completed, "importResult": self.result}
        copied: dict[str, Any] = orjson.loads(orjson.dumps(out))
        return copied

    def min_info(self) -> dict[str, Any]:
        """AtlasAsyncImportRequest.toImportMinInfo: an AsyncImportStatus."""
        return {"importId": self.import_id, "status": self.status,
                "importRequestReceivedTime": _iso(self.received),
                "importRequestUser": self.result.get("userName")}

    def attributes(self) -> dict[str, Any]:
        """AtlasAsyncImportRequestDTO.toEntity."""
        return {"requestId": f"{REQUEST_ID_PREFIX}{self.import_id}@{CURRENT_CLUSTER}", "importId": self.import_id,
                "status": self.status, "importDetails": orjson.dumps(self.details).decode(),
                "startEntityPosition": str(self.start_position), "importResult": orjson.dumps(self.result).decode(),
                "receivedTime": str(self.received), "stagedTime": str(self.staged),
                "processingStartTime": str(self.processing_start), "completedTime": str(self.completed)}

    @classmethod
    def from_entity(cls, guid: str, attrs: dict[str, Any]) -> AsyncRequest:
        """AtlasAsyncImportRequestDTO.from."""
        def num(name: str) -> int:
            value = attrs.get(name)
            return int(value) if isinstance(value, (int, str)) and str(value).lstrip("-").isdigit() else 0
        details = orjson.loads(attrs["importDetails"]) if attrs.get("importDetails") else _details()
        return cls(import_id=str(attrs.get("importId")), status=str(attrs.get("status")),
                   result=orjson.loads(attrs.get("importResult") or "{}"), details=details,
                   received=num("receivedTime"), staged=num("stagedTime"), processing_start=num("processingStartTime"),
                   completed=num("completedTime"), start_position=num("startEntityPosition"), guid=guid)


def empty_request() -> dict[str, Any]:
    """``new AtlasAsyncImportRequest()``: AdminResource.importAsync's answer to an empty ZIP."""
    return {"guid": f"-{next(_NEXT_ID)}", "receivedTime": 0, "stagedTime": 0, "processingStartTime": 0,
            "completedTime": 0}


def import_id_of(source: ZipSource) -> str:
    """ZipSource.getMd5Hash: the MD5 of the entries' contents, in the ZIP's order."""
    digest = hashlib.md5(usedforsecurity=False)
    for data in source.entries.values():
        digest.update(data)
    return digest.hexdigest()


class AsyncImports:
    """The async import requests of one store and the worker that imports them."""

    def __init__(self, store: EmbeddedStore) -> None:
        self.store = store
        self.directory = Path(store.directory) / "async-import"
        self._lock = threading.Condition()
        self._requests: dict[str, AsyncRequest] = {}  # in the order received
        self._queue: collections.deque[str] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._load()

    # -- the requests -----------------------------------------------------------------------------------------
    def _load(self) -> None:
        """ImportTaskListenerImpl.populateRequestQueue: the requests in flight go back in the queue."""
        if self.store.registry.raw_def(REQUEST_TYPE) is None:
            return
        rows = self.store.db.reader().execute(
            "SELECT guid, body FROM entity WHERE type_name = ? AND status = 'ACTIVE' ORDER BY rowid", (REQUEST_TYPE,))
        loaded = [AsyncRequest.from_entity(guid, orjson.loads(body).get("attributes") or {}) for guid, body in rows]
        for req in sorted(loaded, key=lambda r: r.received):
            self._requests[req.import_id] = req
        in_flight = [r for r in self._requests.values() if r.status == PROCESSING] + \
            [r for r in self._requests.values() if r.status == WAITING]
        for req in in_flight:
            if self._zip_path(req.import_id).is_file():
                self._queue.append(req.import_id)
            else:
                req.status, req.completed = FAILED, now_ms()
                req.details["failures"][req.import_id] = "the queued ZIP is gone"
                self._save(req)
        if self._queue:
            self._start()

    def _zip_path(self, import_id: str) -> Path:
        return self.directory / f"{import_id}.zip"

    def _save(self, req: AsyncRequest) -> None:
        """AsyncImportService.saveImportRequest (the caller holds the lock)."""
        if self.store.registry.raw_def(REQUEST_TYPE) is None:
            impexp_audit.ensure_types(self.store)  # __internal
            self.store.typedefs.create({"entityDefs": [REQUEST_TYPEDEF]}, "admin")
        entity = {"typeName": REQUEST_TYPE, "guid": req.guid or "-1", "attributes": req.attributes()}
        user = str(req.result.get("userName") or "admin")
        answer = self.store.create_or_update([entity], None, user)
        if req.guid is None:
            req.guid = answer["guidAssignments"]["-1"]

    def submit(self, data: bytes, request: ImportRequest, user: str) -> dict[str, Any]:
        """ImportService.run(request, inputStream, ...) for ``POST admin/async/import``."""
        try:
            source = read_zip(data)
        except AtlasError as e:
            if e.code is ErrorCode.IMPORT_ATTEMPTING_EMPTY_ZIP:
                return empty_request()
            raise
        import_id = import_id_of(source)
        with self._lock:
            if self._stop.is_set():
                raise AtlasError(ErrorCode.BAD_REQUEST, "the store is closing")
            existing = self._requests.get(import_id)
            if existing is not None and existing.status not in _ENDED:
                return existing.to_json()  # AsyncImportTaskExecutor.registerRequest: resumed, not queued again
            received = now_ms()
            result: dict[str, Any] = {"request": request.to_json(), "userName": user, "clientIpAddress": client_ip(),
                      "hostName": host_name(), "timeStamp": received, "metrics": {}, "processedEntities": [],
                      "operationStatus": "FAIL", "exportResult": source.export_result}
            start = start_index(request, source.order)
            self.directory.mkdir(parents=True, exist_ok=True)
            part = self._zip_path(import_id).with_suffix(".part")
            part.write_bytes(data)
            part.replace(self._zip_path(import_id))  # a queued ZIP on disk is always whole
            req = AsyncRequest(import_id, WAITING, {k: v for k, v in result.items() if v is not None},
                               _details(len(source.order), len(source.order[start:])), received=received,
                               staged=now_ms(), start_position=start,
                               guid=existing.guid if existing is not None else None)
            try:
                self._save(req)
            except BaseException:
                self._zip_path(import_id).unlink(missing_ok=True)  # nothing half-written
                raise
            self._requests.pop(import_id, None)
            self._requests[import_id] = req
            self._queue.append(import_id)
            answer = req.to_json()
            self._start()
            self._lock.notify_all()
        return answer

    def get(self, import_id: str) -> dict[str, Any]:
        """AsyncImportService.getAsyncImportRequest."""
        with self._lock:
            req = self._requests.get(import_id)
            if req is None:
                raise not_found(import_id)
            return req.to_json()

    def page(self, offset: int, limit: int) -> dict[str, Any]:
        """AsyncImportService.getAsyncImportsStatus: a PList of AsyncImportStatus."""
        with self._lock:
            all_requests = list(self._requests.values())
            return {"list": [r.min_info() for r in all_requests[offset:offset + limit]], "startIndex": offset,
                    "pageSize": limit, "totalCount": len(all_requests), "sortType": "NONE"}

    def abort(self, import_id: str) -> None:
        """AsyncImportService.abortImport, wrapped as AsyncImportTaskExecutor.abortAsyncImportRequest wraps it."""
        with self._lock:
            req = self._requests.get(import_id)
            if req is None:
                raise _abort_failed(import_id, not_found(import_id))
            if req.status not in (STAGING, WAITING):
                raise _abort_failed(import_id, AtlasError(ErrorCode.IMPORT_ABORT_NOT_ALLOWED, import_id, req.status))
            req.status = ABORTED
            self._save(req)
            self._zip_path(import_id).unlink(missing_ok=True)  # notificationInterface.deleteTopic

    # -- the worker -------------------------------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._loop, name="atlas-async-import", daemon=True)
            self._thread.start()

    def _next(self) -> AsyncRequest | None:
        """The next WAITING or PROCESSING request of the queue, made PROCESSING; None when stopping."""
        with self._lock:
            while True:
                while not self._queue and not self._stop.is_set():
                    self._lock.wait()
                if self._stop.is_set():
                    return None
                req = self._requests.get(self._queue.popleft())
                if req is None or req.status not in (WAITING, PROCESSING):
                    continue  # ImportTaskListenerImpl.isNotValidImportRequest: aborted while it waited
                req.status, req.processing_start = PROCESSING, now_ms()
                total, published = req.details["totalEntitiesCount"], req.details["publishedEntityCount"]
                req.details = _details(total, published)  # imported again from the start
                req.result.update({"metrics": {}, "processedEntities": [], "operationStatus": "FAIL"})
                self._save(req)
                return req

    def _loop(self) -> None:
        while (req := self._next()) is not None:
            try:
                self._import(req)
            except Exception as e:  # the worker outlives one request's failure, as Atlas's consumer does
                log.exception("async import %s failed", req.import_id)
                with self._lock:
                    req.details["failures"].setdefault(req.import_id, str(e))
                    self._end(req, FAILED)

    def _end(self, req: AsyncRequest, status: str) -> None:
        req.status, req.completed = status, now_ms()
        self._save(req)
        self._zip_path(req.import_id).unlink(missing_ok=True)

    def _import(self, req: AsyncRequest) -> None:
        source = read_zip(self._zip_path(req.import_id).read_bytes())
        request = ImportRequest(dict(req.result.get("request", {}).get("options") or {}))
        user = str(req.result.get("userName"))
        start = now_ms()
        metrics: dict[str, int] = {}
        update_types = request.get("updateTypeDefinition")
        try:
            if update_types is None or update_types == "true":
                process_types(self.store, source.typesdef, metrics, user)
            impexp_audit.ensure_types(self.store)
        except AtlasError as e:  # ImportService.onImportTypeDef: the request fails
            with self._lock:
                req.details["failures"][TYPES_FAILURE] = e.message
                self._end(req, FAILED)
            return
        processed: list[str] = []
        to_delete: list[str] = []
        pending = source.order[req.start_position:]
        while pending:
            residual: dict[str, AtlasError] = {}
            for guid in pending:
                if self._stop.is_set():
                    return  # stays PROCESSING: imported again after a restart
                error = self._import_entity(source, guid, user, metrics, processed, to_delete)
                if error is not None and error.code in RETRIED:
                    residual[guid] = error
                    continue
                self._progress(req, guid, error, metrics, processed)
            if len(residual) == len(pending):
                for guid, error in residual.items():
                    self._progress(req, guid, error, metrics, processed)
                break
            pending = list(residual)
        self._complete(req, request, source, user, start, to_delete)

    def _import_entity(self, source: ZipSource, guid: str, user: str, metrics: dict[str, int],
                       processed: list[str], to_delete: list[str]) -> AtlasError | None:
        """One entity in its own transaction (RegularImport's per-entity commit); its error, if it failed."""
        try:
            with self.store.db.write() as conn:
                EntityImport(self.store, conn, user, metrics, processed, to_delete).write(source.entity(guid))
        except AtlasError as e:
            return e
        return None

    def _progress(self, req: AsyncRequest, guid: str, error: AtlasError | None, metrics: dict[str, int],
                  processed: list[str]) -> None:
        """ImportService.onImportEntity's bookkeeping (kept in memory, as Atlas keeps it in its cache)."""
        with self._lock:
            details = req.details
            if error is None:
                details["importedEntitiesCount"] += 1
            else:
                log.warning("async import %s: entity %s failed: %s", req.import_id, guid, error)
                details["failedEntitiesCount"] += 1
                details["failedEntities"].append(guid)
                details["failures"][guid] = error.message
            done = details["importedEntitiesCount"] + details["failedEntitiesCount"]
            total = max(details["publishedEntityCount"], 1)
            details["importProgress"] = float(done * 100 // total)
            req.result["metrics"] = dict(metrics)
            req.result["processedEntities"] = list(processed)
            req.completed = now_ms()

    def _complete(self, req: AsyncRequest, request: ImportRequest, source: ZipSource, user: str, start: int,
                  to_delete: list[str]) -> None:
        """ImportService.onImportComplete: the status, then the audits of the import."""
        self._intercept(req, request)
        if self._stop.is_set():
            return
        with self._lock:
            details = req.details
            if details["totalEntitiesCount"] == details["importedEntitiesCount"]:
                status, req.result["operationStatus"] = SUCCESSFUL, "SUCCESS"
            elif details["importedEntitiesCount"] > 0:
                status, req.result["operationStatus"] = PARTIAL_SUCCESS, PARTIAL_SUCCESS
            else:
                status = FAILED
            if to_delete:
                with self.store.db.write() as conn:
                    delete_entities(conn, self.store.registry, to_delete, user, now_ms(), MutationResult(),
                                    strict=False)
            end = now_ms()
            increment(req.result["metrics"], "duration", end - start)
            with self.store.db.write() as conn:
                write_import_audits(self.store, conn, request, req.result, source, user, start, end)
            self._end(req, status)

    def _intercept(self, req: AsyncRequest, request: ImportRequest) -> None:
        """AtlasAsyncImportTestUtil.intercept (a closing store cuts the wait short)."""
        minimum = request.get(MIN_DURATION_OPTION)
        if MIN_DURATION_OVERRIDE and minimum and minimum.isdigit():
            wait_ms = int(minimum) - (max(req.completed, req.processing_start) - req.received)
            if wait_ms > 0:
                self._stop.wait(wait_ms / 1000)

    def close(self) -> None:
        """ImportTaskListenerImpl.stopImport: the running import stops between two entities."""
        with self._lock:
            self._stop.set()
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()


_BY_STORE: weakref.WeakKeyDictionary[EmbeddedStore, AsyncImports] = weakref.WeakKeyDictionary()
_BY_STORE_LOCK = threading.Lock()


def of(store: EmbeddedStore) -> AsyncImports:
    """The store's async imports (its queue loaded, its worker started if any request waits), stopped when the store
    closes."""
    with _BY_STORE_LOCK:
        found = _BY_STORE.get(store)
        if found is None:
            found = _BY_STORE[store] = AsyncImports(store)
            store.on_close(found.close)
        return found
