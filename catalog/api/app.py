"""``/api/v1``: projects, models, builds (and their training inputs), deployments (and their drift), lineage (a
deployment's tree, and the layered graph of any entity), impact; writes need a Bearer token.

Path and query parameters end up in the URLs of the catalog's Atlas calls: each is refused (400) when longer than
:data:`MAX_PARAM` characters or holding a control character, before a route runs.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Header, Query
from starlette.concurrency import run_in_threadpool

from catalog.api.docs import install_docs
from catalog.api.errors import install_error_handlers
from catalog.api.limits import DEFAULT_MAX_BODY, BodyLimit, plain_params
from catalog.atlas.models import Direction
from catalog.backend import (
    BuildRequest,
    BuildResult,
    DatasetRef,
    DeploymentRecord,
    DriftRecord,
    WriteResult,
)
from catalog.errors import Forbidden, InvalidInput, Unauthorized
from catalog.lineage_graph import DEFAULT_DEPTH, MAX_DEPTH, LineageGraph, LineageGraphs
from catalog.queries import Build, CatalogQueries, Deployment, DeploymentLineage, Impact, Model, Project
from catalog.service import LocalCatalog

T = TypeVar("T")
API_PREFIX = "/api/v1"


class TokenAuth:
    """Bearer auth for catalog writes: the configured API token, or any credential ``accept`` vouches for
    (in `mlcatalog up`: the platform's API keys and its administrative key)."""

    def __init__(self, token: str | None, read_auth: bool, accept: Callable[[str], bool] | None = None) -> None:
        self.token = token
        self.read_auth = read_auth
        self.accept = accept

    def check(self, authorization: str | None) -> None:
        if self.token is None and self.accept is None:
            raise Forbidden("catalog writes are disabled: no API token is configured (MLCATALOG_API_TOKEN)")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Unauthorized("an API token is required: Authorization: Bearer <token>")
        given = given.strip()
        if self.token is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            return
        if self.accept is not None and self.accept(given):
            return
        raise Forbidden("the API token is not valid")


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await run_in_threadpool(fn, *args, **kwargs)


def _auth_dependencies(auth: TokenAuth) -> tuple[list[Any], list[Any]]:
    """(read, write) route dependencies: writes always need the token, reads when ``auth.read_auth``."""

    def writer(authorization: Annotated[str | None, Header()] = None) -> None:
        auth.check(authorization)

    def reader(authorization: Annotated[str | None, Header()] = None) -> None:
        if auth.read_auth:
            auth.check(authorization)

    return [Depends(reader)], [Depends(writer)]


def _query_router(queries: CatalogQueries, read: list[Any]) -> APIRouter:
    """Reads of projects, models, builds and deployments. A route with a suffix after ``{crn:path}`` comes before
    the bare one, which would otherwise take the suffix as part of the CRN."""
    r = APIRouter()

    @r.get("/projects", dependencies=read)
    async def list_projects() -> list[Project]:
        return await _call(queries.projects)

    @r.get("/projects/{crn:path}", dependencies=read)
    async def get_project(crn: str) -> Project:
        return await _call(queries.project, crn)

    @r.get("/models", dependencies=read)
    async def list_models(project: str | None = None) -> list[Model]:
        return await _call(queries.models, project_crn=project)

    @r.get("/models/{crn:path}", dependencies=read)
    async def get_model(crn: str) -> Model:
        return await _call(queries.model, crn)

    @r.get("/builds", dependencies=read)
    async def list_builds(project: str | None = None, model: str | None = None) -> list[Build]:
        return await _call(queries.builds, project_crn=project, model_crn=model)

    @r.get("/builds/{crn:path}/inputs", dependencies=read)
    async def build_inputs(crn: str) -> list[DatasetRef]:
        return await _call(queries.build_inputs, crn)

    @r.get("/builds/{crn:path}", dependencies=read)
    async def get_build(crn: str) -> Build:
        return await _call(queries.build, crn)

    @r.get("/deployments", dependencies=read)
    async def list_deployments(classification: str | None = None, model: str | None = None,
                               status: str | None = None) -> list[Deployment]:
        return await _call(queries.deployments, classification=classification, model_crn=model, status=status)

    @r.get("/deployments/{crn:path}/lineage", dependencies=read)
    async def deployment_lineage(crn: str) -> DeploymentLineage:
        return await _call(queries.deployment_lineage, crn)

    @r.get("/deployments/{crn:path}", dependencies=read)
    async def get_deployment(crn: str) -> Deployment:
        return await _call(queries.deployment, crn)

    return r


def _record_router(catalog: LocalCatalog, write: list[Any]) -> APIRouter:
    """Writes: a deployment, its drift, builds."""
    r = APIRouter()

    @r.put("/deployments/{crn:path}/drift", dependencies=write)
    async def record_drift(crn: str, body: DriftRecord) -> WriteResult:
        if body.crn != crn:
            raise InvalidInput("the CRN in the path and the body differ")
        return await _call(catalog.record_drift, body)

    @r.put("/deployments/{crn:path}", dependencies=write)
    async def record_deployment(crn: str, body: DeploymentRecord) -> WriteResult:
        if body.crn != crn:
            raise InvalidInput("the CRN in the path and the body differ")
        return await _call(catalog.record_deployment, body)

    @r.post("/builds", dependencies=write)
    async def record_builds(body: BuildRequest) -> BuildResult:
        return await _call(catalog.record_build, body)

    return r


def _impact_router(queries: CatalogQueries, read: list[Any]) -> APIRouter:
    """What depends on a data asset."""
    r = APIRouter()

    @r.get("/impact", dependencies=read)
    async def impact(qualified_name: Annotated[str, Query(alias="qualifiedName", min_length=1)]) -> Impact:
        return await _call(queries.impact, qualified_name)

    return r


def _lineage_router(lineage: LineageGraphs, read: list[Any]) -> APIRouter:
    """The lineage of any entity as a layered graph (the lineage page draws it)."""
    r = APIRouter()

    @r.get("/lineage", dependencies=read)
    async def lineage_graph(
        guid: Annotated[str | None, Query(min_length=1, description="the entity's Atlas guid")] = None,
        crn: Annotated[str | None, Query(min_length=1, description="a project, build or deployment CRN")] = None,
        qualified_name: Annotated[str | None, Query(
            alias="qualifiedName", min_length=1,
            description="a DataSet's or Process's qualifiedName; an S3 location may leave out @namespace")] = None,
        type_name: Annotated[str | None, Query(alias="typeName", min_length=1,
                                               description="with qualifiedName: the entity's type")] = None,
        direction: Direction = "BOTH",
        depth: Annotated[int, Query(ge=1, le=MAX_DEPTH, description="data sets drawn each way")] = DEFAULT_DEPTH,
    ) -> LineageGraph:
        """The lineage of one entity (exactly one of guid, crn, qualifiedName) as nodes in layers, left to right:
        0 for the entity, negative upstream, positive downstream. ``depth`` is Atlas's: data sets drawn each way
        (a data set -> process -> data set hop each), the processes between them included. Classifications list
        the node's own and those reaching it from anywhere upstream, drawn or not."""
        return await _call(lineage.graph, guid=guid, crn=crn, qualified_name=qualified_name, type_name=type_name,
                           direction=direction, depth=depth)

    return r


def build_router(catalog: LocalCatalog, auth: TokenAuth) -> APIRouter:
    """All ``/api/v1`` catalog routes, registered in this order (a route is matched in registration order)."""
    read, write = _auth_dependencies(auth)
    r = APIRouter(prefix=API_PREFIX, dependencies=[Depends(plain_params)])
    r.include_router(_query_router(catalog.queries, read))
    r.include_router(_record_router(catalog, write))
    r.include_router(_impact_router(catalog.queries, read))
    r.include_router(_lineage_router(catalog.lineage, read))
    return r


def create_catalog_app(catalog: LocalCatalog, auth: TokenAuth, *, max_body: int = DEFAULT_MAX_BODY) -> FastAPI:
    """The catalog API alone (``mlcatalog api``, e.g. in front of a real Atlas); ``max_body``: the largest request
    body, in bytes."""
    app = FastAPI(title="mlcatalog catalog API", version="1", openapi_url=f"{API_PREFIX}/openapi.json",
                  docs_url=None, redoc_url=None)
    install_docs(app, API_PREFIX)
    app.include_router(build_router(catalog, auth))
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=max_body, prefix=API_PREFIX)
    return app
