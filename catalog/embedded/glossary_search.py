"""``POST v2/glossary/search`` and the rows a glossary export writes (GlossaryService.searchGlossary,
GlossarySearchBuilder, GlossaryExportDataCollector, GlossaryExportFilter, GlossaryExportUtils).

Every term and category of the glossaries in scope becomes a flat row (record type, name, glossary, descriptions,
status, classifications, custom attributes...); the filters keep rows whose text contains the wanted text (case
ignored), the rows are sorted and paged, and a search answers the page grouped by glossary
(GlossarySearchResult: ``{"glossary": [GlossaryDetail], "approximateCount": <rows matched>}``).

A term's status is the status of its first categorization that has one, else its additional attribute ``status``,
else ``ACTIVE``; a category's is its ``status`` additional attribute, else ``ACTIVE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from catalog.embedded import glossary as gl
from catalog.embedded.body_model import parse_model
from catalog.embedded.limits import JAVA_INT
from catalog.embedded.search_download import java_str
from catalog.embedded.store import EmbeddedStore

DEFAULT_STATUS = "ACTIVE"
TERM, CATEGORY = "TERM", "CATEGORY"
RELATED_TERMS = ("translationTerms", "validValuesFor", "synonyms", "replacedBy", "validValues", "replacementTerms",
                 "seeAlso", "translatedTerms", "isA", "antonyms", "classifies", "preferredToTerms", "preferredTerms")


RecordType = Literal["ALL", "TERM", "CATEGORY"]


class SortOrder(StrEnum):
    ASCENDING = "ASCENDING"
    DESCENDING = "DESCENDING"


class GlossaryFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    guid: str | None = None


class GlossarySearchParameters(BaseModel):
    """GlossarySearchParameters as Jackson reads it (unknown fields ignored, Java's defaults)."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=25, ge=JAVA_INT[0], le=JAVA_INT[1])
    offset: int = Field(default=0, ge=JAVA_INT[0], le=JAVA_INT[1])
    sortBy: str | None = "name"
    sortOrder: SortOrder | None = None
    glossary: GlossaryFilter | None = None
    glossaryType: RecordType | None = None
    status: str | None = None
    classificationContains: str | None = None
    searchQuery: str | None = None
    excludeDeleted: bool = True


@dataclass
class Scope:
    """What GlossaryExportParameters selects rows by (the search's parameters map onto it)."""

    record_type: RecordType = "ALL"
    glossary_guids: list[str] = field(default_factory=list)
    status: str | None = None
    classification: str | None = None
    query: str | None = None
    exclude_deleted: bool = True


@dataclass
class Row:
    """GlossaryExportRow: one term or category, its values as the export writes them."""

    record_type: str
    guid: str
    glossary_guid: str
    glossary_name: str
    values: dict[str, str]
    source: dict[str, Any]

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def _classifications(obj: dict[str, Any]) -> str:
    return ", ".join(sorted(c["typeName"] for c in obj.get("classifications") or [] if c.get("typeName")))


def _custom(obj: dict[str, Any]) -> str:
    return "; ".join(f"{k}={java_str(v)}" for k, v in (obj.get("additionalAttributes") or {}).items()
                     if v is not None)


def term_status(term: dict[str, Any]) -> str:
    for c in term.get("categories") or []:
        if c.get("status") is not None:
            return str(c["status"])
    return category_status(term)


def category_status(obj: dict[str, Any]) -> str:
    status = (obj.get("additionalAttributes") or {}).get("status")
    return DEFAULT_STATUS if status is None else java_str(status)


def _base(obj: dict[str, Any], status: str) -> dict[str, str]:
    return {"name": obj.get("name") or "", "shortDescription": obj.get("shortDescription") or "",
            "longDescription": obj.get("longDescription") or "", "qualifiedName": obj.get("qualifiedName") or "",
            "status": status, "classifications": _classifications(obj), "customAttributes": _custom(obj)}


def term_row(term: dict[str, Any], glossary_guid: str, glossary_name: str) -> Row:
    values = _base(term, term_status(term))
    values["related"] = ", ".join(sorted(c["displayText"] for c in term.get("categories") or []
                                         if c.get("displayText")))
    values["examples"] = "|".join(term.get("examples") or [])
    values["abbreviation"] = term.get("abbreviation") or ""
    values["usage"] = term.get("usage") or ""
    for attr in RELATED_TERMS:  # GlossaryExportUtils.formatRelatedTerms: name:STATUS|name:STATUS
        values[attr] = "|".join(f"{h.get('displayText') or h.get('termGuid')}:{h.get('status') or 'ACTIVE'}"
                                for h in term.get(attr) or [])
    return Row(TERM, term["guid"], glossary_guid, glossary_name, values, term)


def category_row(category: dict[str, Any], glossary_guid: str, glossary_name: str) -> Row:
    values = _base(category, category_status(category))
    values["related"] = (category.get("parentCategory") or {}).get("displayText") or ""
    return Row(CATEGORY, category["guid"], glossary_guid, glossary_name, values, category)


def collect(store: EmbeddedStore, scope: Scope) -> tuple[list[Row], dict[str, dict[str, Any]]]:
    """GlossaryExportDataCollector.collectWithExtInfo: the rows of every glossary in scope (all of them when none
    is named; an unknown one is a 404) and each glossary's detail."""
    guids = scope.glossary_guids or [g["guid"] for g in gl.list_all(store, -1, 0, False)]
    rows: list[Row] = []
    details: dict[str, dict[str, Any]] = {}
    for guid in guids:
        ext = details[guid] = gl.detailed(store, guid)
        name = ext.get("name") or ""
        rows += [term_row(t, guid, name) for t in (ext.get("termInfo") or {}).values()]
        rows += [category_row(c, guid, name) for c in (ext.get("categoryInfo") or {}).values()]
    return rows, details


def _contains(value: str, wanted: str | None) -> bool:
    return not wanted or wanted.lower() in value.lower()


def _matches_query(row: Row, query: str | None, scoped: bool) -> bool:
    if not query:
        return True
    fields = ("name", "shortDescription", "longDescription", "status", "classifications", "customAttributes",
              "related")
    return any(_contains(row.get(f), query) for f in fields) or (not scoped and _contains(row.glossary_name, query))


def apply(rows: list[Row], scope: Scope) -> list[Row]:
    """GlossaryExportFilter.apply (a glossary's terms and categories are never deleted ones here: Atlas's rows are
    all ACTIVE too, so ``excludeDeleted`` keeps every row)."""
    scoped = bool(scope.glossary_guids)
    return [r for r in rows
            if scope.record_type in ("ALL", r.record_type)
            and (not scoped or r.glossary_guid in scope.glossary_guids)
            and _contains(r.get("status"), scope.status)
            and _contains(r.get("classifications"), scope.classification)
            and _matches_query(r, scope.query, scoped)]


def _sort_key(sort_by: str | None) -> Any:
    key = (sort_by or "").lower()
    if key in ("glossaryname", "glossary"):
        return lambda r: r.glossary_name.lower()
    if key in ("status", "qualifiedname"):
        field_name = "status" if key == "status" else "qualifiedName"
        return lambda r: r.get(field_name).lower()
    if key in ("recordtype", "type", "glossarytype"):
        return lambda r: r.record_type.lower()
    return lambda r: r.get("name").lower()


def search(store: EmbeddedStore, body: Any) -> dict[str, Any]:
    """GlossarySearchBuilder.search (no body: the defaults)."""
    p = GlossarySearchParameters() if body is None else parse_model(GlossarySearchParameters, body,
                                                                      "GlossarySearchParameters")
    g = p.glossary or GlossaryFilter()
    kind = p.glossaryType or "ALL"
    scope = Scope(kind, [g.guid] if g.guid else [], p.status, p.classificationContains, p.searchQuery,
                  p.excludeDeleted)
    rows, details = collect(store, scope)
    rows = apply(rows, scope)
    if g.name:
        rows = [r for r in rows if g.name.lower() in r.glossary_name.lower()]
    rows.sort(key=_sort_key(p.sortBy), reverse=p.sortOrder is SortOrder.DESCENDING)  # stable, as List.sort
    offset = max(0, p.offset)
    page = rows[offset:] if p.limit <= 0 else rows[offset:offset + p.limit]
    return {"glossary": _grouped(page, details), "approximateCount": len(rows)}


def _detail(obj: dict[str, Any], status: str) -> dict[str, Any]:
    out: dict[str, Any] = {k: obj[k] for k in ("name", "qualifiedName", "guid", "shortDescription",
                                               "longDescription") if obj.get(k) is not None}
    out["status"] = status
    out["classifications"] = list(obj.get("classifications") or [])
    if obj.get("additionalAttributes"):
        out["customAttributes"] = obj["additionalAttributes"]
    return out


def _grouped(page: list[Row], details: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """GlossarySearchBuilder.buildResult: the page's rows under their glossaries, in the order first met."""
    out: dict[str, dict[str, Any]] = {}
    for row in page:
        ext = details[row.glossary_guid]
        if row.glossary_guid not in out:
            out[row.glossary_guid] = {**{k: ext[k] for k in ("name", "guid", "shortDescription", "longDescription")
                                         if ext.get(k) is not None},
                                      "status": category_status(ext), "terms": [], "categories": []}
        if row.record_type == TERM:
            out[row.glossary_guid]["terms"].append(_detail(row.source, term_status(row.source)))
        else:
            out[row.glossary_guid]["categories"].append(_detail(row.source, category_status(row.source)))
    return list(out.values())
