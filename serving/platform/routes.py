"""HTTP surface of the platform: Prometheus ``/metrics``, the serving admin API (``/api/v1/serving``), the metrics
API the SDK uses (``/api/v1/metrics``) and the documented twin of the gateway's ``POST /model``.

Every body, path and query value is bounded to what the stores hold (epoch ms in 64 bits, metrics as
:func:`~serving.metrics.models.normalize_metrics` accepts them, no control characters) and refused whole, as a
400, before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from catalog import (
    Action,
    CrnError,
    Forbidden,
    InvalidInput,
    NotFound,
    Principal,
    Role,
    bare_id,
    no_control,
    plain_params,
    resolve_ref,
)
from serving.metrics.models import MAX_MS, CrnText, normalize_metrics
from serving.platform import outbox
from serving.platform.apikeys import NAME_MAX, SCOPE_MAX, SCOPE_NAME_MAX, ApiKeyInfo, ApiKeys
from serving.platform.deploystream import NDJSON, streamed_deploy
from serving.platform.gateway import MAX_BODY, Auth, ModelGateway, too_large
from serving.platform.service import BuildEnvironmentInfo, DeploymentInfo, DeployRequest, DeployResult, Platform
from serving.platform.state import State
from serving.platform.traffic import TrafficRecorder, TrafficSeries
from serving.platform.versions import ModelTraffic

# Traffic ranges are rounded out to whole steps: a bound well inside 64 bits (and exact in a JavaScript number)
MAX_TRAFFIC_MS = 2**53 - 1


EpochMs = Annotated[int, Field(ge=0, le=MAX_MS, description="epoch milliseconds")]
Metrics = Annotated[dict[str, Any], Field(min_length=1), AfterValidator(normalize_metrics)]
PlainCrn = Annotated[CrnText, AfterValidator(no_control)]


ScopeName = Annotated[str, Field(min_length=1, max_length=SCOPE_NAME_MAX), AfterValidator(no_control)]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(no_control)]
    expires_ms: EpochMs | None = Field(default=None, gt=0, description="epoch ms after which the key is refused")
    role: Role | None = Field(default=None, description="admin, deployer, viewer or caller")
    projects: list[ScopeName] = Field(default_factory=list, max_length=SCOPE_MAX,
                                      description="project names or CRNs the key acts in; '*': every project")
    deployments: list[ScopeName] = Field(default_factory=list, max_length=SCOPE_MAX,
                                         description="a caller key: the deployments whose models it may call")
    admin: bool = Field(default=False, description="the same as role admin (before roles)")

    @model_validator(mode="after")
    def _role(self) -> Self:
        if self.role is None:
            if not self.admin:
                raise ValueError("give the key's role: admin, deployer, viewer or caller")
            self.role = "admin"
        elif self.admin and self.role != "admin":
            raise ValueError(f"admin is true but role is {self.role}")
        return self


class OutboxRetry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int | None = Field(default=None, ge=1, le=2**63 - 1, description="a parked entry; null: every one")


class ApiKeyOut(BaseModel):
    key_id: str
    name: str
    role: Role
    projects: list[str]
    deployments: list[str]
    admin: bool
    active: bool
    created_ms: int
    expires_ms: int | None
    revoked_ms: int | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the key itself: shown once, stored only hashed")


class ReplicaLog(BaseModel):
    replica: int
    path: str
    lines: list[str]


class MetricsAggregate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metrics: Metrics
    start_timestamp_ms: EpochMs
    end_timestamp_ms: EpochMs
    model_deployment_crn: PlainCrn

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.end_timestamp_ms < self.start_timestamp_ms:
            raise ValueError("end_timestamp_ms is before start_timestamp_ms")
        return self


class MetricsDelayed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metrics: Metrics
    prediction_uuid: Annotated[str, Field(min_length=1, max_length=256), AfterValidator(no_control)]


def _key_out(k: ApiKeyInfo) -> dict[str, Any]:
    return {"key_id": k.key_id, "name": k.name, "role": k.role, "projects": list(k.projects),
            "deployments": list(k.deployments), "admin": k.admin, "active": k.active, "created_ms": k.created_ms,
            "expires_ms": k.expires_ms, "revoked_ms": k.revoked_ms}


class WhoAmI(BaseModel):
    who: str
    role: Role
    projects: list[str]
    deployments: list[str]


def _model_router(gateway: ModelGateway) -> APIRouter:
    """``POST /model`` (the gateway's documented twin) and Prometheus ``GET /metrics``."""
    r = APIRouter()

    @r.post("/model", summary="Call a deployed model (CML model service format)",
            description="Served by the gateway middleware in front of the app (serving/platform/gateway.py); "
                        "this route documents it and serves it when the app runs without that middleware.")
    async def model(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            status, payload = too_large()
        else:
            status, payload = await gateway.handle(body, request.headers.get("authorization"))
        return Response(payload, status_code=status, media_type="application/json")

    @r.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return r


def _deployment(platform: Platform, who: Principal, crn: str, action: Action) -> DeploymentInfo:
    """The deployment ``crn`` (404 when the platform never had it), if ``who`` may ``action`` in its project."""
    info = platform.get(crn)
    who.require(action, platform.project_ref(info), what=info.crn)
    return info


def _serving_router(platform: Platform, state: State, recorder: TrafficRecorder | None, who: Any,
                    admin_only: list[Any]) -> APIRouter:
    """The serving admin API: deploy, list, logs, traffic, get, stop; the outbox."""
    r = APIRouter()
    me = Depends(who)  # a default, not an Annotated alias: postponed annotations cannot see a local alias

    @r.post("/api/v1/serving/deployments", response_model=DeployResult,
            responses={200: {"content": {NDJSON: {}}, "description": "the deployment; with Accept: "
                             "application/x-ndjson, progress events, then one result or error event"}})
    async def deploy(body: DeployRequest, request: Request, caller: Principal = me) -> Any:
        if NDJSON in request.headers.get("accept", ""):
            return await streamed_deploy(platform, body, caller)
        return await platform.deploy(body, caller)

    @r.get("/api/v1/serving/builds/{crn:path}/environment",
           summary="The Python environment a build is served from: its packages and build log")
    async def build_environment(crn: str, lines: Annotated[int, Query(ge=1, le=100_000)] = 200,
                                caller: Principal = me) -> BuildEnvironmentInfo:
        # authorised on its deployment's project before anything of the environment is read
        deployment_crn = await run_in_threadpool(platform.build_deployment, crn)
        await run_in_threadpool(_deployment, platform, caller, deployment_crn, "read")
        info: BuildEnvironmentInfo = await run_in_threadpool(platform.build_environment, crn, lines)
        return info

    @r.get("/api/v1/serving/deployments", description="The deployments of the key's projects.")
    async def deployments(caller: Principal = me) -> list[DeploymentInfo]:
        every = await run_in_threadpool(platform.list)
        return [d for d in every if caller.may("read", platform.project_ref(d))]

    @r.get("/api/v1/serving/whoami", summary="The credential's role and scope")
    async def whoami(caller: Principal = me) -> WhoAmI:
        return WhoAmI(who=caller.who, role=caller.role, projects=sorted(caller.projects),
                      deployments=sorted(caller.deployments))

    # Before ".../{crn:path}", which would match ".../logs" and ".../traffic" too.
    @r.get("/api/v1/serving/deployments/{crn:path}/logs")
    async def logs(crn: str, lines: Annotated[int, Query(ge=1, le=100_000)] = 200,
                   caller: Principal = me) -> list[ReplicaLog]:
        await run_in_threadpool(_deployment, platform, caller, crn, "read")
        return [ReplicaLog.model_validate(x) for x in await run_in_threadpool(platform.supervisor.logs, crn, lines)]

    @r.get("/api/v1/serving/deployments/{crn:path}/traffic",
           summary="A deployment's requests, errors and latency percentiles over time",
           description="Points only for steps that saw requests; the range is widened to whole steps. The default "
                       "range is the last hour, the default step gives at most about 240 points.")
    async def traffic(crn: str, start_ms: Annotated[int | None, Query(ge=0, le=MAX_TRAFFIC_MS)] = None,
                      end_ms: Annotated[int | None, Query(ge=0, le=MAX_TRAFFIC_MS)] = None,
                      step_ms: Annotated[int | None, Query(le=MAX_TRAFFIC_MS,
                                                          description="a multiple of 10000")] = None,
                      caller: Principal = me) -> TrafficSeries:
        resolved = await run_in_threadpool(platform.resolve_deployment, crn)  # 404 for an unknown deployment
        await run_in_threadpool(_deployment, platform, caller, resolved, "read")
        if recorder is None:
            raise NotFound("this platform does not record request traffic")
        series: TrafficSeries = await run_in_threadpool(recorder.series, resolved, start_ms, end_ms, step_ms)
        return series

    @r.get("/api/v1/serving/deployments/{crn:path}")
    async def deployment(crn: str, caller: Principal = me) -> DeploymentInfo:
        info: DeploymentInfo = await run_in_threadpool(_deployment, platform, caller, crn, "read")
        return info

    @r.post("/api/v1/serving/stop/{crn:path}")
    async def stop(crn: str, caller: Principal = me) -> DeploymentInfo:
        await run_in_threadpool(_deployment, platform, caller, crn, "deploy")
        return await platform.stop(crn)

    @r.get("/api/v1/serving/outbox", dependencies=admin_only)
    async def pending(all: bool = False) -> list[dict[str, Any]]:
        rows = await run_in_threadpool(outbox.entries, state, include_done=all)
        return [e.__dict__ for e in rows]

    @r.post("/api/v1/serving/outbox/retry", dependencies=admin_only)
    async def retry(body: OutboxRetry) -> dict[str, list[int]]:
        """Put parked entries (the catalog refused them) back in line: one, or all when ``seq`` is null."""
        again = await run_in_threadpool(outbox.retry, state, body.seq)
        platform.wake_outbox()
        return {"retried": again}

    return r


class TrafficShares(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shares: dict[Annotated[str, Field(min_length=1, max_length=1024)], int] = Field(
        min_length=1, max_length=16, description="build CRN (or deployment CRN) -> percent; percents sum to 100")


def _models_router(platform: Platform, who: Any) -> APIRouter:
    """A model's builds over time: its traffic split, promote, rollback (serving/platform/versions.py)."""
    r = APIRouter()
    me = Depends(who)
    versions = platform.versions

    def allowed(caller: Principal, ref: str, action: Action) -> str:
        model = versions.resolve_model(ref)
        caller.require(action, platform.project_for("model_crn", model), what=model)
        return model

    @r.get("/api/v1/serving/models", description="The models of the key's projects, with their traffic.")
    async def models(caller: Principal = me) -> list[ModelTraffic]:
        every = await run_in_threadpool(versions.models)
        return [m for m in every if caller.may("read", platform.project_for("model_crn", m.model_crn))]

    @r.put("/api/v1/serving/models/{ref:path}/traffic", summary="Split a model's calls among its builds")
    async def traffic(ref: str, body: TrafficShares, caller: Principal = me) -> ModelTraffic:
        model = await run_in_threadpool(allowed, caller, ref, "deploy")
        await versions.set_traffic(model, body.shares)
        return await run_in_threadpool(versions.describe, model)

    @r.post("/api/v1/serving/models/{ref:path}/promote", summary="The canary (or shadow) takes all the calls")
    async def promote(ref: str, caller: Principal = me) -> ModelTraffic:
        model = await run_in_threadpool(allowed, caller, ref, "deploy")
        await versions.promote(model)
        return await run_in_threadpool(versions.describe, model)

    @r.post("/api/v1/serving/models/{ref:path}/rollback", summary="Back to the split before the latest change")
    async def rollback(ref: str, caller: Principal = me) -> ModelTraffic:
        model = await run_in_threadpool(allowed, caller, ref, "deploy")
        await versions.rollback(model)
        return await run_in_threadpool(versions.describe, model)

    @r.get("/api/v1/serving/models/{ref:path}")
    async def model(ref: str, caller: Principal = me) -> ModelTraffic:
        found = await run_in_threadpool(allowed, caller, ref, "read")
        return await run_in_threadpool(versions.describe, found)

    return r


def _api_key_router(keys: ApiKeys, admin_only: list[Any]) -> APIRouter:
    """API keys (administrative): create, list, revoke."""
    r = APIRouter()

    @r.post("/api/v1/serving/api-keys", dependencies=admin_only, status_code=201)
    async def create_key(body: ApiKeyCreate) -> ApiKeyCreated:
        try:
            info, key = await run_in_threadpool(keys.create, body.name, body.expires_ms, role=body.role or "admin",
                                                projects=body.projects, deployments=body.deployments)
        except ValueError as e:
            raise InvalidInput(str(e)) from None
        return ApiKeyCreated(key=key, **_key_out(info))

    @r.get("/api/v1/serving/api-keys", dependencies=admin_only)
    async def list_keys() -> list[ApiKeyOut]:
        return [ApiKeyOut(**_key_out(k)) for k in await run_in_threadpool(keys.list)]

    @r.delete("/api/v1/serving/api-keys/{key_id}", dependencies=admin_only)
    async def revoke_key(key_id: str) -> ApiKeyOut:
        if not await run_in_threadpool(keys.revoke, key_id):
            raise NotFound(f"no active API key with id {key_id}")
        return next(ApiKeyOut(**_key_out(k)) for k in keys.list() if k.key_id == key_id)

    return r


_CRN_KINDS = {"crn": "deployment", "build_crn": "build", "model_crn": "model"}


def _resolve_crn(platform: Platform, ref: str | None, kind: str) -> str | None:
    """A CRN given to the metrics API; CML's bare ``/<id>`` form is resolved against the platform's deployments
    (``kind``: which of their CRNs), and an unknown one is a 404 rather than an empty answer."""
    if not ref:
        return None
    try:
        crn = resolve_ref(ref, platform.known_crns(kind) if bare_id(ref) else ())
    except CrnError as e:
        raise InvalidInput(str(e)) from None
    if crn is None:
        raise NotFound(f"no {_CRN_KINDS[kind]} of this platform has a CRN ending with {ref.strip()}")
    return crn


def _call(fn: Callable[..., Any], *a: Any, **k: Any) -> Any:
    return run_in_threadpool(fn, *a, **k)


def _may_metrics(platform: Platform, who: Principal, action: Action, crns: dict[str, str | None]) -> None:
    """Forbidden unless ``who`` may ``action`` in the projects of the deployment/model/build CRNs given (a CRN
    this platform never deployed belongs to no project: only an administrator reaches it)."""
    for kind, crn in crns.items():
        if crn is not None:
            who.require(action, platform.project_for(kind, crn), what=crn)


def _metrics_router(platform: Platform, metrics_store: Any, who: Any) -> APIRouter:
    """The metrics API (the SDK's read/aggregate/delayed calls)."""
    r = APIRouter()
    me = Depends(who)  # a default, not an Annotated alias: postponed annotations cannot see a local alias

    @r.get("/api/v1/metrics")
    async def read_metrics(model_deployment_crn: str | None = None, model_crn: str | None = None,
                           model_build_crn: str | None = None,
                           start_timestamp_ms: Annotated[int, Query(ge=0, le=MAX_MS)] = 0,
                           end_timestamp_ms: Annotated[int | None, Query(ge=0, le=MAX_MS)] = None,
                           caller: Principal = me) -> JSONResponse:
        if not (model_deployment_crn or model_crn or model_build_crn):
            raise InvalidInput("give model_deployment_crn, model_crn or model_build_crn")
        crns = {"crn": _resolve_crn(platform, model_deployment_crn, "crn"),
                "model_crn": _resolve_crn(platform, model_crn, "model_crn"),
                "build_crn": _resolve_crn(platform, model_build_crn, "build_crn")}
        await _call(_may_metrics, platform, caller, "read", crns)
        records = await _call(metrics_store.read, model_deployment_crn=crns["crn"], model_crn=crns["model_crn"],
                              model_build_crn=crns["build_crn"],
                              start_ms=start_timestamp_ms,
                              end_ms=end_timestamp_ms)  # None: no upper bound (a record of this very ms stays)
        return JSONResponse({"metrics": [rec.to_cml() for rec in records]})

    @r.post("/api/v1/metrics/aggregate")
    async def aggregate(body: MetricsAggregate, caller: Principal = me) -> JSONResponse:
        crn = _resolve_crn(platform, body.model_deployment_crn, "crn")
        if crn is None:
            raise InvalidInput("model_deployment_crn is empty")
        await _call(_may_metrics, platform, caller, "deploy", {"crn": crn})
        d = platform.by_crn(crn)
        await _call(metrics_store.write_aggregate, crn, body.start_timestamp_ms, body.end_timestamp_ms, body.metrics,
                    model_build_crn=d.build_crn if d else None, model_crn=d.model_crn if d else None)
        return JSONResponse({"success": True, "model_deployment_crn": crn})

    @r.post("/api/v1/metrics/delayed",
            description="Ground truth for a prediction, by its UUID (which only its caller was given): a key that "
                        "may call or deploy models (not a viewer).")
    async def delayed(body: MetricsDelayed, caller: Principal = me) -> Response:
        if caller.role == "viewer":
            raise Forbidden("a viewer key may not record metrics")
        rec = await _call(metrics_store.merge_delayed, body.prediction_uuid, body.metrics)
        return JSONResponse({"success": True, "record": rec.to_cml()})

    return r


def build_router(platform: Platform, auth: Auth, state: State, metrics_store: Any, gateway: ModelGateway,
                 ) -> APIRouter:
    """The platform's routes, registered in this order (a route is matched in registration order)."""

    def who(authorization: Annotated[str | None, Header()] = None) -> Principal:
        return auth.require(authorization)

    def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        auth.require_admin(authorization)

    admin_only = [Depends(admin)]
    r = APIRouter(dependencies=[Depends(plain_params)])
    r.include_router(_model_router(gateway))
    r.include_router(_serving_router(platform, state, gateway.recorder, who, admin_only))
    r.include_router(_models_router(platform, who))
    r.include_router(_api_key_router(auth.keys, admin_only))
    r.include_router(_metrics_router(platform, metrics_store, who))
    return r
