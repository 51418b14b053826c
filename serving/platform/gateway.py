"""The model gateway: ``POST /model`` (CML's model service call), routed by access key to a replica pool.

It is the hot path of the platform, so it is served by a raw ASGI middleware in front of the application
(:class:`GatewayMiddleware`): no routing over the ~65 Atlas and catalog routes, no dependency injection, no
request object. The replica already sends the complete 200 body; the gateway forwards it untouched.

Every answer is CML's ``{"success": false, "code", "message"}`` on failure, also for hostile input: a body over
:data:`MAX_BODY` (413), malformed JSON or JSON nested deeper than the replicas can be sent (400: orjson reads
1,024 levels but writes 254, so the request is re-encoded before it is forwarded, and one that cannot be is the
caller's error, counted for its deployment like any other refusal).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog import Forbidden, Principal, Unauthorized, administrator
from serving.platform.apikeys import ApiKeys
from serving.platform.pool import NoFreeReplica, ReplicaDown, ReplicaTimeout
from serving.platform.routing import Route
from serving.platform.service import Platform
from serving.platform.traffic import TrafficRecorder
from serving.replica import OK

MAX_BODY = 5 * 1024 * 1024
MAX_NESTING = 254  # orjson.dumps's limit: the lists/objects a request may nest to reach the replica
PATH = "/model"
_JSON_HEADERS = [(b"content-type", b"application/json")]


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
        self._children: dict[tuple[str, ...], Any] = {}

    # labels() hashes and validates its arguments on every call; the children are cached per label values.
    def count(self, crn: str, code: str, error_kind: str | None = None) -> None:
        self._child(("r", crn, code), self.requests, crn, code).inc()
        if error_kind is not None:
            self._child(("e", crn, error_kind), self.errors, crn, error_kind).inc()

    def observe(self, crn: str, seconds: float) -> None:
        self._child(("l", crn), self.latency, crn).observe(seconds)

    def _child(self, key: tuple[str, ...], metric: Any, *labels: str) -> Any:
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child


def _err(status: int, code: str, message: str, **extra: Any) -> tuple[int, bytes]:
    return status, orjson.dumps({"success": False, "code": code, "message": message, **extra})


def too_large() -> tuple[int, bytes]:
    return _err(413, "too_large", f"request body over {MAX_BODY // (1024 * 1024)} MB")


class Auth:
    """Bearer credentials to a :class:`~catalog.Principal`: the configured admin key and API token are
    administrators; an API key is what its role and scope say (serving/platform/apikeys.py)."""

    def __init__(self, keys: ApiKeys, token: str | None, admin_key: str | None = None) -> None:
        self.keys = keys
        self.token = token
        self.admin_key = admin_key

    @staticmethod
    def _bearer(authorization: str | None) -> str | None:
        scheme, _, given = (authorization or "").partition(" ")
        return given.strip() if scheme.lower() == "bearer" and given.strip() else None

    def identify(self, given: str) -> Principal | None:
        """Who ``given`` is, or None when it is no valid credential."""
        for who, secret in (("admin key", self.admin_key), ("api token", self.token)):
            if secret is not None and hmac.compare_digest(given.encode(), secret.encode()):
                return administrator(who)
        info = self.keys.verify(given)
        return info.principal if info is not None else None

    def principal(self, authorization: str | None) -> Principal | None:
        """None: no credentials given; Forbidden: credentials that are not valid."""
        given = self._bearer(authorization)
        if given is None:
            return None
        found = self.identify(given)
        if found is None:
            raise Forbidden("the API key is not valid (unknown, revoked or expired)")
        return found

    def require(self, authorization: str | None) -> Principal:
        found = self.principal(authorization)
        if found is None:
            raise Unauthorized("an API key is required: Authorization: Bearer <key> (mlcatalog api-keys create)")
        return found

    def require_admin(self, authorization: str | None) -> Principal:
        given = self._bearer(authorization)
        if given is None:
            raise Unauthorized("an administrative key is required: Authorization: Bearer <key> (MLCATALOG_ADMIN_KEY, "
                               "or the key mlcatalog up printed when it created the store)")
        found = self.identify(given)
        if found is None or not found.is_admin:
            raise Forbidden("this needs an administrative key; the key given is not one (or is not valid)")
        return found


class ModelGateway:
    """``recorder``: where each request a deployment was asked to answer is kept per deployment over time (those
    refused before, with 401/403, never reached it and are only counted in Prometheus)."""

    def __init__(self, platform: Platform, auth: Auth, metrics: GatewayMetrics, *, busy_timeout: float,
                 request_timeout: float, recorder: TrafficRecorder | None = None) -> None:
        self.platform = platform
        self.auth = auth
        self.metrics = metrics
        self.busy_timeout = busy_timeout
        self.request_timeout = request_timeout
        self.recorder = recorder
        self._shadow_calls: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak references)

    def _done(self, crn: str, code: str, error_kind: str | None, started: float) -> None:
        self.metrics.count(crn, code, error_kind)
        if self.recorder is not None:
            self.recorder.record(crn, error_kind, time.perf_counter() - started)

    def _refused(self, d: dict[str, Any], authorization: str | None) -> tuple[int, bytes] | None:
        """The answer when the credentials may not call this deployment (the access key alone is no right). A caller
        key scoped to one deployment of a model may call the model's other builds too: the key calls the model."""
        given = Auth._bearer(authorization)
        who = self.auth.identify(given) if given is not None else None
        if given is None:
            return _err(401, "unauthorized", "this model requires an API key: Authorization: Bearer <key>")
        if who is None:
            return _err(403, "forbidden", "the API key is not valid (unknown, revoked or expired)")
        project = self.platform.project_ref(d)
        family = self.platform.versions.family.get(d["model_crn"], frozenset((d["crn"],)))
        if not any(who.may("call", project, deployment=crn) for crn in sorted(family | {d["crn"]})):
            return _err(403, "forbidden", f"this {who.role} key may not call this model (its deployments and "
                                          "projects do not include it)")
        return None

    def _served(self, route: Route, request: Any) -> dict[str, Any] | None:
        """The deployment that answers ``request``: the route's pick, or, while this instance has not started that
        build yet (another instance changed the traffic a moment ago), another of the route's builds it runs."""
        served = self.platform.served
        picked = route.pick(request)
        d = served.get(picked) if picked is not None else None
        if d is None:
            d = next((served[crn] for crn, p in route.split.items() if p > 0 and crn in served), None)
        return d

    async def handle(self, body: bytes, authorization: str | None) -> tuple[int, bytes]:
        """(HTTP status, JSON body) for one call."""
        started = time.perf_counter()
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            return _err(400, "bad_json", f"malformed JSON: {e}")
        if not isinstance(data, dict) or not isinstance(data.get("accessKey"), str) or "request" not in data:
            return _err(400, "bad_request", 'expected {"accessKey": "...", "request": {...}}')
        route = self.platform.route(data["accessKey"])
        d = self._served(route, data["request"]) if route is not None else None
        pool = self.platform.supervisor.pool(d["crn"]) if d is not None else None
        if (d is None or pool is None) and self.platform.is_restoring():
            # just started: the model may be among those coming back (their environments being made)
            await self.platform.restored(self.busy_timeout)
            route = self.platform.route(data["accessKey"])
            d = self._served(route, data["request"]) if route is not None else None
            pool = self.platform.supervisor.pool(d["crn"]) if d is not None else None
        if d is None or pool is None or route is None:
            return _err(404, "unknown_access_key", "no running model has this access key")
        crn = d["crn"]
        gm = self.metrics
        if d["auth_enabled"]:
            refused = self._refused(d, authorization)
            if refused is not None:
                gm.count(crn, str(refused[0]))
                return refused
        try:
            forwarded = orjson.dumps(data["request"])
        except orjson.JSONEncodeError:  # parsed, but nested too deep to encode again (the only failure of JSON)
            gm.count(crn, "400")
            return _err(400, "bad_request", f"the request is nested more than {MAX_NESTING} lists/objects deep")
        try:
            answer, _ = await pool.call(forwarded, busy_timeout=self.busy_timeout,
                                        request_timeout=self.request_timeout)
        except NoFreeReplica:
            self._done(crn, "429", "busy", started)
            return _err(429, "model.busy", "no free replica within the timeout; retry or add replicas")
        except ReplicaTimeout:
            self._done(crn, "504", "timeout", started)
            return _err(504, "model_timeout", "the model did not answer within the request timeout")
        except ReplicaDown:
            self._done(crn, "503", "replica_down", started)
            return _err(503, "replica_down", "no replica could answer; the platform is restarting them")
        gm.observe(crn, time.perf_counter() - started)
        if answer[:1] != OK:
            failure = orjson.loads(answer[1:])
            self._done(crn, "500", "model_exception", started)
            return _err(500, "model_error", f"the model raised an exception; its traceback is in the replica log "
                        f"(error id {failure.get('error_id')}): mlcatalog logs {crn}",
                        error_id=failure.get("error_id"), ReplicaID=failure.get("replica"))
        self._done(crn, "200", None, started)
        if route.shadow is not None and route.shadow != crn:
            self._copy_to_shadow(route.shadow, forwarded)
        return 200, answer[1:]

    def _copy_to_shadow(self, crn: str, forwarded: bytes) -> None:
        """The shadow build answers a copy of the call (its own prediction UUID and metrics record), in the
        background; its answer is dropped, its failures are counted, the caller never waits for it."""
        pool = self.platform.supervisor.pool(crn)
        if pool is None:
            return

        async def copy() -> None:
            started = time.perf_counter()
            try:
                answer, _ = await pool.call(forwarded, busy_timeout=self.busy_timeout,
                                            request_timeout=self.request_timeout)
            except (NoFreeReplica, ReplicaTimeout, ReplicaDown) as e:
                self._done(crn, "503", type(e).__name__, started)
                return
            self._done(crn, "200" if answer[:1] == OK else "500", None if answer[:1] == OK else "model_exception",
                       started)

        task = asyncio.get_running_loop().create_task(copy())
        self._shadow_calls.add(task)
        task.add_done_callback(self._shadow_calls.discard)


async def _read_body(receive: Receive, declared: int | None) -> bytes | None:
    """The request body; None when it is over MAX_BODY (checked before reading when the length is declared)."""
    if declared is not None and declared > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class GatewayMiddleware:
    """Serves ``POST /model`` straight from ASGI; everything else goes to the wrapped application."""

    def __init__(self, app: ASGIApp, gateway: ModelGateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        authorization: str | None = None
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit():
                declared = int(value) if len(value) < 19 else MAX_BODY + 1  # int() refuses over 4,300 digits
            elif key == b"authorization":
                authorization = value.decode("latin-1")
        try:
            body = await _read_body(receive, declared)
        except ConnectionAbortedError:
            return  # the client went away before sending its request
        if body is None:
            status, payload = too_large()
        else:
            status, payload = await self.gateway.handle(body, authorization)
        await send({"type": "http.response.start", "status": status,
                    "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
