"""Atlas v2 REST routes over :class:`EmbeddedStore` (mounted at ``/api/atlas``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.store import EmbeddedStore

T = TypeVar("T")
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


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def qbool(request: Request, name: str, default: bool = False) -> bool:
    v = request.query_params.get(name)
    if v is None or v == "":
        return default
    low = v.lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"{name}={v} is not a boolean")


def qint(request: Request, name: str, default: int) -> int:
    v = request.query_params.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError as e:
        raise AtlasError(ErrorCode.INVALID_PARAMETERS, f"{name}={v} is not an integer") from e


def unique_attrs(request: Request, prefix: str = "attr:") -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in request.query_params.items() if k.startswith(prefix)}


def bulk_unique_attrs(request: Request) -> list[dict[str, Any]]:
    groups: dict[int, dict[str, Any]] = {}
    for k, v in request.query_params.multi_items():
        if k.startswith("attr_") and ":" in k:
            idx, attr = k[5:].split(":", 1)
            try:
                groups.setdefault(int(idx), {})[attr] = v
            except ValueError as e:
                raise AtlasError(ErrorCode.INVALID_PARAMETERS, k) from e
    return [groups[i] for i in sorted(groups)]


async def body_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise AtlasError(ErrorCode.BAD_REQUEST, "request body is required")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise AtlasError(ErrorCode.BAD_REQUEST, f"malformed JSON: {e}") from e


def user_of(request: Request) -> str:
    return str(request.scope.get("user_name") or "admin")


def build_router(store: EmbeddedStore) -> APIRouter:  # noqa: C901 - one place lists the whole surface
    r = APIRouter(prefix="/v2")

    async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(fn, *args, **kwargs)

    # -- types --------------------------------------------------------------------------------------
    def _filters(request: Request) -> dict[str, Any]:
        q = request.query_params
        return {k: q.get(k) for k in ("type", "name", "supertype", "notsupertype", "servicetype",
                                      "notservicetype", "notname")} | {"type_filter": q.get("type")}

    def _typesdef(defs: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, list[dict[str, Any]]] = {
            "enumDefs": [], "structDefs": [], "classificationDefs": [], "entityDefs": [],
            "relationshipDefs": [], "businessMetadataDefs": [],
        }
        keys = {"ENUM": "enumDefs", "STRUCT": "structDefs", "CLASSIFICATION": "classificationDefs",
                "ENTITY": "entityDefs", "RELATIONSHIP": "relationshipDefs",
                "BUSINESS_METADATA": "businessMetadataDefs"}
        for d in defs:
            out[keys[d["category"]]].append(d)
        return out

    def _search_types(request: Request) -> list[dict[str, Any]]:
        f = _filters(request)
        f.pop("type")
        return store.typedefs.search(**f)

    @r.get("/types/typedefs")
    async def get_typedefs(request: Request) -> JSON:
        return JSON(_typesdef(await call(_search_types, request)))

    @r.get("/types/typedefs/headers")
    async def get_typedef_headers(request: Request) -> JSON:
        defs = await call(_search_types, request)
        return JSON([{k: d[k] for k in ("guid", "name", "category", "serviceType") if k in d} for d in defs])

    @r.post("/types/typedefs")
    async def create_typedefs(request: Request) -> JSON:
        body = await body_json(request)
        return JSON(_typesdef(await call(store.typedefs.create, body, user_of(request))))

    @r.put("/types/typedefs")
    async def update_typedefs(request: Request) -> JSON:
        body = await body_json(request)
        return JSON(_typesdef(await call(store.typedefs.update, body, user_of(request))))

    @r.delete("/types/typedefs")
    async def delete_typedefs(request: Request) -> Response:
        body = await body_json(request)
        await call(store.typedefs.delete, body)
        return Response(status_code=204)

    @r.get("/types/typedef/name/{name}")
    async def typedef_by_name(name: str) -> JSON:
        return JSON(store.typedefs.get_by_name(name))

    @r.get("/types/typedef/guid/{guid}")
    async def typedef_by_guid(guid: str) -> JSON:
        return JSON(store.typedefs.get_by_guid(guid))

    @r.delete("/types/typedef/name/{name}")
    async def delete_typedef_by_name(name: str) -> Response:
        await call(store.typedefs.delete_names, [name])
        return Response(status_code=204)

    @r.get("/types/{kind}/name/{name}")
    async def def_by_name(kind: str, name: str) -> JSON:
        if kind not in DEF_KINDS:
            raise AtlasError(ErrorCode.API_NOT_FOUND, kind)
        return JSON(store.typedefs.get_by_name(name, DEF_KINDS[kind]))

    @r.get("/types/{kind}/guid/{guid}")
    async def def_by_guid(kind: str, guid: str) -> JSON:
        if kind not in DEF_KINDS:
            raise AtlasError(ErrorCode.API_NOT_FOUND, kind)
        return JSON(store.typedefs.get_by_guid(guid, DEF_KINDS[kind]))

    # -- entities -----------------------------------------------------------------------------------
    @r.post("/entity")
    async def create_entity(request: Request) -> JSON:
        body = await body_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("entity"), dict):
            raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an AtlasEntityWithExtInfo {entity: {...}}")
        return JSON(await call(store.create_or_update, [body["entity"]], body.get("referredEntities"),
                               user_of(request)))

    @r.post("/entity/bulk")
    async def create_entities(request: Request) -> JSON:
        body = await body_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("entities"), list):
            raise AtlasError(ErrorCode.BAD_REQUEST, "body must be an AtlasEntitiesWithExtInfo {entities: [...]}")
        return JSON(await call(store.create_or_update, body["entities"], body.get("referredEntities"),
                               user_of(request)))

    @r.get("/entity/bulk")
    async def get_entities(request: Request) -> JSON:
        guids = request.query_params.getlist("guid")
        if not guids:
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, "guid is required")
        return JSON(await call(store.get_bulk, guids, qbool(request, "minExtInfo"),
                               qbool(request, "ignoreRelationships")))

    @r.delete("/entity/bulk")
    async def delete_entities(request: Request) -> JSON:
        return JSON(await call(store.delete, request.query_params.getlist("guid"), user_of(request)))

    @r.post("/entity/bulk/classification")
    async def bulk_classification(request: Request) -> Response:
        body = await body_json(request)
        await call(store.add_classification_bulk, body, user_of(request))
        return Response(status_code=204)

    @r.get("/entity/bulk/uniqueAttribute/type/{type_name}")
    async def get_entities_by_unique(type_name: str, request: Request) -> JSON:
        return JSON(await call(store.get_bulk_by_unique, type_name, bulk_unique_attrs(request),
                               qbool(request, "minExtInfo"), qbool(request, "ignoreRelationships")))

    @r.get("/entity/guid/{guid}")
    async def get_entity(guid: str, request: Request) -> JSON:
        return JSON(await call(store.get_by_guid, guid, qbool(request, "minExtInfo"),
                               qbool(request, "ignoreRelationships")))

    @r.get("/entity/guid/{guid}/header")
    async def get_entity_header(guid: str) -> JSON:
        return JSON(await call(store.header_by_guid, guid))

    @r.put("/entity/guid/{guid}")
    async def partial_update(guid: str, request: Request) -> JSON:
        name = request.query_params.get("name")
        if not name:
            raise AtlasError(ErrorCode.INVALID_PARAMETERS, "query parameter 'name' (the attribute) is required")
        value = await body_json(request)
        return JSON(await call(store.partial_update_attribute, guid, name, value, user_of(request)))

    @r.delete("/entity/guid/{guid}")
    async def delete_entity(guid: str, request: Request) -> JSON:
        return JSON(await call(store.delete, [guid], user_of(request)))

    @r.get("/entity/uniqueAttribute/type/{type_name}")
    async def get_by_unique(type_name: str, request: Request) -> JSON:
        return JSON(await call(store.get_by_unique, type_name, unique_attrs(request),
                               qbool(request, "minExtInfo"), qbool(request, "ignoreRelationships")))

    @r.get("/entity/uniqueAttribute/type/{type_name}/header")
    async def header_by_unique(type_name: str, request: Request) -> JSON:
        return JSON(await call(store.header_by_unique, type_name, unique_attrs(request)))

    @r.put("/entity/uniqueAttribute/type/{type_name}")
    async def update_by_unique(type_name: str, request: Request) -> JSON:
        body = await body_json(request)
        return JSON(await call(store.partial_update_by_unique, type_name, unique_attrs(request), body,
                               user_of(request)))

    @r.delete("/entity/uniqueAttribute/type/{type_name}")
    async def delete_by_unique(type_name: str, request: Request) -> JSON:
        return JSON(await call(store.delete_by_unique, type_name, unique_attrs(request), user_of(request)))

    # classifications
    @r.get("/entity/guid/{guid}/classifications")
    async def get_classifications(guid: str) -> JSON:
        return JSON(await call(store.get_classifications, guid))

    @r.post("/entity/guid/{guid}/classifications")
    async def add_classifications(guid: str, request: Request) -> Response:
        body = await body_json(request)
        await call(store.add_classifications, guid, body, user_of(request))
        return Response(status_code=204)

    @r.put("/entity/guid/{guid}/classifications")
    async def update_classifications(guid: str, request: Request) -> Response:
        body = await body_json(request)
        await call(store.add_classifications, guid, body, user_of(request), True)
        return Response(status_code=204)

    @r.get("/entity/guid/{guid}/classification/{name}")
    async def get_classification(guid: str, name: str) -> JSON:
        return JSON(await call(store.get_classification, guid, name))

    @r.delete("/entity/guid/{guid}/classification/{name}")
    async def remove_classification(guid: str, name: str, request: Request) -> Response:
        await call(store.remove_classification, guid, name, user_of(request))
        return Response(status_code=204)

    @r.post("/entity/uniqueAttribute/type/{type_name}/classifications")
    async def add_classifications_by_unique(type_name: str, request: Request) -> Response:
        body = await body_json(request)
        guid = await call(store.guid_by_unique, type_name, unique_attrs(request))
        await call(store.add_classifications, guid, body, user_of(request))
        return Response(status_code=204)

    @r.put("/entity/uniqueAttribute/type/{type_name}/classifications")
    async def update_classifications_by_unique(type_name: str, request: Request) -> Response:
        body = await body_json(request)
        guid = await call(store.guid_by_unique, type_name, unique_attrs(request))
        await call(store.add_classifications, guid, body, user_of(request), True)
        return Response(status_code=204)

    @r.delete("/entity/uniqueAttribute/type/{type_name}/classification/{name}")
    async def remove_classification_by_unique(type_name: str, name: str, request: Request) -> Response:
        guid = await call(store.guid_by_unique, type_name, unique_attrs(request))
        await call(store.remove_classification, guid, name, user_of(request))
        return Response(status_code=204)

    # -- relationships ------------------------------------------------------------------------------
    @r.post("/relationship")
    async def create_relationship(request: Request) -> JSON:
        body = await body_json(request)
        return JSON(await call(store.create_relationship, body, user_of(request)))

    @r.put("/relationship")
    async def update_relationship(request: Request) -> JSON:
        body = await body_json(request)
        return JSON(await call(store.update_relationship, body, user_of(request)))

    @r.get("/relationship/guid/{guid}")
    async def get_relationship(guid: str, request: Request) -> JSON:
        return JSON(await call(store.get_relationship, guid, qbool(request, "extendedInfo")))

    @r.delete("/relationship/guid/{guid}")
    async def delete_relationship(guid: str, request: Request) -> Response:
        await call(store.delete_relationship, guid, user_of(request))
        return Response(status_code=204)

    # -- lineage ------------------------------------------------------------------------------------
    @r.get("/lineage/uniqueAttribute/type/{type_name}")
    async def lineage_by_unique(type_name: str, request: Request) -> JSON:
        guid = await call(store.guid_by_unique, type_name, unique_attrs(request))
        return JSON(await call(store.lineage, guid, request.query_params.get("direction") or "BOTH",
                               qint(request, "depth", 3)))

    @r.get("/lineage/{guid}")
    async def lineage(guid: str, request: Request) -> JSON:
        return JSON(await call(store.lineage, guid, request.query_params.get("direction") or "BOTH",
                               qint(request, "depth", 3)))

    # -- search -------------------------------------------------------------------------------------
    @r.get("/search/basic")
    async def search_get(request: Request) -> JSON:
        q = request.query_params
        params: dict[str, Any] = {k: q.get(k) for k in ("typeName", "classification", "query", "sortBy",
                                                        "sortOrder", "termName") if q.get(k)}
        params["excludeDeletedEntities"] = qbool(request, "excludeDeletedEntities", False)
        params["limit"] = qint(request, "limit", 100)
        params["offset"] = qint(request, "offset", 0)
        return JSON(await call(store.search, params))

    @r.post("/search/basic")
    async def search_post(request: Request) -> JSON:
        body = await body_json(request)
        if not isinstance(body, dict):
            raise AtlasError(ErrorCode.BAD_REQUEST, "body must be SearchParameters")
        return JSON(await call(store.search, {k: v for k, v in body.items() if v is not None}))

    return r


def build_admin_router(store: EmbeddedStore) -> APIRouter:
    """``/api/atlas/admin/*`` (Atlas's AdminResource lives outside ``/v2``)."""
    r = APIRouter(prefix="/admin")

    @r.put("/purge")
    async def purge(request: Request) -> JSON:
        body = await body_json(request)
        if not isinstance(body, list) or not all(isinstance(g, str) for g in body):
            raise AtlasError(ErrorCode.BAD_REQUEST, "body must be a JSON list of guids")
        return JSON(await run_in_threadpool(store.purge, body))

    @r.get("/version")
    async def version() -> JSON:
        return JSON({"Version": "2.4.0-mlcatalog-embedded", "Name": "apache-atlas",
                     "Description": "mlcatalog embedded Atlas-v2-compatible store"})

    @r.get("/status")
    async def status() -> JSON:
        return JSON({"Status": "ACTIVE"})

    return r
