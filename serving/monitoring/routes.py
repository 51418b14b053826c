"""``/api/v1/serving/monitors``: add, list, show, run, remove monitors, and a monitor's windows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool

from catalog import Action, CatalogError, InvalidInput, Principal
from serving.metrics.models import MAX_MS
from serving.monitoring.config import MAX_WINDOW_MS
from serving.monitoring.evaluate import WindowResult
from serving.monitoring.ledger import WindowRow
from serving.monitoring.service import MonitorAdd, MonitorInfo, MonitorService


class RunRequest(BaseModel):
    # bounded by what the stores hold (bigint) and by the longest window a monitor may have
    start_ms: int | None = Field(default=None, ge=0, le=MAX_MS)
    end_ms: int | None = Field(default=None, ge=0, le=MAX_MS)

    @model_validator(mode="after")
    def _both(self) -> RunRequest:
        if (self.start_ms is None) != (self.end_ms is None):
            raise ValueError("give both start_ms and end_ms, or neither")
        if self.start_ms is not None and self.end_ms is not None and self.end_ms <= self.start_ms:
            raise ValueError("end_ms must be after start_ms")
        if self.start_ms is not None and self.end_ms is not None and self.end_ms - self.start_ms > MAX_WINDOW_MS:
            raise ValueError(f"a window is at most {MAX_WINDOW_MS} ms (366 days) long")
        return self


def build_router(service: MonitorService, resolve: Callable[[str], str], who: Callable[..., Principal],
                 authorize: Callable[[Principal, str, Action], None]) -> APIRouter:
    """``resolve``: a deployment reference (CRN, or CML's bare ``/<id>``) to its CRN; NotFound when unknown.
    ``who``: the dependency naming the credential; ``authorize(who, crn, action)``: Forbidden unless it may
    ``action`` (read; deploy: add, run, remove) on that deployment's monitor."""
    r = APIRouter(prefix="/api/v1/serving/monitors")
    me = Depends(who)

    def allowed(caller: Principal, ref: str, action: Action) -> str:
        crn = resolve(ref)
        authorize(caller, crn, action)
        return crn

    @r.post("", status_code=201)
    async def add(body: MonitorAdd, caller: Principal = me) -> MonitorInfo:
        crn = await run_in_threadpool(allowed, caller, body.deployment_crn, "deploy")
        return await run_in_threadpool(service.add, body.model_copy(update={"deployment_crn": crn}))

    @r.get("", description="The monitors of the deployments the key may read.")
    async def monitors(caller: Principal = me) -> list[MonitorInfo]:
        def visible() -> list[MonitorInfo]:
            out = []
            for m in service.monitors():
                try:
                    authorize(caller, m.deployment_crn, "read")
                except CatalogError:
                    continue
                out.append(m)
            return out

        return await run_in_threadpool(visible)

    @r.get("/{crn:path}/windows")
    async def windows(crn: str, limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                      start_ms: Annotated[int, Query(ge=0, le=MAX_MS)] = 0,
                      end_ms: Annotated[int | None, Query(ge=0, le=MAX_MS)] = None,
                      caller: Principal = me) -> list[WindowRow]:
        """The newest ``limit`` windows that ended after ``start_ms`` and at or before ``end_ms``, newest first."""
        if end_ms is not None and end_ms <= start_ms:
            raise InvalidInput("end_ms must be after start_ms")
        info = await run_in_threadpool(service.get, await run_in_threadpool(allowed, caller, crn, "read"))
        return await run_in_threadpool(service.ledger.windows, info.deployment_crn, limit, start_ms, end_ms)

    @r.post("/{crn:path}/run")
    async def run(crn: str, body: RunRequest | None = None, caller: Principal = me) -> list[WindowResult]:
        window = None
        if body is not None and body.start_ms is not None and body.end_ms is not None:
            window = (body.start_ms, body.end_ms)
        return await run_in_threadpool(service.run, await run_in_threadpool(allowed, caller, crn, "deploy"), window)

    @r.get("/{crn:path}")
    async def monitor(crn: str, caller: Principal = me) -> MonitorInfo:
        return await run_in_threadpool(service.get, await run_in_threadpool(allowed, caller, crn, "read"))

    @r.delete("/{crn:path}")
    async def remove(crn: str, caller: Principal = me) -> MonitorInfo:
        return await run_in_threadpool(service.remove, await run_in_threadpool(allowed, caller, crn, "deploy"))

    return r
