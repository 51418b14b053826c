"""AdminResource's export and import routes: ``admin/export``, ``admin/import``, ``admin/importfile``,
``admin/server/{serverName}`` and ``admin/expimp/audit`` (see :mod:`impexp_export`, :mod:`impexp_import`,
:mod:`impexp_audit`).

``admin/importfile`` imports a ZIP the server reads from its own disk (``AtlasImportRequest.options.fileName``).
Atlas opens whatever path it is given; here the file must be inside the store's import directory
(``<store directory>/import``, or :data:`IMPORT_DIRECTORY` when set): a relative name is taken inside it, and a path
that resolves (symlinks followed) anywhere else is refused with 403, so the route can not read arbitrary files.

Atlas's async import (``admin/async/import``, ``admin/async/import/status[/{importId}]``, ``DELETE
admin/async/import/{importId}``) queues the import for the store's worker (:mod:`impexp_async`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.embedded import impexp_async, impexp_audit
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.form_data import FormPart, form_parts
from catalog.embedded.impexp_export import run_export
from catalog.embedded.impexp_import import read_zip, run_import
from catalog.embedded.impexp_model import (
    CURRENT_CLUSTER,
    ImportRequest,
    exclusive,
    now_ms,
    parse_export_request,
    parse_import_request,
)
from catalog.embedded.raw_content import RawContent
from catalog.embedded.store import EmbeddedStore

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

Route = tuple[str, str, Callable[[EmbeddedStore, "AtlasRequest"], Any], int]
ZIP_TYPE = "application/zip"
IMPORT_DIRECTORY: Path | None = None  # None: <store directory>/import


# -- export ---------------------------------------------------------------------------------------------------
def export(store: EmbeddedStore, req: AtlasRequest) -> RawContent:
    """``POST admin/export``: the ZIP. (Atlas's ``omitZipResponseForEmptyExport`` 204 never applies: an export that
    found nothing is an error here.)"""
    request = parse_export_request(req.json())
    options = request.options
    with exclusive("skipLineage" not in options and "replicatedTo" not in options):
        impexp_audit.ensure_types(store)
        start = now_ms()
        outcome = run_export(store, request, req.user)
        with store.db.write() as conn:
            impexp_audit.current_server(store, conn, req.user)
            target_full = request.replicated_to
            status = outcome.result["operationStatus"]
            if outcome.exported:
                impexp_audit.add_entry(store, req.user, CURRENT_CLUSTER, impexp_audit.server_name_of(target_full),
                                       "EXPORT", outcome.result, start, now_ms())
            if target_full and status != "FAIL" and outcome.exported and \
                    str(options.get("skipUpdateReplicationAttr")).lower() != "true":
                impexp_audit.save_replication(store, conn, target_full, outcome.exported[0],
                                              outcome.result["changeMarker"], req.user)
            impexp_audit.admin_entry(conn, "EXPORT", req.user, start, {**options, "operationStatus": status},
                                     request.items, {}, len(request.items))
    # AdminResource.export's Content-Type and Content-Disposition (not its "Content-Encoding: gzip": the body is not)
    return RawContent(outcome.zip_bytes, ZIP_TYPE, (("Content-Disposition", "attachment; filename=AtlasExportResult"),))


# -- import ---------------------------------------------------------------------------------------------------
def _import_form(req: AtlasRequest) -> tuple[ImportRequest, FormPart]:
    """The multipart form of an import: ``request`` (the AtlasImportRequest, optional) and ``data`` (the ZIP)."""
    parts = form_parts(req.body)
    request_part = parts.get("request")
    request = parse_import_request(request_part.data if request_part else None)
    data = parts.get("data")
    if data is None:
        raise AtlasError(ErrorCode.BAD_REQUEST, "the 'data' part (the ZIP to import) is missing")
    return request, data


def import_data(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    """``POST admin/import`` (multipart: ``request``, the AtlasImportRequest, optional; ``data``, the ZIP)."""
    request, data = _import_form(req)
    with exclusive("replicatedFrom" not in request.options):
        try:
            source = read_zip(data.data)
        except AtlasError as e:
            if e.code is ErrorCode.IMPORT_ATTEMPTING_EMPTY_ZIP:
                return _empty_import_result()  # AdminResource.importData answers an empty ZIP with an empty result
            raise
        return run_import(store, source, request, req.user)


def _empty_import_result() -> dict[str, Any]:
    return {"timeStamp": now_ms(), "metrics": {}, "processedEntities": [], "operationStatus": "FAIL"}


def import_directory(store: EmbeddedStore) -> Path:
    return (IMPORT_DIRECTORY or store.directory / "import").resolve()


def _import_file_path(store: EmbeddedStore, file_name: str, user: str) -> Path:
    base = import_directory(store)
    path = (base / file_name).resolve()  # an absolute file_name replaces base; either way checked below
    if not path.is_relative_to(base):
        raise AtlasError(ErrorCode.UNAUTHORIZED_ACCESS, user, f"import of files outside {base}")
    if not path.is_file():
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"{file_name}: file not found")
    return path


def import_file(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    """``POST admin/importfile``: the body is the AtlasImportRequest, ``options.fileName`` the ZIP on the server."""
    request = parse_import_request(req.body)
    file_name = request.get("fileName")
    if not file_name or not file_name.strip():
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "FILENAME parameter not found")
    path = _import_file_path(store, file_name, req.user)
    # as AdminResource.importFile: it locks only a replication import
    with exclusive("replicatedFrom" in request.options):
        return run_import(store, read_zip(path.read_bytes()), request, req.user)


# -- async import ---------------------------------------------------------------------------------------------
def import_async(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    """``POST admin/async/import`` (the multipart form of ``admin/import``): the queued AtlasAsyncImportRequest.
    Unlike ``admin/import`` it takes no export/import lock (AdminResource.importAsync); the worker runs one at a
    time."""
    request, data = _import_form(req)
    return impexp_async.of(store).submit(data.data, request, req.user)


def async_import_status(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    """``GET admin/async/import/status?offset=0&limit=50``: a PList of AsyncImportStatus."""
    offset, limit = req.qint("offset", 0), req.qint("limit", 50)
    if offset < 0 or limit < 0:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "offset and limit must not be negative")
    return impexp_async.of(store).page(offset, limit)


def async_import_by_id(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    return impexp_async.of(store).get(req.param("importId"))


def abort_async_import(store: EmbeddedStore, req: AtlasRequest) -> None:
    impexp_async.of(store).abort(req.param("importId"))


# -- servers and audits ---------------------------------------------------------------------------------------
def get_server(store: EmbeddedStore, req: AtlasRequest) -> dict[str, Any]:
    return impexp_audit.get_server(store, req.param("serverName"))


def expimp_audit(store: EmbeddedStore, req: AtlasRequest) -> list[dict[str, Any]]:
    q = req.query
    limit = req.qint("limit", 0)
    if limit <= 0:
        limit = req.limits.search_default_limit
    return impexp_audit.search_entries(store, user=q.get("userName"), operation=q.get("operation"),
                                       server=q.get("serverName"), start=q.get("startTime"), end=q.get("endTime"),
                                       limit=min(limit, req.limits.search_max_limit),
                                       offset=max(req.qint("offset", 0), 0))


ROUTES: list[Route] = [
    ("POST", "/admin/export", export, 200),
    ("POST", "/admin/import", import_data, 200),
    ("POST", "/admin/importfile", import_file, 200),
    ("POST", "/admin/async/import", import_async, 200),
    ("GET", "/admin/async/import/status", async_import_status, 200),
    ("GET", "/admin/async/import/status/{importId}", async_import_by_id, 200),
    ("DELETE", "/admin/async/import/{importId}", abort_async_import, 204),
    ("GET", "/admin/server/{serverName}", get_server, 200),
    ("GET", "/admin/expimp/audit", expimp_audit, 200),
]
