"""Liveness and readiness of ``mlcatalog up``: ``GET /healthz`` and ``GET /readyz``, unauthenticated.

``/healthz`` answers while the process serves requests at all (a probe that restarts it when it does not).
``/readyz`` asks what the platform needs to be useful, each with a short timeout, all at once:

* ``state``: the platform's state store (API keys, deployments, outbox) answers a query;
* ``metrics``: the metrics store (SQLite or PostgreSQL) answers a query;
* ``atlas``: the Atlas the catalog records into answers ``admin/status`` as ACTIVE, or, for the embedded store,
  the store is open at the schema this code expects;
* ``deployments``: the deployments that ran before the platform stopped are back (at start-up, in the background:
  their environments may take minutes to make, while ``/healthz`` answers).

An external Atlas that does not answer makes the platform ``degraded``, not unready: deploys and predictions go on
and their catalog writes wait in the outbox, so a load balancer must keep sending traffic (200, ``status:
degraded``). Any other failure is 503, mlcatalog's error body (``upstream_unavailable``) naming the checks that
failed, with why, in ``problems``; 200 lists every check and its result. Nothing in either names a credential:
errors are shown with the passwords of URLs masked, and the Atlas by its URL without user info.

Checks run on a small pool of their own, never on the event loop nor the default executor; a check that is still
running when the next probe comes is waited for again rather than started twice, so a hanging dependency holds at
most one thread per check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from catalog.api.errors import error_response
from catalog.atlas.client import BASE_URI, AtlasCatalogClient
from catalog.atlas.connect import is_embedded
from catalog.embedded.db import MIGRATIONS
from catalog.embedded.store import EmbeddedStore
from catalog.redact import redact_text

if TYPE_CHECKING:
    from mlcatalog.app import Runtime

__all__ = ["CHECK_TIMEOUT_S", "LIVE_PATH", "READY_PATH", "CheckResult", "Readiness", "install_health"]

LIVE_PATH = "/healthz"
READY_PATH = "/readyz"

#: Each check's bound: well inside a probe's own timeout (Kubernetes' and the image's are 5 s).
CHECK_TIMEOUT_S = 2.0
_MAX_DETAIL = 300  # an error's text, cut: a probe's answer stays small
Check = Callable[[], str]  # the detail of a success; raises on failure


class CheckResult(BaseModel):
    name: str
    ok: bool
    detail: str
    elapsed_ms: float


class Liveness(BaseModel):
    status: str = "alive"


class Ready(BaseModel):
    status: Literal["ready", "degraded"] = "ready"
    checks: list[CheckResult]


class Readiness:
    """Runs named checks concurrently, each bounded by ``timeout_s``."""

    def __init__(self, checks: dict[str, Check], *, timeout_s: float = CHECK_TIMEOUT_S,
                 on_close: Callable[[], None] | None = None, advisory: set[str] | None = None) -> None:
        self._checks = checks
        self.advisory = frozenset(advisory or ())  # failing, they leave the platform degraded, not unready
        self._timeout_s = timeout_s
        self._on_close = on_close
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(checks)), thread_name_prefix="mlcatalog-readyz")
        self._running: dict[str, Future[str]] = {}

    async def run(self) -> list[CheckResult]:
        return list(await asyncio.gather(*(self._one(name) for name in self._checks)))

    async def _one(self, name: str) -> CheckResult:
        started = time.monotonic()
        future = self._running.get(name)
        if future is None or future.done():
            future = self._running[name] = self._pool.submit(self._checks[name])
        # asyncio.wait, not wait_for: a timeout leaves the check running (a thread cannot be cancelled) and the
        # next probe waits for that same one
        waited = asyncio.wrap_future(future)
        done, _ = await asyncio.wait({waited}, timeout=self._timeout_s)
        elapsed = round((time.monotonic() - started) * 1000, 1)
        if not done:
            return CheckResult(name=name, ok=False, detail=f"no answer within {self._timeout_s:g} s",
                               elapsed_ms=elapsed)
        error = waited.exception()
        if error is not None:
            return CheckResult(name=name, ok=False, detail=_shown(error), elapsed_ms=elapsed)
        return CheckResult(name=name, ok=True, detail=waited.result(), elapsed_ms=elapsed)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._on_close is not None:
            self._on_close()


def _shown(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    text = redact_text(text)
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "..."


# -- the checks --------------------------------------------------------------------------------------------------
def _state_check(runtime: Runtime) -> Check:
    def check() -> str:
        runtime.state.ping()
        return "answers"

    return check


def _metrics_check(runtime: Runtime) -> Check:
    def check() -> str:
        store = runtime.metrics_store
        if store is None:
            raise RuntimeError("metrics store not open yet")
        store.count_predictions("mlcatalog-readyz", 0, 1)  # a real read, through the store's own connections
        return "answers"

    return check


def _embedded_check(store: EmbeddedStore) -> Check:
    def check() -> str:
        version = int(store.db.reader().execute("PRAGMA user_version").fetchone()[0])
        if version != len(MIGRATIONS):
            raise RuntimeError(f"embedded store at schema {version}, this code expects {len(MIGRATIONS)}")
        return "embedded store open"

    return check


def _atlas_check(client: AtlasCatalogClient) -> Check:
    def check() -> str:
        answer = client.call("admin/status", "GET", base=BASE_URI)
        status = answer.get("Status") if isinstance(answer, dict) else None
        if status != "ACTIVE":  # Atlas HA: a PASSIVE or BECOMING_ACTIVE server answers but records nothing
            raise RuntimeError(f"Atlas at {client.url} is {status or 'of no known status'}")
        return f"Atlas at {client.url} is ACTIVE"

    return check


def _deployments_check(runtime: Runtime) -> Check:
    def check() -> str:
        if runtime.platform.is_restoring():
            raise RuntimeError("restoring the deployments that ran before the platform stopped")
        return f"{len(runtime.platform.served)} served here"

    return check


def readiness_of(runtime: Runtime, timeout_s: float = CHECK_TIMEOUT_S) -> Readiness:
    settings = runtime.settings
    url = settings.atlas_url_served()
    checks = {"state": _state_check(runtime), "metrics": _metrics_check(runtime),
              "deployments": _deployments_check(runtime)}
    if is_embedded(url):
        checks["atlas"] = _embedded_check(runtime.store)
        return Readiness(checks, timeout_s=timeout_s)
    # A client of its own, bounded by the check's timeout: the catalog's waits 30 s for a slow Atlas. Made here and
    # not with open_atlas, which warns about TLS verification being off: start-up has said it once already.
    client = AtlasCatalogClient(url, settings.atlas.user, settings.atlas_client_password(url) or "",
                                timeout_s=timeout_s, verify=settings.atlas_tls_verify())
    checks["atlas"] = _atlas_check(client)
    return Readiness(checks, timeout_s=timeout_s, on_close=client.close, advisory={"atlas"})


def install_health(app: FastAPI, runtime: Runtime) -> Readiness:
    """Add ``/healthz`` and ``/readyz`` to ``app``; the checks' pool and client close with the app's lifespan."""
    readiness = readiness_of(runtime)

    @app.get(LIVE_PATH, response_model=Liveness, tags=["health"])
    def healthz() -> Liveness:
        """Liveness: the process answers."""
        return Liveness()

    @app.get(READY_PATH, response_model=Ready, tags=["health"],
             responses={503: {"description": "a check failed: `upstream_unavailable`, each failure in `problems`"}})
    async def readyz() -> Response:
        """Readiness: the state store, the metrics store and the Atlas answer."""
        results = await readiness.run()
        failed = [r for r in results if not r.ok and r.name not in readiness.advisory]
        if not failed:
            degraded = any(not r.ok for r in results)
            return JSONResponse(Ready(status="degraded" if degraded else "ready", checks=results).model_dump())
        fine = [r.name for r in results if r.ok]
        message = (f"not ready: {', '.join(r.name for r in failed)} failed"
                   + (f"; {', '.join(fine)} answered" if fine else ""))
        return error_response("upstream_unavailable", message, [f"{r.name}: {r.detail}" for r in failed],
                              status=503)

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(asgi: Any) -> AsyncIterator[Any]:
        try:
            async with inner(asgi) as state:
                yield state
        finally:
            readiness.close()

    app.router.lifespan_context = lifespan
    return readiness
