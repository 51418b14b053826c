"""Atlas's SearchResultDownloadTask: a basic or DSL search's results as a CSV file (``v2/search/*/download``).

The file has the columns ``Type name, Name, Classifications, Terms``, then one per label of the request's
``attributeLabelMap`` (label -> attribute name, in the request's order) and ``Owner`` and ``Description``; a row per
entity found. A DSL ``select`` answers attribute rows instead: its column names and values, nothing else. A search
that finds nothing writes no file (the task completes, no file appears).

Values are written as Atlas's ``String.valueOf`` writes them; an object id as its ``qualifiedName``, a list as its
items joined by ``,``. (Atlas reuses one row buffer, so an entity without attributes repeats the previous row's
attribute values; here its attribute columns are empty.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from catalog.embedded.downloads import csv_line
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import shown

KIND = "search_result_downloads"  # SearchResultDownloadTask.CSV_DOWNLOAD_DIR
EXTENSION = ".csv"
MARKERS = ("_BASIC_", "_DSL_")
DEFAULT_HEADERS = ["Type name", "Name", "Classifications", "Terms"]
FIXED_LABELS = {"Owner": "owner", "Description": "description"}


def file_name(user: str, query_type: str, when: datetime | None = None) -> str:
    """``<user>_<BASIC|DSL>_<yyyy-MM-dd_HH-mm-ss.SSS>.csv`` (DiscoveryREST.populateTaskParams), the user's name
    kept to characters a file name can hold."""
    stamp = (when or datetime.now()).strftime("%Y-%m-%d_%H-%M-%S.%f")[:-3]
    return f"{safe_user(user)}_{query_type}_{stamp}{EXTENSION}"


def safe_user(user: str) -> str:
    kept = "".join(c if (c.isascii() and c.isalnum()) or c in "_-@." else "_" for c in user)
    while ".." in kept:
        kept = kept.replace("..", "_")
    return kept or "_"


def label_map(body: dict[str, Any]) -> dict[str, str]:
    """The request's ``attributeLabelMap`` (column label -> attribute name)."""
    labels = body.get("attributeLabelMap")
    if labels is None:
        return {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise AtlasError(ErrorCode.BAD_REQUEST, f"attributeLabelMap must map column labels to attribute names, not "
                                                f"{shown(labels, 60)}")
    return dict(labels)


def java_str(value: Any) -> str:
    """``String.valueOf`` of a JSON value as Jackson reads it into Java objects."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_str(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_str(v) for v in value) + "]"
    return str(value)


def _is_object_id(value: Any) -> bool:
    return isinstance(value, dict) and "typeName" in value and ("guid" in value or "uniqueAttributes" in value)


def _object_id_text(value: dict[str, Any]) -> str:
    return java_str((value.get("uniqueAttributes") or {}).get("qualifiedName"))


def cell(value: Any) -> str:
    """A value of an entity's attribute column."""
    if _is_object_id(value):
        return _object_id_text(value)
    if isinstance(value, list):
        return ",".join(_object_id_text(v) if _is_object_id(v) else java_str(v) for v in value)
    return "" if value is None else java_str(value)


def csv_of(result: dict[str, Any], labels: dict[str, str], query_type: str) -> bytes | None:
    """SearchResultDownloadTask.generateCSVFileFromSearchResult; None when there is nothing to write."""
    entities: list[dict[str, Any]] = result.get("entities") or []
    selected: dict[str, Any] | None = result.get("attributes") if query_type == "DSL" else None
    if not entities and selected is None:
        return None
    labels = {**labels, **FIXED_LABELS}  # put(): a label already there keeps its place
    if not entities and selected is not None:
        headers = [str(n) for n in selected.get("name") or []]
        lines = [csv_line(headers)]
        for values in selected.get("values") or []:
            lines.append(csv_line(["" if v is None else java_str(v) for v in values[:len(headers)]]
                                  + [None] * (len(headers) - len(values))))
        return "".join(lines).encode("utf-8")
    headers = DEFAULT_HEADERS + list(labels)
    lines = [csv_line(headers)]
    for e in entities:
        attributes: dict[str, Any] = e.get("attributes") or {}
        row: list[str | None] = [e.get("typeName"), e.get("displayText") or e.get("guid"),
                                 ",".join(e.get("classificationNames") or []), ",".join(e.get("meaningNames") or [])]
        row += [cell(attributes.get(labels[label])) if attributes else None for label in labels]
        lines.append(csv_line(row))
    return "".join(lines).encode("utf-8")
