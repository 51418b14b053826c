"""``/api/v1``: projects, models, builds (and their training inputs), deployments (and their drift), lineage (a
deployment's tree, and the layered graph of any entity), impact; writes need a Bearer token.

Path and query parameters end up in the URLs of the catalog's Atlas calls: each is refused (400) when longer than
:data:`MAX_PARAM` characters or holding a control character, before a route runs.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Header, Query
from starlette.concurrency import run_in_threadpool

from catalog.access import Principal, ProjectRef, administrator, project_path
from catalog.api.docs import install_docs
from catalog.api.errors import error_response, install_error_handlers
from catalog.api.limits import DEFAULT_MAX_BODY, BodyLimit, plain_params
from catalog.api.scope import ReadScope
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
from catalog.receive_timeout import DEFAULT_BODY_TIMEOUTS, BodyTimeouts, ReceiveTimeout
from catalog.service import LocalCatalog
from catalog.sync.snapshot import ResolvedBuild

T = TypeVar("T")
API_PREFIX = "/api/v1"


class TokenAuth:
    """Bearer credentials of the catalog API: the configured API token (an administrator), or whatever
    ``identify`` makes of a credential (in `mlcatalog up`: the platform's API keys, with their roles and scopes,
    and its administrative key). ``projects_root``: where the projects ``POST /builds`` names live."""

    def __init__(self, token: str | None, read_auth: bool,
                 identify: Callable[[str], Principal | None] | None = None, *,
                 projects_root: Path | None = None) -> None:
        self.token = token
        self.read_auth = read_auth
        self.identify = identify
        self.projects_root = projects_root or Path.cwd()

    def principal(self, authorization: str | None) -> Principal:
        if self.token is None and self.identify is None:
            raise Forbidden("catalog writes are disabled: no API token is configured (MLCATALOG_API_TOKEN)")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Unauthorized("an API token is required: Authorization: Bearer <token>")
        given = given.strip()
        if self.token is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            return administrator("api token")
        found = self.identify(given) if self.identify is not None else None
        if found is None:
            raise Forbidden("the API token is not valid")
        return found


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await run_in_threadpool(fn, *args, **kwargs)


def _auth_dependencies(auth: TokenAuth, queries: CatalogQueries) -> tuple[Any, Any]:
    # Depends() defaults, not Annotated aliases: a local alias cannot be resolved from postponed annotations
    """(read, write) dependencies: the reader's :class:`ReadScope` (open when ``auth.read_auth`` is off), and the
    writer's principal (writes always need credentials)."""

    def writer(authorization: Annotated[str | None, Header()] = None) -> Principal:
        return auth.principal(authorization)

    def reader(authorization: Annotated[str | None, Header()] = None) -> ReadScope:
        scope = ReadScope(queries, auth.principal(authorization) if auth.read_auth else None)
        scope.require_reader()
        return scope

    return Depends(reader), Depends(writer)


def _query_router(queries: CatalogQueries, read: Any) -> APIRouter:
    """Reads of projects, models, builds and deployments, of the reader's projects. A route with a suffix after
    ``{crn:path}`` comes before the bare one, which would otherwise take the suffix as part of the CRN."""
    r = APIRouter()

    @r.get("/projects")
    async def list_projects(scope: ReadScope = read) -> list[Project]:
        return scope.projects(await _call(queries.projects))

    @r.get("/projects/{crn:path}")
    async def get_project(crn: str, scope: ReadScope = read) -> Project:
        return scope.project_item(await _call(queries.project, crn))

    @r.get("/models")
    async def list_models(project: str | None = None, scope: ReadScope = read) -> list[Model]:
        return scope.models(await _call(queries.models, project_crn=project))

    @r.get("/models/{crn:path}")
    async def get_model(crn: str, scope: ReadScope = read) -> Model:
        return scope.model(await _call(queries.model, crn))

    @r.get("/builds")
    async def list_builds(project: str | None = None, model: str | None = None,
                          scope: ReadScope = read) -> list[Build]:
        return scope.builds(await _call(queries.builds, project_crn=project, model_crn=model))

    @r.get("/builds/{crn:path}/inputs")
    async def build_inputs(crn: str, scope: ReadScope = read) -> list[DatasetRef]:
        if not scope.everything:
            scope.build(await _call(queries.build, crn))
        return await _call(queries.build_inputs, crn)

    @r.get("/builds/{crn:path}")
    async def get_build(crn: str, scope: ReadScope = read) -> Build:
        return scope.build(await _call(queries.build, crn))

    @r.get("/deployments")
    async def list_deployments(classification: str | None = None, model: str | None = None,
                               status: str | None = None, scope: ReadScope = read) -> list[Deployment]:
        return scope.deployments(await _call(queries.deployments, classification=classification, model_crn=model,
                                             status=status))

    @r.get("/deployments/{crn:path}/lineage")
    async def deployment_lineage(crn: str, scope: ReadScope = read) -> DeploymentLineage:
        found = await _call(queries.deployment_lineage, crn)
        scope.deployment(found.deployment)
        return found

    @r.get("/deployments/{crn:path}")
    async def get_deployment(crn: str, scope: ReadScope = read) -> Deployment:
        return scope.deployment(await _call(queries.deployment, crn))

    return r


def _record_router(catalog: LocalCatalog, auth: TokenAuth, write: Any,
                   record_build: Callable[[BuildRequest], BuildResult]) -> APIRouter:
    """Writes: a deployment and its drift (the platform's records: administrators), builds (an administrator, or
    a deployer of the project)."""
    r = APIRouter()

    @r.put("/deployments/{crn:path}/drift")
    async def record_drift(crn: str, body: DriftRecord, who: Principal = write) -> WriteResult:
        who.require("admin", what="a deployment's drift")
        if body.crn != crn:
            raise InvalidInput("the CRN in the path and the body differ")
        return await _call(catalog.record_drift, body)

    @r.put("/deployments/{crn:path}")
    async def record_deployment(crn: str, body: DeploymentRecord, who: Principal = write) -> WriteResult:
        who.require("admin", what="a deployment record")
        if body.crn != crn:
            raise InvalidInput("the CRN in the path and the body differ")
        return await _call(catalog.record_deployment, body)

    @r.post("/builds", description="Record builds of a project under the projects root (a path relative to it).")
    async def record_builds(body: BuildRequest, who: Principal = write) -> BuildResult:
        project = project_path(auth.projects_root, body.project_dir)
        who.require("deploy", ProjectRef(crn=None, name=project.name), what=body.project_dir)
        return await _call(record_build, body.model_copy(update={"project_dir": str(project)}))

    @r.post("/builds/resolved", description="Record builds resolved elsewhere (the serving platform's outbox): "
                                            "from the snapshot alone, the project's directory is not read.")
    async def record_resolved_build(body: ResolvedBuild, who: Principal = write) -> BuildResult:
        who.require("admin", what="a resolved build")  # every fact in it is the sender's word, as in a deployment's
        return await _call(catalog.record_resolved_build, body)

    return r


def _impact_router(queries: CatalogQueries, read: Any) -> APIRouter:
    """What depends on a data asset."""
    r = APIRouter()

    @r.get("/impact", description="The deployments and builds of the reader's projects that depend on it.")
    async def impact(qualified_name: Annotated[str, Query(alias="qualifiedName", min_length=1)],
                     scope: ReadScope = read) -> Impact:
        found = await _call(queries.impact, qualified_name)
        if scope.everything:
            return found
        return found.model_copy(update={"deployments": scope.deployments(found.deployments),
                                        "builds": scope.builds(found.builds)})

    return r


def _lineage_router(lineage: LineageGraphs, read: Any) -> APIRouter:
    """The lineage of any entity as a layered graph (the lineage page draws it)."""
    r = APIRouter()

    @r.get("/lineage")
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
        scope: ReadScope = read,
    ) -> LineageGraph:
        """The lineage of one entity (exactly one of guid, crn, qualifiedName) as nodes in layers, left to right:
        0 for the entity, negative upstream, positive downstream. ``depth`` is Atlas's: data sets drawn each way
        (a data set -> process -> data set hop each), the processes between them included. Classifications list
        the node's own and those reaching it from anywhere upstream, drawn or not.

        Any reader of the catalog may draw lineage: data sets belong to no project, and lineage crosses projects
        where they share data (``scope`` has refused a key that reads nothing)."""
        return await _call(lineage.graph, guid=guid, crn=crn, qualified_name=qualified_name, type_name=type_name,
                           direction=direction, depth=depth)

    return r


def build_router(catalog: LocalCatalog, auth: TokenAuth, *,
                 record_build: Callable[[BuildRequest], BuildResult] | None = None) -> APIRouter:
    """All ``/api/v1`` catalog routes, registered in this order (a route is matched in registration order).
    ``record_build``: what ``POST /builds`` does (default ``catalog.record_build``; the platform adds the build's
    OpenLineage events)."""
    read, write = _auth_dependencies(auth, catalog.queries)
    r = APIRouter(prefix=API_PREFIX, dependencies=[Depends(plain_params)])
    r.include_router(_query_router(catalog.queries, read))
    r.include_router(_record_router(catalog, auth, write, record_build or catalog.record_build))
    r.include_router(_impact_router(catalog.queries, read))
    r.include_router(_lineage_router(catalog.lineage, read))
    return r


def create_catalog_app(catalog: LocalCatalog, auth: TokenAuth, *, max_body: int = DEFAULT_MAX_BODY,
                       body_timeouts: BodyTimeouts = DEFAULT_BODY_TIMEOUTS) -> FastAPI:
    """The catalog API alone (``mlcatalog api``, e.g. in front of a real Atlas); ``max_body``: the largest request
    body, in bytes; ``body_timeouts``: how long it may take to arrive (then 408 ``request_timeout``)."""
    app = FastAPI(title="mlcatalog catalog API", version="1", openapi_url=f"{API_PREFIX}/openapi.json",
                  docs_url=None, redoc_url=None)
    install_docs(app, API_PREFIX)
    app.include_router(build_router(catalog, auth))
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=max_body, prefix=API_PREFIX)
    app.add_middleware(ReceiveTimeout, timeouts=body_timeouts,  # outermost: it bounds every reader of the body
                       default=lambda reason: error_response("request_timeout", reason, status=408))
    return app
