"""EntityREST's audit, labels, business metadata and bulk header routes (and the entity header with its terms).

Each route is ``(method, path, handler, status)``; a handler answers the content (``routes.py`` wraps it into a
reply: 200 with the content, or 204 without a body).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from catalog.embedded import audit, business_metadata, classifications, labels
from catalog.embedded import entity_read as er
from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import JAVA_LONG, in_range
from catalog.embedded.store import EmbeddedStore

if TYPE_CHECKING:
    from catalog.embedded.routes import AtlasRequest

Route = tuple[str, str, Callable[[EmbeddedStore, "AtlasRequest"], Any], int]
JAVA_SHORT = (-(2**15), 2**15 - 1)
V2 = "/v2/entity"


def optional_body(req: AtlasRequest) -> Any:
    """A body Jackson may read as null: none at all is None."""
    return req.json() if req.body.strip() else None


def qshort(req: AtlasRequest, name: str, default: int) -> int:
    value = req.qint(name, default)
    if not in_range(value, JAVA_SHORT):
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"{name}={value} is out of range")
    return value


def guid_by_unique(store: EmbeddedStore, req: AtlasRequest) -> str:
    """EntityREST.ensureEntityType, then the entity by its unique attributes (``attr:<name>=<value>``)."""
    type_name = req.param("type_name")
    t = store.registry.get(type_name)
    if t is None or t.category != "ENTITY":
        raise AtlasError(ErrorCode.TYPE_NAME_INVALID, "ENTITY", type_name)
    return store.guid_by_unique(type_name, req.unique_attrs())


# -- headers, audit --------------------------------------------------------------------------------------------
def header_of(store: EmbeddedStore, guid: str) -> dict[str, Any]:
    conn = store.db.reader()
    e = er.require_entity(conn, guid)
    return er.header(store.registry, e, er.load_classifications(conn, guid), er.load_meanings(conn, guid))


def entity_header(store: EmbeddedStore, req: AtlasRequest) -> Any:
    return header_of(store, req.param("guid"))


def entity_header_by_unique(store: EmbeddedStore, req: AtlasRequest) -> Any:
    return header_of(store, store.guid_by_unique(req.param("type_name"), req.unique_attrs()))


def audit_events(store: EmbeddedStore, req: AtlasRequest) -> Any:
    guid = req.param("guid")
    conn = store.db.reader()
    if er.load_entity(conn, guid) is None and audit.purged_header(conn, guid) is None:
        raise AtlasError(ErrorCode.INSTANCE_GUID_NOT_FOUND, guid)
    return audit.events(conn, guid, action=audit.parse_action(req.query.get("auditAction")),
                        start_key=req.query.get("startKey"), sort_by=req.query.get("sortBy"),
                        sort_desc=(req.query.get("sortOrder") or "").lower() == "desc",
                        offset=req.qint("offset", -1), count=qshort(req, "count", audit.DEFAULT_COUNT))


def bulk_headers(store: EmbeddedStore, req: AtlasRequest) -> Any:
    return classifications.headers_since(store, req.qint("tagUpdateStartTime", 0, JAVA_LONG))


def set_classifications(store: EmbeddedStore, req: AtlasRequest) -> Any:
    return classifications.set_classifications(store, req.json(), req.user)


# -- labels ----------------------------------------------------------------------------------------------------
def _labels(fn: Callable[..., None], by_unique: bool) -> Callable[[EmbeddedStore, AtlasRequest], None]:
    def handler(store: EmbeddedStore, req: AtlasRequest) -> None:
        given = labels.parse(optional_body(req))
        guid = guid_by_unique(store, req) if by_unique else req.param("guid")
        with store.db.write() as conn:
            fn(conn, store.registry, guid, given, req.user)
    return handler


# -- business metadata -------------------------------------------------------------------------------------------
def add_business_attributes(store: EmbeddedStore, req: AtlasRequest) -> None:
    given = business_metadata.parse_body(optional_body(req))
    with store.db.write() as conn:
        business_metadata.add_or_update(conn, store.registry, req.param("guid"), given, req.qbool("isOverwrite"),
                                        req.user)


def remove_business_attributes(store: EmbeddedStore, req: AtlasRequest) -> None:
    given = business_metadata.parse_body(optional_body(req))
    with store.db.write() as conn:
        business_metadata.remove(conn, store.registry, req.param("guid"), given, req.user)


def _one_business_metadata(req: AtlasRequest) -> business_metadata.BusinessAttributes:
    values = optional_body(req)
    return business_metadata.parse_body({req.param("bmName"): values})


def add_business_attributes_of(store: EmbeddedStore, req: AtlasRequest) -> None:
    given = _one_business_metadata(req)
    with store.db.write() as conn:
        business_metadata.add_or_update(conn, store.registry, req.param("guid"), given, False, req.user)


def remove_business_attributes_of(store: EmbeddedStore, req: AtlasRequest) -> None:
    given = _one_business_metadata(req)
    with store.db.write() as conn:
        business_metadata.remove(conn, store.registry, req.param("guid"), given, req.user)


UNIQUE = V2 + "/uniqueAttribute/type/{type_name}"
ROUTES: list[Route] = [
    ("GET", V2 + "/bulk/headers", bulk_headers, 200),
    ("POST", V2 + "/bulk/setClassifications", set_classifications, 200),
    ("GET", V2 + "/{guid}/audit", audit_events, 200),
    ("POST", V2 + "/guid/{guid}/labels", _labels(labels.set_labels, False), 204),
    ("PUT", V2 + "/guid/{guid}/labels", _labels(labels.add_labels, False), 204),
    ("DELETE", V2 + "/guid/{guid}/labels", _labels(labels.remove_labels, False), 204),
    ("POST", UNIQUE + "/labels", _labels(labels.set_labels, True), 204),
    ("PUT", UNIQUE + "/labels", _labels(labels.add_labels, True), 204),
    ("DELETE", UNIQUE + "/labels", _labels(labels.remove_labels, True), 204),
    ("POST", V2 + "/guid/{guid}/businessmetadata", add_business_attributes, 204),
    ("DELETE", V2 + "/guid/{guid}/businessmetadata", remove_business_attributes, 204),
    ("POST", V2 + "/guid/{guid}/businessmetadata/{bmName}", add_business_attributes_of, 204),
    ("DELETE", V2 + "/guid/{guid}/businessmetadata/{bmName}", remove_business_attributes_of, 204),
]
