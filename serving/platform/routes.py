"""HTTP surface of the platform: the model gateway (``POST /model``), Prometheus ``/metrics``, the serving
admin API (``/api/v1/serving``) and the metrics API the SDK uses (``/api/v1/metrics``)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from catalog.errors import Forbidden, NotFound, Unauthorized
from serving.platform import outbox
from serving.platform.apikeys import ApiKeys
from serving.platform.pool import NoFreeReplica, ReplicaDown, ReplicaTimeout
from serving.platform.service import DeploymentInfo, DeployRequest, DeployResult, Platform
from serving.platform.state import StateDb

MAX_BODY = 5 * 1024 * 1024


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("mlcatalog_model_requests_total", "model requests", ["deployment", "code"],
                                registry=self.registry)
        self.errors = Counter("mlcatalog_model_errors_total", "failed model requests", ["deployment", "kind"],
                              registry=self.registry)
        self.latency = Histogram("mlcatalog_model_request_seconds", "model request latency", ["deployment"],
                                 registry=self.registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _err(status: int, code: str, message: str, **extra: Any) -> Response:
    return _json(status, {"success": False, "code": code, "message": message, **extra})


class Auth:
    """Bearer credentials: a model API key, or the configured API token (for operators and the platform)."""

    def __init__(self, keys: ApiKeys, token: str | None) -> None:
        self.keys = keys
        self.token = token

    def valid(self, authorization: str | None) -> bool | None:
        """None: no credentials given; else whether they are valid."""
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return None
        given = given.strip()
        if self.token is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            return True
        return self.keys.verify(given) is not None

    def require(self, authorization: str | None) -> None:
        ok = self.valid(authorization)
        if ok is None:
            raise Unauthorized("an API key is required: Authorization: Bearer <key> (mlcatalog api-keys create)")
        if not ok:
            raise Forbidden("the API key is not valid (unknown, revoked or expired)")


class MetricsAggregate(BaseModel):
    metrics: dict[str, Any] = Field(min_length=1)
    start_timestamp_ms: int
    end_timestamp_ms: int
    model_deployment_crn: str


class MetricsDelayed(BaseModel):
    metrics: dict[str, Any] = Field(min_length=1)
    prediction_uuid: str = Field(min_length=1)


def build_router(platform: Platform, auth: Auth, state: StateDb, metrics_store: Any, gm: GatewayMetrics,
                 *, busy_timeout: float, request_timeout: float) -> APIRouter:
    r = APIRouter()

    def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        auth.require(authorization)

    guarded = [Depends(admin)]

    @r.post("/model", include_in_schema=True, summary="Call a deployed model (CML model service format)")
    async def model(request: Request) -> Response:
        started = time.perf_counter()
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            return _err(413, "too_large", f"request body over {MAX_BODY // (1024 * 1024)} MB")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return _err(413, "too_large", f"request body over {MAX_BODY // (1024 * 1024)} MB")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            return _err(400, "bad_json", f"malformed JSON: {e}")
        if not isinstance(data, dict) or not isinstance(data.get("accessKey"), str) or "request" not in data:
            return _err(400, "bad_request", 'expected {"accessKey": "...", "request": {...}}')
        d = platform.route(data["accessKey"])
        if d is None:
            return _err(404, "unknown_access_key", "no running model has this access key")
        crn = d["crn"]
        if d["auth_enabled"]:
            ok = auth.valid(request.headers.get("authorization"))
            if ok is None:
                gm.requests.labels(crn, "401").inc()
                return _err(401, "unauthorized", "this model requires an API key: Authorization: Bearer <key>")
            if not ok:
                gm.requests.labels(crn, "403").inc()
                return _err(403, "forbidden", "the API key is not valid (unknown, revoked or expired)")
        pool = platform.supervisor.pool(crn)
        if pool is None:
            return _err(404, "unknown_access_key", "no running model has this access key")
        try:
            frame, replica = await pool.call(orjson.dumps(data["request"]), busy_timeout=busy_timeout,
                                             request_timeout=request_timeout)
        except NoFreeReplica:
            gm.requests.labels(crn, "429").inc()
            gm.errors.labels(crn, "busy").inc()
            return _err(429, "model.busy", "no free replica within the timeout; retry or add replicas")
        except ReplicaTimeout:
            gm.requests.labels(crn, "504").inc()
            gm.errors.labels(crn, "timeout").inc()
            return _err(504, "model_timeout", "the model did not answer within the request timeout")
        except ReplicaDown:
            gm.requests.labels(crn, "503").inc()
            gm.errors.labels(crn, "replica_down").inc()
            return _err(503, "replica_down", "no replica could answer; the platform is restarting them")
        out = orjson.loads(frame)
        gm.latency.labels(crn).observe(time.perf_counter() - started)
        if not out.get("ok"):
            gm.requests.labels(crn, "500").inc()
            gm.errors.labels(crn, "model_exception").inc()
            return _err(500, "model_error", "the model raised an exception; see the replica log",
                        error_id=out.get("error_id"), ReplicaID=out.get("replica"))
        gm.requests.labels(crn, "200").inc()
        return Response(b'{"success":true,"response":' + orjson.dumps(out["response"]) + b',"ReplicaID":'
                        + orjson.dumps(replica) + b"}", media_type="application/json")

    @r.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(gm.registry), media_type=CONTENT_TYPE_LATEST)

    # -- serving admin -------------------------------------------------------------------------------
    @r.post("/api/v1/serving/deployments", dependencies=guarded)
    async def deploy(body: DeployRequest) -> DeployResult:
        return await platform.deploy(body)

    @r.get("/api/v1/serving/deployments", dependencies=guarded)
    async def deployments() -> list[DeploymentInfo]:
        return await run_in_threadpool(platform.list)

    @r.get("/api/v1/serving/deployments/{crn:path}", dependencies=guarded)
    async def deployment(crn: str) -> DeploymentInfo:
        return await run_in_threadpool(platform.get, crn)

    @r.post("/api/v1/serving/stop/{crn:path}", dependencies=guarded)
    async def stop(crn: str) -> DeploymentInfo:
        return await platform.stop(crn)

    @r.get("/api/v1/serving/outbox", dependencies=guarded)
    async def pending(all: bool = False) -> list[dict[str, Any]]:  # noqa: A002 - query parameter name
        rows = await run_in_threadpool(outbox.entries, state, include_done=all)
        return [e.__dict__ for e in rows]

    # -- metrics API (the SDK's read/aggregate/delayed calls) --------------------------------------
    def call(fn: Callable[..., Any], *a: Any, **k: Any) -> Any:
        return run_in_threadpool(fn, *a, **k)

    @r.get("/api/v1/metrics", dependencies=guarded)
    async def read_metrics(model_deployment_crn: str | None = None, model_crn: str | None = None,
                           model_build_crn: str | None = None,
                           start_timestamp_ms: Annotated[int, Query(ge=0)] = 0,
                           end_timestamp_ms: int | None = None) -> JSONResponse:
        if not (model_deployment_crn or model_crn or model_build_crn):
            raise NotFoundOrBad("give model_deployment_crn, model_crn or model_build_crn")
        records = await call(metrics_store.read, model_deployment_crn=model_deployment_crn, model_crn=model_crn,
                             model_build_crn=model_build_crn, start_ms=start_timestamp_ms,
                             end_ms=end_timestamp_ms)  # None: no upper bound (a record of this very ms stays)
        return JSONResponse({"metrics": [rec.to_cml() for rec in records]})

    @r.post("/api/v1/metrics/aggregate", dependencies=guarded)
    async def aggregate(body: MetricsAggregate) -> JSONResponse:
        crn = _resolve_crn(platform, body.model_deployment_crn)
        d = platform.by_crn(crn)
        await call(metrics_store.write_aggregate, crn, body.start_timestamp_ms, body.end_timestamp_ms, body.metrics,
                   model_build_crn=d.build_crn if d else None, model_crn=d.model_crn if d else None)
        return JSONResponse({"success": True, "model_deployment_crn": crn})

    @r.post("/api/v1/metrics/delayed", dependencies=guarded)
    async def delayed(body: MetricsDelayed) -> Response:
        from serving.metrics import UnknownPrediction

        try:
            rec = await call(metrics_store.merge_delayed, body.prediction_uuid, body.metrics)
        except UnknownPrediction:
            return _err(404, "unknown_prediction", f"no prediction with UUID {body.prediction_uuid}")
        return JSONResponse({"success": True, "record": rec.to_cml()})

    return r


class NotFoundOrBad(NotFound):
    code = "invalid_input"


def _resolve_crn(platform: Platform, crn: str) -> str:
    """Accept CML's bare ``/<uuid>`` form of a deployment CRN (as in track_aggregate_metrics' help example)."""
    if not crn.startswith("/"):
        return crn
    suffix = crn
    for d in platform.list():
        if d.crn.endswith(suffix):
            return d.crn
    raise NotFound(f"no deployment whose CRN ends with {crn}")
