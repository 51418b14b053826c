"""The handlers of Atlas's DiscoveryREST beyond basic search: DSL, full text, attribute, quick search, suggestions,
relationship searches, saved searches and the downloads of search results (:mod:`search_download`).

Each handler reads its request as DiscoveryREST does (query parameters, lengths bounded by
``atlas.query.param.max.length``, pages normalised by QueryParams) and returns the JSON content of a 200, or None
for a 204; ``routes.ROUTES`` wraps them into replies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from catalog.embedded import (
    downloads,
    search_download,
    search_dsl,
    search_dsl_exec,
    search_params,
    search_quick,
    search_related,
    search_saved,
)
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import FULLTEXT_QUERY_MAX_LENGTH, QUERY_PARAM_MAX_LENGTH
from catalog.embedded.raw_content import RawContent
from catalog.embedded.search import resolve_scope
from catalog.embedded.search_filters import has_filter
from catalog.embedded.store import EmbeddedStore

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

DSL_QUERY_MAX_LENGTH = 4096  # atlas.graph.dsl-max-query-str-length
_QUICK_FIELDS = ("query", "typeName", "entityFilters", "includeSubTypes", "excludeDeletedEntities", "offset",
                 "limit", "attributes", "sortBy", "sortOrder", "excludeHeaderAttributes")


def _bounded(req: AtlasRequest, *names: str) -> None:
    """Servlets.validateQueryParamLength for these query parameters."""
    for name in names:
        value = req.query.get(name)
        if value is not None and len(value) > QUERY_PARAM_MAX_LENGTH:
            raise AtlasError(ErrorCode.INVALID_QUERY_PARAM_LENGTH, name)


def _query_text(req: AtlasRequest, limit: int, setting: str) -> str | None:
    query = req.query.get("query")
    if query and len(query) > limit:
        raise AtlasError(ErrorCode.INVALID_QUERY_LENGTH, setting)
    return query


def _page(req: AtlasRequest) -> tuple[int, int]:
    return search_params.page(req.qint("limit", 0), req.qint("offset", 0), req.limits)


# -- DSL and full text ------------------------------------------------------------------------------------
def dsl_text(query: str | None, type_name: str | None, classification: str | None) -> str:
    """EntityDiscoveryService.getDslQueryUsingTypeNameClassification: the query the parameters make."""
    text = query or ""
    if type_name:
        quoted = type_name if type_name.startswith("`") and type_name.endswith("`") else f"`{type_name}`"
        text = f"{quoted} {text}"
    if classification and not query:
        text += f" isa {classification}"  # isa works with a type name only (Atlas's own comment)
    return text


def run_dsl(store: EmbeddedStore, text: str, limit: int, offset: int) -> dict[str, Any]:
    query = search_dsl.parse(text)
    return search_dsl_exec.execute(store.db.reader(), store.registry, text, query, limit, offset)


def dsl(store: EmbeddedStore, req: AtlasRequest) -> Any:
    _bounded(req, "typeName", "classification")
    query = _query_text(req, DSL_QUERY_MAX_LENGTH, "atlas.graph.dsl-max-query-str-length")
    limit, offset = _page(req)
    return run_dsl(store, dsl_text(query, req.query.get("typeName"), req.query.get("classification")), limit,
                   offset)


def fulltext(store: EmbeddedStore, req: AtlasRequest) -> Any:
    query = _query_text(req, FULLTEXT_QUERY_MAX_LENGTH, "atlas.graph.fulltext-max-query-str-length")
    limit, offset = _page(req)
    return search_quick.full_text(store.db.reader(), store.registry, query or "",
                                  req.qbool("excludeDeletedEntities"), limit, offset)


# -- attribute, quick, suggestions ------------------------------------------------------------------------
def attribute(store: EmbeddedStore, req: AtlasRequest) -> Any:
    """DiscoveryREST.searchUsingAttribute: a basic search with ``attrName startsWith attrValuePrefix``."""
    _bounded(req, "attrName", "attrValuePrefix", "typeName")
    attr_name, prefix, type_name = (req.query.get(k) for k in ("attrName", "attrValuePrefix", "typeName"))
    if not attr_name and not prefix:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"attrName : {attr_name or 'null'}, attrValue: "
                                                       f"{prefix or 'null'} for attribute search.")
    if not attr_name:
        t = store.registry.get(type_name or "")
        attr_name = next((n for n in ("qualifiedName", "name") if t is not None and t.category == "ENTITY"
                          and n in t.attributes), "qualifiedName")
    body: dict[str, Any] = {"typeName": type_name, "limit": req.qint("limit", 0), "offset": req.qint("offset", 0),
                            "entityFilters": {"attributeName": attr_name, "operator": "startsWith",
                                              "attributeValue": prefix}}
    return store.search(search_params.normalize(search_params.from_body(body), req.limits))


def _quick(store: EmbeddedStore, quick: dict[str, Any]) -> Any:
    return search_quick.quick_search(store.db.reader(), store.registry, search_params.normalize_lengths(quick))


def quick_get(store: EmbeddedStore, req: AtlasRequest) -> Any:
    query = _query_text(req, FULLTEXT_QUERY_MAX_LENGTH, "atlas.graph.fulltext-max-query-str-length")
    limit, offset = _page(req)
    quick: dict[str, Any] = {"query": query, "typeName": req.query.get("typeName"), "includeSubTypes": False,
                             "excludeDeletedEntities": req.qbool("excludeDeletedEntities"), "limit": limit,
                             "offset": offset, "sortBy": req.query.get("sortBy"),
                             "sortOrder": (req.query.get("sortOrder") or "").upper() or None}
    return _quick(store, {k: v for k, v in quick.items() if v is not None and v != ""})


def quick_post(store: EmbeddedStore, req: AtlasRequest) -> Any:
    """DiscoveryREST.quickSearch(QuickSearchParameters) and its checks."""
    body = req.json()
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be QuickSearchParameters")
    quick = search_params.from_body({k: body[k] for k in _QUICK_FIELDS if k in body})
    if quick.get("limit", 0) < 0 or quick.get("offset", 0) < 0:
        raise AtlasError(ErrorCode.BAD_REQUEST, "Limit/offset should be non-negative")
    if not quick.get("typeName") and has_filter(quick.get("entityFilters")):
        raise AtlasError(ErrorCode.BAD_REQUEST, "EntityFilters specified without Type name")
    if not quick.get("typeName") and not quick.get("query"):
        raise AtlasError(ErrorCode.INVALID_SEARCH_PARAMS)
    if not quick.get("typeName") and quick.get("sortBy"):
        raise AtlasError(ErrorCode.BAD_REQUEST, "SortBy specified without Type name")
    quick["limit"], quick["offset"] = search_params.page(quick.get("limit", 0), quick.get("offset", 0),
                                                         req.limits)
    return _quick(store, quick)


def suggestions(store: EmbeddedStore, req: AtlasRequest) -> Any:
    _bounded(req, "prefixString", "fieldName")
    return search_quick.suggestions(store.db.reader(), store.registry, req.query.get("prefixString"),
                                    req.query.get("fieldName"))


# -- relationships ----------------------------------------------------------------------------------------
def relationship(store: EmbeddedStore, req: AtlasRequest) -> Any:
    """DiscoveryREST.searchRelatedEntities."""
    _bounded(req, "guid", "relation", "sortBy")
    limit, offset = _page(req)
    params = {"attributes": req.query.getlist("attributes"), "sortBy": req.query.get("sortBy"),
              "sortOrder": req.query.get("sortOrder"), "limit": limit, "offset": offset,
              "excludeDeletedEntities": req.qbool("excludeDeletedEntities"),
              "getApproximateCount": req.qbool("getApproximateCount"),
              "includeClassificationAttributes": req.qbool("includeClassificationAttributes"),
              "disableDefaultSorting": req.qbool("disableDefaultSorting")}
    return search_related.related_entities(store.db.reader(), store.registry, req.query.get("guid"),
                                           req.query.get("relation"), params)


def _relations(store: EmbeddedStore, req: AtlasRequest, params: dict[str, Any]) -> Any:
    if params.get("limit", 0) < 0 or params.get("offset", 0) < 0:
        raise AtlasError(ErrorCode.BAD_REQUEST, "Limit/offset should be non-negative")
    params["limit"], params["offset"] = search_params.page(params.get("limit", 0), params.get("offset", 0),
                                                           req.limits)
    return search_related.relations(store.db.reader(), store.registry, search_params.normalize_lengths(params))


def relations_get(store: EmbeddedStore, req: AtlasRequest) -> Any:
    params: dict[str, Any] = {k: req.query.get(k) for k in ("relationshipName", "sortBy", "marker")
                              if req.query.get(k)}
    if req.query.get("sortOrder"):
        params["sortOrder"] = str(req.query.get("sortOrder")).upper()
    params.update(limit=req.qint("limit", 0), offset=req.qint("offset", 0), includeSubTypes=False)
    return _relations(store, req, params)


def relations_post(store: EmbeddedStore, req: AtlasRequest) -> Any:
    return _relations(store, req, search_related.relations_body(req.json()))


# -- saved searches ---------------------------------------------------------------------------------------
def saved_list(store: EmbeddedStore, req: AtlasRequest) -> Any:
    _bounded(req, "user")
    return search_saved.listed(store.db.reader(), req.user, req.query.get("user"))


def saved_get(store: EmbeddedStore, req: AtlasRequest) -> Any:
    _bounded(req, "user")
    return search_saved.by_name(store.db.reader(), req.user, req.query.get("user"), req.param("name"))


def saved_add(store: EmbeddedStore, req: AtlasRequest) -> Any:
    body = req.json()
    with store.db.write() as conn:
        return search_saved.add(conn, req.user, body)


def saved_update(store: EmbeddedStore, req: AtlasRequest) -> Any:
    body = req.json()
    with store.db.write() as conn:
        return search_saved.update(conn, req.user, body)


def saved_delete(store: EmbeddedStore, req: AtlasRequest) -> Any:
    with store.db.write() as conn:
        search_saved.delete(conn, req.user, req.param("guid"))
    return None


def _execute(store: EmbeddedStore, req: AtlasRequest, saved: dict[str, Any]) -> Any:
    """DiscoveryREST.executeSavedSearch: ADVANCED runs as DSL, anything else as a basic search."""
    params = dict(saved.get("searchParameters") or {})
    if saved.get("searchType") == "ADVANCED":
        limit, offset = search_params.page(params.get("limit", 0), params.get("offset", 0), req.limits)
        return run_dsl(store, dsl_text(params.get("query"), params.get("typeName"), params.get("classification")),
                       limit, offset)
    return store.search(search_params.normalize(params, req.limits))


def saved_execute_by_name(store: EmbeddedStore, req: AtlasRequest) -> Any:
    _bounded(req, "user")
    return _execute(store, req, search_saved.by_name(store.db.reader(), req.user, req.query.get("user"),
                                                     req.param("name")))


def saved_execute_by_guid(store: EmbeddedStore, req: AtlasRequest) -> Any:
    return _execute(store, req, search_saved.by_guid(store.db.reader(), req.user, req.param("guid")))


# -- downloads of search results --------------------------------------------------------------------------
def _download_body(req: AtlasRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """The create_file body: ``{"searchParameters": SearchParameters, "attributeLabelMap": {...}}``."""
    body = req.json()
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be {searchParameters, attributeLabelMap}")
    if body.get("searchParameters") is None:  # Atlas fails on the null SearchParameters with a 500
        raise AtlasError(ErrorCode.BAD_REQUEST, "searchParameters is required")
    return body, search_params.from_body(body["searchParameters"])


def _queue(store: EmbeddedStore, req: AtlasRequest, query_type: str,
           search: Callable[[], dict[str, Any]], labels: dict[str, str]) -> None:
    def work() -> bytes | None:
        return search_download.csv_of(search(), labels, query_type)

    downloads.of(store).queue(search_download.KIND, req.user, search_download.file_name(req.user, query_type), work)


def dsl_create_file(store: EmbeddedStore, req: AtlasRequest) -> None:
    """``POST search/dsl/download/create_file`` (204): the DSL search's results, from ``offset`` up to
    ``atlas.search.maxlimit`` of them (the request's limit is not used, as in Atlas's task)."""
    _, params = _download_body(req)
    query, type_name, classification = (params.get(k) for k in ("query", "typeName", "classification"))
    for name, value in (("typeName", type_name), ("classification", classification)):
        if value is not None and len(value) > QUERY_PARAM_MAX_LENGTH:
            raise AtlasError(ErrorCode.INVALID_QUERY_PARAM_LENGTH, name)
    if query and len(query) > DSL_QUERY_MAX_LENGTH:
        raise AtlasError(ErrorCode.INVALID_QUERY_LENGTH, "atlas.graph.dsl-max-query-str-length")
    text = dsl_text(query, type_name, classification)
    search_dsl.parse(text)  # a query Atlas's task would fail on is refused now
    offset = max(params.get("offset", 0), 0)
    max_limit = req.limits.search_max_limit
    _queue(store, req, "DSL", lambda: run_dsl(store, text, max_limit, offset), {})


def basic_create_file(store: EmbeddedStore, req: AtlasRequest) -> None:
    """``POST search/basic/download/create_file`` (204): the basic search's results, from ``offset`` up to
    ``atlas.search.maxlimit`` of them, with the columns of ``attributeLabelMap``."""
    body, params = _download_body(req)
    labels = search_download.label_map(body)
    params = search_params.normalize(params, req.limits)
    resolve_scope(store.db.reader(), store.registry, params)  # DiscoveryREST's checks, and unknown types/attributes
    params["limit"] = req.limits.search_max_limit
    _queue(store, req, "BASIC", lambda: store.search(params), labels)


def download_status(store: EmbeddedStore, req: AtlasRequest) -> Any:
    """``GET search/download/status``: AtlasSearchResultDownloadStatus of the caller's tasks and files."""
    return downloads.of(store).status(search_download.KIND, req.user)


def download_file(store: EmbeddedStore, req: AtlasRequest) -> RawContent | None:
    """``GET search/download/{filename}``: the caller's file (another user's name is not found), 204 if none."""
    name = req.param("filename")
    downloads.check_file_name(name, (search_download.EXTENSION,), search_download.MARKERS)
    path = downloads.of(store).file(search_download.KIND, req.user, name)
    if path is None:
        return None
    return RawContent(path.read_bytes(), headers=downloads.attachment(name))


V2 = "/v2/search"
# (method, path relative to /api/atlas, handler): routes.ROUTES adds these.
SEARCH_ROUTES = [
    ("GET", V2 + "/dsl", dsl),
    ("GET", V2 + "/fulltext", fulltext),
    ("GET", V2 + "/attribute", attribute),
    ("GET", V2 + "/quick", quick_get),
    ("POST", V2 + "/quick", quick_post),
    ("GET", V2 + "/suggestions", suggestions),
    ("GET", V2 + "/relationship", relationship),
    ("GET", V2 + "/relations", relations_get),
    ("POST", V2 + "/relations", relations_post),
    ("GET", V2 + "/saved", saved_list),
    ("POST", V2 + "/saved", saved_add),
    ("PUT", V2 + "/saved", saved_update),
    ("POST", V2 + "/dsl/download/create_file", dsl_create_file),
    ("POST", V2 + "/basic/download/create_file", basic_create_file),
    ("GET", V2 + "/download/status", download_status),
    ("GET", V2 + "/download/{filename}", download_file),
    ("GET", V2 + "/saved/execute/guid/{guid}", saved_execute_by_guid),
    ("GET", V2 + "/saved/execute/{name}", saved_execute_by_name),
    ("GET", V2 + "/saved/{name}", saved_get),
    ("DELETE", V2 + "/saved/{guid}", saved_delete),
]
