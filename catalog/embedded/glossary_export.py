"""Glossary exports to a file (GlossaryREST ``download/create_file`` and its alias ``create_file``,
``download/status``, ``download/{filename}``; GlossaryExportParameterMapper, GlossaryService.exportGlossary,
GlossaryExportWriter, GlossaryExportDownloadTask).

A request is either ``{"exportParameters": GlossaryExportParameters}``, or GlossaryExportParameters itself (it has
``format``, ``mode`` or ``recordType``), or the body of a glossary search (``glossaryType``, ``glossary``, ``limit``,
``offset``, ``status``...; its ``format``, CSV unless XLSX, and page ignored: every matching row is exported).
The file, ``<user>_GLOSSARY_EXPORT_<yyyy-MM-dd_HH-mm-ss>.<csv|xlsx>``, is written in the background
(:mod:`downloads`): in AUDIT mode a row per term and category (record type, name, glossary, descriptions, status,
classifications, custom attributes, categories or parent, qualifiedName, guid); in IMPORT_COMPATIBLE mode the
columns of the glossary import's template, a row per term. A CSV starts with a byte order mark. More than
``atlas.glossary.export.max.rows`` (5000) rows fail the export, as Atlas's does.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from catalog.embedded import downloads, xlsx_write
from catalog.embedded import glossary as gl
from catalog.embedded import glossary_search as gs
from catalog.embedded.body_model import parse_model
from catalog.embedded.downloads import csv_line
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.glossary_import import COLUMNS as IMPORT_COLUMNS
from catalog.embedded.raw_content import RawContent
from catalog.embedded.search_download import safe_user
from catalog.embedded.store import EmbeddedStore

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

KIND = "glossary_export_downloads"  # GlossaryExportDownloadTask.GLOSSARY_DOWNLOAD_DIR
MARKER = "_GLOSSARY_EXPORT_"
EXTENSIONS = (".csv", ".xlsx")
MAX_ROWS = 5000  # atlas.glossary.export.max.rows
FORMAT_REQUIRED = "Export format (CSV or XLSX) is required"
AUDIT_HEADERS = ["Record Type", "Name", "Glossary Name", "Short Description", "Long Description", "Status",
                 "Classifications", "Custom Attributes", "Related Categories / Parent", "Qualified Name", "GUID"]
_AUDIT_FIELDS = ("name", "shortDescription", "longDescription", "status", "classifications", "customAttributes",
                 "related", "qualifiedName")
_IMPORT_FIELDS = ("name", "shortDescription", "longDescription", "examples", "abbreviation", "usage",
                  "customAttributes", *gs.RELATED_TERMS)
_SEARCH_STYLE = ("glossaryType", "glossary", "limit", "offset", "status")
_TIMESTAMP = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class ExportParameters(BaseModel):
    """GlossaryExportParameters as Jackson reads it (unknown fields ignored, Java's defaults)."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["CSV", "XLSX"] | None = None
    mode: Literal["AUDIT", "IMPORT_COMPATIBLE"] = "AUDIT"
    recordType: gs.RecordType = "ALL"
    glossaryGuid: str | None = None
    glossaryGuids: list[str] | None = None
    statusContains: str | None = None
    classificationContains: str | None = None
    searchQuery: str | None = None
    excludeDeleted: bool = True
    sortBy: str | None = "name"
    sortOrder: gs.SortOrder | None = gs.SortOrder.ASCENDING
    exportTimestamp: str | None = None


def _format(body: dict[str, Any]) -> Literal["CSV", "XLSX"]:
    """GlossaryExportParameterMapper.resolveFormat: CSV unless the body says XLSX (anything unknown is CSV)."""
    return "XLSX" if str(body.get("format") or "").strip().upper() == "XLSX" else "CSV"


def from_search(body: dict[str, Any]) -> ExportParameters:
    """GlossaryExportParameterMapper.fromSearchParameters."""
    p = parse_model(gs.GlossarySearchParameters, body, "GlossarySearchParameters")
    kind = p.glossaryType or "ALL"
    guid = p.glossary.guid if p.glossary is not None and p.glossary.guid else None
    return ExportParameters(format=_format(body), recordType=kind, glossaryGuid=guid, statusContains=p.status,
                            classificationContains=p.classificationContains, searchQuery=p.searchQuery,
                            excludeDeleted=p.excludeDeleted, sortBy=p.sortBy, sortOrder=p.sortOrder)


def parameters(body: Any) -> ExportParameters:
    """GlossaryExportParameterMapper.fromCreateFileRequest, then GlossaryREST.validateExportParameters."""
    if body is None or body == {}:
        raise AtlasError(ErrorCode.BAD_REQUEST, FORMAT_REQUIRED)
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be GlossaryExportParameters or GlossarySearchParameters")
    if body.get("exportParameters") is not None:
        p = parse_model(ExportParameters, body["exportParameters"], "GlossaryExportParameters")
    elif any(k in body for k in _SEARCH_STYLE) or not any(k in body for k in ("format", "mode", "recordType")):
        p = from_search(body)
    else:
        p = parse_model(ExportParameters, body, "GlossaryExportParameters")
    if p.format is None:
        raise AtlasError(ErrorCode.BAD_REQUEST, FORMAT_REQUIRED)
    if p.exportTimestamp and (not _TIMESTAMP.fullmatch(p.exportTimestamp) or ".." in p.exportTimestamp):
        # Atlas puts it in the file's name as it is
        raise AtlasError(ErrorCode.BAD_REQUEST, "exportTimestamp may only hold letters, digits and _ . : -")
    return p


def file_name(user: str, p: ExportParameters, when: datetime | None = None) -> str:
    """GlossaryREST.buildExportFileName."""
    stamp = p.exportTimestamp or (when or datetime.now()).strftime("%Y-%m-%d_%H-%M-%S")
    return f"{safe_user(user)}{MARKER}{stamp}.{'xlsx' if p.format == 'XLSX' else 'csv'}"


def _scope(p: ExportParameters) -> gs.Scope:
    guids = [p.glossaryGuid] if p.glossaryGuid else list(p.glossaryGuids or [])
    return gs.Scope(p.recordType, guids, p.statusContains, p.classificationContains, p.searchQuery,
                    p.excludeDeleted)


def rows_of(store: EmbeddedStore, p: ExportParameters) -> list[list[str]]:
    """The file's rows, the header first (GlossaryService.exportGlossary)."""
    scope = _scope(p)
    rows = gs.apply(gs.collect(store, scope)[0], scope)
    by_glossary = (p.sortBy or "").lower() == "glossaryname"  # GlossaryExportUtils.sortRows knows no other key
    rows.sort(key=lambda r: (r.glossary_name.lower(), r.get("name").lower()) if by_glossary else r.get("name").lower(),
              reverse=p.sortOrder is gs.SortOrder.DESCENDING)
    if len(rows) > MAX_ROWS:
        raise AtlasError(ErrorCode.BAD_REQUEST, f"Export row count ({len(rows)}) exceeds maximum allowed ({MAX_ROWS})")
    if p.mode == "IMPORT_COMPATIBLE":
        return [list(IMPORT_COLUMNS)] + [[r.glossary_name, *(r.get(f) for f in _IMPORT_FIELDS)]
                                         for r in rows if r.record_type == gs.TERM]
    return [AUDIT_HEADERS] + [[r.record_type, r.get("name"), r.glossary_name, *(r.get(f) for f in _AUDIT_FIELDS[1:]),
                               r.guid] for r in rows]


def export(store: EmbeddedStore, p: ExportParameters) -> bytes:
    """GlossaryExportWriter.write: a CSV (with a byte order mark) or a one-sheet workbook."""
    rows = rows_of(store, p)
    if p.format == "XLSX":
        return xlsx_write.workbook("Glossary Export", rows)
    return ("\ufeff" + "".join(csv_line(list(r)) for r in rows)).encode("utf-8")


# -- handlers -------------------------------------------------------------------------------------------------
def create_file(store: EmbeddedStore, req: AtlasRequest) -> None:
    """``POST glossary/download/create_file`` and ``POST glossary/create_file`` (204): queue the export."""
    p = parameters(req.json() if req.body.strip() else None)
    for guid in _scope(p).glossary_guids:
        gl.get(store, guid)  # a glossary Atlas's task would fail on is refused now (404)
    downloads.of(store).queue(KIND, req.user, file_name(req.user, p), lambda: export(store, p))


def status(store: EmbeddedStore, req: AtlasRequest) -> Any:
    """``GET glossary/download/status``: the caller's exports, as ``search/download/status`` answers them."""
    return downloads.of(store).status(KIND, req.user)


def download(store: EmbeddedStore, req: AtlasRequest) -> RawContent | None:
    """``GET glossary/download/{filename}``: the caller's export, 204 if there is none of that name."""
    name = req.param("filename")
    downloads.check_file_name(name, EXTENSIONS, (MARKER,))
    path = downloads.of(store).file(KIND, req.user, name)
    if path is None:
        return None
    return RawContent(path.read_bytes(), headers=downloads.attachment(name))


def search(store: EmbeddedStore, req: AtlasRequest) -> Any:
    """``POST glossary/search``."""
    return gs.search(store, req.json() if req.body.strip() else None)
