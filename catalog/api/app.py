"""``/api/v1``: projects, models, builds, deployments, lineage, impact; writes need a Bearer token."""

from __future__ import annotations

import hmac
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from catalog.atlas.errors import AtlasClientError, AtlasNotFound, AtlasUnavailable
from catalog.errors import HTTP_STATUS, CatalogError, Forbidden, InvalidInput, Unauthorized, Unresolved
from catalog.queries import (
    Build,
    CatalogQueries,
    Deployment,
    DeploymentLineage,
    Impact,
    Model,
    Project,
)
from catalog.sync.builder import DeploymentInput
from catalog.sync.engine import Catalog

T = TypeVar("T")
API_PREFIX = "/api/v1"
DEPLOYMENT_STATUSES = ("unknown", "deploying", "deployed", "stopping", "stopped")


class ErrorBody(BaseModel):
    code: str
    message: str
    problems: list[str] = Field(default_factory=list)


class DeploymentRecord(BaseModel):
    """A deployment to record (used by the serving platform); CRNs are minted by the caller."""

    crn: str
    build_crn: str
    model_crn: str
    model_name: str
    name: str
    status: str = Field(pattern="^(" + "|".join(DEPLOYMENT_STATUSES) + ")$")
    create_time_ms: int
    deployed_time_ms: int
    cpu_millicores: int = Field(ge=0)
    memory_mb: int | None = Field(default=None, ge=0)
    gpus: int | None = Field(default=None, ge=0)
    replicas: int | None = Field(default=None, ge=0)
    endpoint_url: str | None = None
    user: str = "mlcatalog"
    metadata: dict[str, str] = Field(default_factory=dict)


class WriteResult(BaseModel):
    creates: int
    updates: int
    written: int


class BuildRequest(BaseModel):
    """Record builds of a project on this server's filesystem (as ``mlcatalog build`` does)."""

    project_dir: str
    models: list[str] | None = None
    commit: str = "HEAD"
    allow_unresolved: bool = False


class BuiltModelOut(BaseModel):
    model_name: str
    model_crn: str
    build_crn: str
    version: int
    new: bool


class BuildResult(BaseModel):
    project_crn: str | None
    commit: str | None
    builds: list[BuiltModelOut]
    creates: int
    updates: int
    notes: list[str]


def error_response(code: str, message: str, problems: list[str] | None = None) -> JSONResponse:
    body = ErrorBody(code=code, message=message, problems=problems or [])
    return JSONResponse(body.model_dump(), status_code=HTTP_STATUS.get(code, 500))


class TokenAuth:
    """Bearer auth for catalog writes: the configured API token, or any credential ``accept`` vouches for
    (the serving platform passes its API keys and its own internal token)."""

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


def build_router(queries: CatalogQueries, catalog: Catalog, auth: TokenAuth) -> APIRouter:
    def writer(authorization: Annotated[str | None, Header()] = None) -> None:
        auth.check(authorization)

    def reader(authorization: Annotated[str | None, Header()] = None) -> None:
        if auth.read_auth:
            auth.check(authorization)

    r = APIRouter(prefix=API_PREFIX, dependencies=[])
    read = [Depends(reader)]
    write = [Depends(writer)]

    async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(fn, *args, **kwargs)

    @r.get("/projects", dependencies=read)
    async def list_projects() -> list[Project]:
        return await call(queries.projects)

    @r.get("/projects/{crn:path}", dependencies=read)
    async def get_project(crn: str) -> Project:
        return await call(queries.project, crn)

    @r.get("/models", dependencies=read)
    async def list_models(project: str | None = None) -> list[Model]:
        return await call(queries.models, project_crn=project)

    @r.get("/models/{crn:path}", dependencies=read)
    async def get_model(crn: str) -> Model:
        return await call(queries.model, crn)

    @r.get("/builds", dependencies=read)
    async def list_builds(project: str | None = None, model: str | None = None) -> list[Build]:
        return await call(queries.builds, project_crn=project, model_crn=model)

    @r.get("/builds/{crn:path}", dependencies=read)
    async def get_build(crn: str) -> Build:
        return await call(queries.build, crn)

    @r.get("/deployments", dependencies=read)
    async def list_deployments(classification: str | None = None, model: str | None = None,
                               status: str | None = None) -> list[Deployment]:
        return await call(queries.deployments, classification=classification, model_crn=model, status=status)

    @r.get("/deployments/{crn:path}/lineage", dependencies=read)
    async def deployment_lineage(crn: str) -> DeploymentLineage:
        return await call(queries.deployment_lineage, crn)

    @r.get("/deployments/{crn:path}", dependencies=read)
    async def get_deployment(crn: str) -> Deployment:
        return await call(queries.deployment, crn)

    @r.put("/deployments/{crn:path}", dependencies=write)
    async def record_deployment(crn: str, body: DeploymentRecord) -> WriteResult:
        if body.crn != crn:
            raise InvalidInput("the CRN in the path and the body differ")
        d = DeploymentInput(crn=body.crn, build_crn=body.build_crn, model_crn=body.model_crn,
                            model_name=body.model_name, name=body.name, status=body.status,
                            create_time_ms=body.create_time_ms, deployed_time_ms=body.deployed_time_ms,
                            cpu_millicores=body.cpu_millicores, memory_mb=body.memory_mb, gpus=body.gpus,
                            replicas=body.replicas, endpoint_url=body.endpoint_url, user=body.user,
                            metadata=tuple(sorted(body.metadata.items())))
        res = await call(catalog.record_deployment, d)
        return WriteResult(creates=res.creates, updates=res.updates, written=res.written)

    @r.post("/builds", dependencies=write)
    async def record_builds(body: BuildRequest) -> BuildResult:
        from pathlib import Path

        res = await call(catalog.build, Path(body.project_dir), body.models, allow_unresolved=body.allow_unresolved,
                         commit=body.commit)
        return BuildResult(project_crn=res.project_crn, commit=res.commit, creates=res.creates, updates=res.updates,
                           notes=res.notes, builds=[BuiltModelOut(model_name=b.model_name, model_crn=b.model_crn,
                                                                  build_crn=b.build_crn, version=b.version, new=b.new)
                                                    for b in res.builds])

    @r.get("/impact", dependencies=read)
    async def impact(qualified_name: Annotated[str, Query(alias="qualifiedName", min_length=1)]) -> Impact:
        return await call(queries.impact, qualified_name)

    return r


def install_error_handlers(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError

    previous = app.exception_handlers.get(RequestValidationError)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Any:
        if previous is not None and not request.url.path.startswith(API_PREFIX):
            result = previous(request, exc)  # other APIs in the same app keep their own error shape
            return await result if inspect.isawaitable(result) else result
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}"
                    for e in exc.errors()]
        return error_response("invalid_input", "invalid request: " + "; ".join(problems), problems)

    @app.exception_handler(CatalogError)
    async def catalog_error(request: Request, exc: CatalogError) -> JSONResponse:
        problems = exc.problems if isinstance(exc, Unresolved) else None
        code = exc.code if exc.code in HTTP_STATUS else "invalid_input"
        return error_response(code, exc.message, problems)

    @app.exception_handler(AtlasClientError)
    async def atlas_error(request: Request, exc: AtlasClientError) -> JSONResponse:
        if isinstance(exc, AtlasNotFound):
            return error_response("not_found", str(exc))
        if isinstance(exc, AtlasUnavailable):
            return error_response("upstream_unavailable", str(exc))
        return error_response("invalid_input", str(exc))


def create_catalog_app(queries: CatalogQueries, catalog: Catalog, auth: TokenAuth) -> FastAPI:
    """The catalog API alone (``mlcatalog api``, e.g. in front of a real Atlas)."""
    app = FastAPI(title="mlcatalog catalog API", version="1", openapi_url=f"{API_PREFIX}/openapi.json",
                  docs_url=f"{API_PREFIX}/docs", redoc_url=None)
    mount(app, queries, catalog, auth)
    return app


def mount(app: FastAPI, queries: CatalogQueries, catalog: Catalog, auth: TokenAuth) -> None:
    app.include_router(build_router(queries, catalog, auth))
    install_error_handlers(app)
