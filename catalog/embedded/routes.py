"""Atlas v2 REST routes over :class:`EmbeddedStore`, as plain functions of a parsed request.

Every route is a synchronous handler ``(store, request) -> Reply``. :class:`AtlasApi` matches a method and path
(relative to ``/api/atlas``) to one of them and turns the result or the :class:`AtlasError` into the status and
JSON body Atlas sends. The same dispatch serves HTTP (``app.py``, an ASGI app) and in-process callers
(``transport.py``, an httpx transport), so both speak exactly the same wire format.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.routing import Match, Route

from catalog.embedded import (
    admin_audit,
    admin_tasks,
    classifications,
    routes_admin,
    routes_extra,
    routes_glossary,
    routes_notification,
    search_params,
    search_routes,
)
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import (
    JAVA_INT,
    MAX_BODY_DEPTH,
    PURGE_MAX_GUIDS,
    QUERY_PARAM_MAX_LENGTH,
    Limits,
    depth_exceeds,
    in_range,
    shown,
)
from catalog.embedded.raw_content import RawContent
from catalog.embedded.request_context import acting_as
from catalog.embedded.store import EmbeddedStore

log = logging.getLogger(__name__)
DEFAULT_LIMITS = Limits()
TRUE = {"true", "1", "yes"}
FALSE = {"false", "0", "no"}
DEF_KINDS = {
    "enumdef": "ENUM",
    "structdef": "STRUCT",
    "classificationdef": "CLASSIFICATION",
    "entitydef": "ENTITY",
    "relationshipdef": "RELATIONSHIP",
    "businessmetadatadef": "BUSINESS_METADATA",
}
_TYPESDEF_KEYS = {"ENUM": "enumDefs", "STRUCT": "structDefs", "CLASSIFICATION": "classificationDefs",
                  "ENTITY": "entityDefs", "RELATIONSHIP": "relationshipDefs",
                  "BUSINESS_METADATA": "businessMetadataDefs"}
VERSION = {"Version": "2.4.0-mlcatalog-embedded", "Name": "apache-atlas",
           "Description": "mlcatalog embedded Atlas-v2-compatible store"}


@dataclass(frozen=True)
class AtlasRequest:
    """What a handler sees of a request: path parameters, query, raw body and the authenticated user."""

    path_params: Mapping[str, str]
    query: QueryParams
    body: bytes
    user: str
    limits: Limits = DEFAULT_LIMITS

    def param(self, name: str) -> str:
        return self.path_params[name]

    def json(self) -> Any:
        if not self.body.strip():
            raise AtlasError(ErrorCode.BAD_REQUEST, "request body is required")
        try:
            value = orjson.loads(self.body)
        except orjson.JSONDecodeError as e:
            raise AtlasError(ErrorCode.BAD_REQUEST, f"malformed JSON: {e}") from e
        if depth_exceeds(value, MAX_BODY_DEPTH):
            raise AtlasError(ErrorCode.BAD_REQUEST, f"the request body nests more than {MAX_BODY_DEPTH} levels")
        return value

    def qbool(self, name: str, default: bool = False) -> bool:
        v = self.query.get(name)
        if v is None or v == "":
            return default
        low = v.lower()
        if low in TRUE:
            return True
        if low in FALSE:
            return False
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"{name}={shown(v, 60)} is not a boolean")

    def qint(self, name: str, default: int, java_range: tuple[int, int] = JAVA_INT) -> int:
        """An int query parameter as Jersey reads it: a Java int unless ``java_range`` says long."""
        v = self.query.get(name)
        if v is None or v == "":
            return default
        try:
            number = int(v)
        except ValueError as e:
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"{name}={shown(v, 60)} is not an integer") from e
        if not in_range(number, java_range):
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"{name}={shown(v, 60)} is out of range")
        return number

    def unique_attrs(self, prefix: str = "attr:") -> dict[str, Any]:
        return {k[len(prefix):]: v for k, v in self.query.items() if k.startswith(prefix)}

    def bulk_unique_attrs(self) -> list[dict[str, Any]]:
        groups: dict[int, dict[str, Any]] = {}
        for k, v in self.query.multi_items():
            if k.startswith("attr_") and ":" in k:
                idx, attr = k[5:].split(":", 1)
                try:
                    groups.setdefault(int(idx), {})[attr] = v
                except ValueError as e:
                    raise AtlasError(ErrorCode.INVALID_PARAMETERS, shown(k)) from e
        return [groups[i] for i in sorted(groups)]


@dataclass(frozen=True)
class Reply:
    """A handler's answer: the status and the JSON content (``None``: no body, as for 204)."""

    status: int = 200
    content: Any = None

    def body(self) -> bytes:
        return self.encoded

    @cached_property
    def encoded(self) -> bytes:
        if isinstance(self.content, RawContent):
            return self.content.data
        return b"" if self.content is None else orjson.dumps(self.content)


NO_CONTENT = Reply(204)
Handler = Callable[[EmbeddedStore, AtlasRequest], Reply]


def ok(content: Any) -> Reply:
    return Reply(200, content)


def error_reply(code: ErrorCode, *params: object) -> Reply:
    return Reply(code.http_status, AtlasError(code, *params).body())


# -- types ----------------------------------------------------------------------------------------------------
def _typesdef(defs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, list[dict[str, Any]]] = {key: [] for key in _TYPESDEF_KEYS.values()}
    for d in defs:
        out[_TYPESDEF_KEYS[d["category"]]].append(d)
    return out


def _search_types(store: EmbeddedStore, req: AtlasRequest) -> list[dict[str, Any]]:
    q = req.query
    filters = {k: q.get(k) for k in ("name", "supertype", "notsupertype", "servicetype", "notservicetype", "notname")}
    return store.typedefs.search(**filters, type_filter=q.get("type"))


def get_typedefs(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(_typesdef(_search_types(store, req)))


def get_typedef_headers(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok([{k: d[k] for k in ("guid", "name", "category", "serviceType") if k in d}
               for d in _search_types(store, req)])


def create_typedefs(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(_typesdef(admin_audit.create_typedefs(store, req.json(), req.user)))


def update_typedefs(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(_typesdef(admin_audit.update_typedefs(store, req.json(), req.user)))


def delete_typedefs(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    admin_audit.delete_typedefs(store, req.json(), req.user)
    return NO_CONTENT


def typedef_by_name(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.typedefs.get_by_name(req.param("name")))


def typedef_by_guid(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.typedefs.get_by_guid(req.param("guid")))


def delete_typedef_by_name(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    admin_audit.delete_typedef_names(store, [req.param("name")], req.user)
    return NO_CONTENT


def _def_kind(req: AtlasRequest) -> str:
    kind = req.param("kind")
    if kind not in DEF_KINDS:
        raise AtlasError(ErrorCode.EMPTY_RESULTS, f"type category {kind!r}")
    return DEF_KINDS[kind]


def def_by_name(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.typedefs.get_by_name(req.param("name"), _def_kind(req)))


def def_by_guid(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.typedefs.get_by_guid(req.param("guid"), _def_kind(req)))


# -- entities -------------------------------------------------------------------------------------------------
def create_entity(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("entity"), dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an AtlasEntityWithExtInfo {entity: {...}}")
    return ok(store.create_or_update([body["entity"]], body.get("referredEntities"), req.user))


def create_entities(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("entities"), list):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an AtlasEntitiesWithExtInfo {entities: [...]}")
    return ok(store.create_or_update(body["entities"], body.get("referredEntities"), req.user))


def get_entities(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    guids = req.query.getlist("guid")
    if not guids:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "guid is required")
    return ok(store.get_bulk(guids, req.qbool("minExtInfo"), req.qbool("ignoreRelationships")))


def delete_entities(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.delete(req.query.getlist("guid"), req.user))


def bulk_classification(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    store.add_classification_bulk(req.json(), req.user)
    return NO_CONTENT


def get_entities_by_unique(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.get_bulk_by_unique(req.param("type_name"), req.bulk_unique_attrs(), req.qbool("minExtInfo"),
                                       req.qbool("ignoreRelationships")))


def get_entity(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.get_by_guid(req.param("guid"), req.qbool("minExtInfo"), req.qbool("ignoreRelationships")))


def get_entity_header(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(routes_extra.entity_header(store, req))


def partial_update(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    name = req.query.get("name")
    if not name:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "query parameter 'name' (the attribute) is required")
    return ok(store.partial_update_attribute(req.param("guid"), name, req.json(), req.user))


def delete_entity(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.delete([req.param("guid")], req.user))


def get_by_unique(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.get_by_unique(req.param("type_name"), req.unique_attrs(), req.qbool("minExtInfo"),
                                  req.qbool("ignoreRelationships")))


def header_by_unique(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(routes_extra.entity_header_by_unique(store, req))


def update_by_unique(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.partial_update_by_unique(req.param("type_name"), req.unique_attrs(), req.json(), req.user))


def delete_by_unique(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.delete_by_unique(req.param("type_name"), req.unique_attrs(), req.user))


# -- classifications ------------------------------------------------------------------------------------------
def get_classifications(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.get_classifications(req.param("guid")))


def add_classifications(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    store.add_classifications(req.param("guid"), req.json(), req.user)
    return NO_CONTENT


def update_classifications(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    store.add_classifications(req.param("guid"), req.json(), req.user, True)
    return NO_CONTENT


def get_classification(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.get_classification(req.param("guid"), req.param("name")))


def remove_classification(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    classifications.remove_classification(store, req.param("guid"), req.param("name"), req.user)
    return NO_CONTENT


def _guid_by_unique(store: EmbeddedStore, req: AtlasRequest) -> str:
    return store.guid_by_unique(req.param("type_name"), req.unique_attrs())


def add_classifications_by_unique(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    body = req.json()
    store.add_classifications(_guid_by_unique(store, req), body, req.user)
    return NO_CONTENT


def update_classifications_by_unique(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    body = req.json()
    store.add_classifications(_guid_by_unique(store, req), body, req.user, True)
    return NO_CONTENT


def remove_classification_by_unique(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    classifications.remove_classification(store, _guid_by_unique(store, req), req.param("name"), req.user,
                                          check_type=False)
    return NO_CONTENT


# -- relationships, lineage, search, admin --------------------------------------------------------------------
def create_relationship(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.create_relationship(req.json(), req.user))


def update_relationship(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.update_relationship(req.json(), req.user))


def get_relationship(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(store.get_relationship(req.param("guid"), req.qbool("extendedInfo")))


def delete_relationship(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    store.delete_relationship(req.param("guid"), req.user)
    return NO_CONTENT


def _lineage(store: EmbeddedStore, req: AtlasRequest, guid: str) -> Reply:
    return ok(store.lineage(guid, req.query.get("direction") or "BOTH", req.qint("depth", 3)))


def lineage_by_unique(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return _lineage(store, req, _guid_by_unique(store, req))


def lineage(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return _lineage(store, req, req.param("guid"))


def search_get(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    q = req.query
    params: dict[str, Any] = {k: q.get(k) for k in ("typeName", "classification", "query", "sortBy", "sortOrder",
                                                    "termName", "marker") if q.get(k)}
    params["excludeDeletedEntities"] = req.qbool("excludeDeletedEntities", False)
    params["limit"] = req.qint("limit", 100)
    params["offset"] = req.qint("offset", 0)
    with admin_tasks.tracker(store).track(store.db.reader()):  # admin/activeSearches
        return ok(store.search(search_params.normalize(params, req.limits)))


def search_post(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    params = search_params.normalize(search_params.from_body(req.json()), req.limits)
    with admin_tasks.tracker(store).track(store.db.reader()):  # admin/activeSearches
        return ok(store.search(params))


def purge(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    body = req.json()
    if not isinstance(body, list) or not all(isinstance(g, str) for g in body):
        raise AtlasError(ErrorCode.BAD_REQUEST, "body must be a JSON list of guids")
    guids = list(dict.fromkeys(body))  # AdminResource.purgeByIds takes a Set<String>
    if not guids:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, "Guid(s) not specified")
    if len(guids) > PURGE_MAX_GUIDS:
        raise AtlasError(ErrorCode.PURGE_REQUEST_SIZE_EXCEEDS_LIMIT, len(guids), PURGE_MAX_GUIDS)
    if any(len(g) > QUERY_PARAM_MAX_LENGTH for g in guids):
        raise AtlasError(ErrorCode.INVALID_QUERY_PARAM_LENGTH, "guid")
    return ok(admin_audit.purge(store, guids, req.user))


def version(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok(VERSION)


def status(store: EmbeddedStore, req: AtlasRequest) -> Reply:
    return ok({"Status": "ACTIVE"})


def _content(handler: Callable[[EmbeddedStore, AtlasRequest], Any]) -> Handler:
    """A search_routes handler as a route: its content is a 200, None a 204."""
    def reply(store: EmbeddedStore, req: AtlasRequest) -> Reply:
        content = handler(store, req)
        return NO_CONTENT if content is None else ok(content)

    return reply


def _with_status(handler: Callable[[EmbeddedStore, AtlasRequest], Any], status: int) -> Handler:
    """A routes_extra/routes_glossary handler as a route: its content sent with ``status`` (204: no body)."""
    def reply(store: EmbeddedStore, req: AtlasRequest) -> Reply:
        content = handler(store, req)
        return NO_CONTENT if status == 204 or content is None else Reply(status, content)

    return reply


V2 = "/v2"
ROUTES: list[tuple[str, str, Handler]] = [
    # admin/session, metrics, audits; the root typedefs (before types/{kind}/name/{name}); on-demand lineage
    *((method, path, _with_status(handler, status)) for method, path, handler, status in routes_admin.ROUTES),
    ("GET", V2 + "/types/typedefs", get_typedefs),
    ("GET", V2 + "/types/typedefs/headers", get_typedef_headers),
    ("POST", V2 + "/types/typedefs", create_typedefs),
    ("PUT", V2 + "/types/typedefs", update_typedefs),
    ("DELETE", V2 + "/types/typedefs", delete_typedefs),
    ("GET", V2 + "/types/typedef/name/{name}", typedef_by_name),
    ("GET", V2 + "/types/typedef/guid/{guid}", typedef_by_guid),
    ("DELETE", V2 + "/types/typedef/name/{name}", delete_typedef_by_name),
    ("GET", V2 + "/types/{kind}/name/{name}", def_by_name),
    ("GET", V2 + "/types/{kind}/guid/{guid}", def_by_guid),
    ("POST", V2 + "/entity", create_entity),
    ("POST", V2 + "/entity/bulk", create_entities),
    ("GET", V2 + "/entity/bulk", get_entities),
    ("DELETE", V2 + "/entity/bulk", delete_entities),
    ("POST", V2 + "/entity/bulk/classification", bulk_classification),
    ("GET", V2 + "/entity/bulk/uniqueAttribute/type/{type_name}", get_entities_by_unique),
    ("GET", V2 + "/entity/guid/{guid}", get_entity),
    ("GET", V2 + "/entity/guid/{guid}/header", get_entity_header),
    ("PUT", V2 + "/entity/guid/{guid}", partial_update),
    ("DELETE", V2 + "/entity/guid/{guid}", delete_entity),
    ("GET", V2 + "/entity/uniqueAttribute/type/{type_name}", get_by_unique),
    ("GET", V2 + "/entity/uniqueAttribute/type/{type_name}/header", header_by_unique),
    ("PUT", V2 + "/entity/uniqueAttribute/type/{type_name}", update_by_unique),
    ("DELETE", V2 + "/entity/uniqueAttribute/type/{type_name}", delete_by_unique),
    ("GET", V2 + "/entity/guid/{guid}/classifications", get_classifications),
    ("POST", V2 + "/entity/guid/{guid}/classifications", add_classifications),
    ("PUT", V2 + "/entity/guid/{guid}/classifications", update_classifications),
    ("GET", V2 + "/entity/guid/{guid}/classification/{name}", get_classification),
    ("DELETE", V2 + "/entity/guid/{guid}/classification/{name}", remove_classification),
    ("POST", V2 + "/entity/uniqueAttribute/type/{type_name}/classifications", add_classifications_by_unique),
    ("PUT", V2 + "/entity/uniqueAttribute/type/{type_name}/classifications", update_classifications_by_unique),
    ("DELETE", V2 + "/entity/uniqueAttribute/type/{type_name}/classification/{name}",
     remove_classification_by_unique),
    ("POST", V2 + "/relationship", create_relationship),
    ("PUT", V2 + "/relationship", update_relationship),
    ("GET", V2 + "/relationship/guid/{guid}", get_relationship),
    ("DELETE", V2 + "/relationship/guid/{guid}", delete_relationship),
    ("GET", V2 + "/lineage/uniqueAttribute/type/{type_name}", lineage_by_unique),
    ("GET", V2 + "/lineage/{guid}", lineage),
    ("GET", V2 + "/search/basic", search_get),
    ("POST", V2 + "/search/basic", search_post),
    *((method, path, _content(handler)) for method, path, handler in search_routes.SEARCH_ROUTES),
    # audit, labels, business metadata, bulk headers; the glossary; hook notifications (each route says its status)
    *((method, path, _with_status(handler, status))
      for method, path, handler, status in (*routes_extra.ROUTES, *routes_glossary.ROUTES,
                                            *routes_notification.ROUTES)),
    # Atlas's AdminResource lives outside /v2.
    ("PUT", "/admin/purge", purge),
    ("GET", "/admin/version", version),
    ("GET", "/admin/status", status),
]


_PARAM_NAMES = {"type_name": "typeName"}  # a path parameter as Atlas's resources name it


class _HandlerRoute(Route):
    def __init__(self, method: str, path: str, handler: Handler) -> None:
        super().__init__(path, endpoint=_unused, methods=[method])
        self.handler = handler


def _unused() -> None:  # pragma: no cover - routes are matched by AtlasApi, never served by Starlette's Router
    raise AssertionError("matched by AtlasApi.dispatch only")


class AtlasApi:
    """The Atlas REST surface of one store: ``dispatch`` answers a request with Atlas's status and body."""

    def __init__(self, store: EmbeddedStore, limits: Limits = DEFAULT_LIMITS) -> None:
        self.store = store
        self.limits = limits
        # Starlette's route matching (path templates, converters, method checks) without its request machinery.
        self._routes = [_HandlerRoute(method, path, handler) for method, path, handler in ROUTES]

    def dispatch(self, method: str, path: str, query_string: bytes | str, body: bytes, user: str) -> Reply:
        """Answer ``method path`` (relative to ``/api/atlas``; a trailing slash is ignored, as Atlas's Jersey
        does). Never raises: errors become Atlas's ``{errorCode, errorMessage}`` replies."""
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        scope = {"type": "http", "path": path, "root_path": "", "method": method}
        allowed = False
        for route in self._routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                for name, value in child["path_params"].items():
                    if len(value) > QUERY_PARAM_MAX_LENGTH:  # Servlets.validateQueryParamLength, on every route
                        return error_reply(ErrorCode.INVALID_QUERY_PARAM_LENGTH, _PARAM_NAMES.get(name, name))
                request = AtlasRequest(child["path_params"], QueryParams(query_string), body, user, self.limits)
                return self._call(route.handler, request)
            allowed = allowed or match is Match.PARTIAL
        if allowed:
            return error_reply(ErrorCode.METHOD_NOT_ALLOWED, method, shown("/api/atlas" + path, 300))
        return error_reply(ErrorCode.EMPTY_RESULTS, shown(f"{method} /api/atlas{path}", 300))

    def _call(self, handler: Handler, request: AtlasRequest) -> Reply:
        try:
            with acting_as(request.user):  # Atlas's RequestContext user: the audit's "user"
                reply = handler(self.store, request)
            reply.encoded  # noqa: B018 - encoded here, so a value JSON can not hold is this request's 500
            return reply
        except AtlasError as e:
            return Reply(e.http_status, e.body())
        except Exception:
            error_id = secrets.token_hex(8)
            log.exception("internal error %s", error_id)
            return Reply(500, {"errorCode": ErrorCode.INTERNAL_ERROR.code, "errorMessage":
                               f"There was an error processing your request. It has been logged (ID {error_id})."})

