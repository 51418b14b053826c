"""``/api/v1/serving/monitors``: add, list, show, run, remove monitors, and a monitor's windows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool

from catalog import InvalidInput
from serving.monitoring.evaluate import WindowResult
from serving.monitoring.ledger import WindowRow
from serving.monitoring.service import MonitorAdd, MonitorInfo, MonitorService


class RunRequest(BaseModel):
    start_ms: int | None = Field(default=None, ge=0)
    end_ms: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _both(self) -> RunRequest:
        if (self.start_ms is None) != (self.end_ms is None):
            raise ValueError("give both start_ms and end_ms, or neither")
        if self.start_ms is not None and self.end_ms is not None and self.end_ms <= self.start_ms:
            raise ValueError("end_ms must be after start_ms")
        return self


def build_router(service: MonitorService, resolve: Callable[[str], str], guarded: list[Any]) -> APIRouter:
    """``resolve``: a deployment reference (CRN, or CML's bare ``/<id>``) to its CRN; NotFound when unknown."""
    r = APIRouter(prefix="/api/v1/serving/monitors")

    @r.post("", dependencies=guarded, status_code=201)
    async def add(body: MonitorAdd) -> MonitorInfo:
        body = body.model_copy(update={"deployment_crn": await run_in_threadpool(resolve, body.deployment_crn)})
        return await run_in_threadpool(service.add, body)

    @r.get("", dependencies=guarded)
    async def monitors() -> list[MonitorInfo]:
        return await run_in_threadpool(service.monitors)

    @r.get("/{crn:path}/windows", dependencies=guarded)
    async def windows(crn: str, limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                      start_ms: Annotated[int, Query(ge=0)] = 0,
                      end_ms: Annotated[int | None, Query(ge=0)] = None) -> list[WindowRow]:
        """The newest ``limit`` windows that ended after ``start_ms`` and at or before ``end_ms``, newest first."""
        if end_ms is not None and end_ms <= start_ms:
            raise InvalidInput("end_ms must be after start_ms")
        info = await run_in_threadpool(service.get, await run_in_threadpool(resolve, crn))
        return await run_in_threadpool(service.ledger.windows, info.deployment_crn, limit, start_ms, end_ms)

    @r.post("/{crn:path}/run", dependencies=guarded)
    async def run(crn: str, body: RunRequest | None = None) -> list[WindowResult]:
        window = None
        if body is not None and body.start_ms is not None and body.end_ms is not None:
            window = (body.start_ms, body.end_ms)
        return await run_in_threadpool(service.run, await run_in_threadpool(resolve, crn), window)

    @r.get("/{crn:path}", dependencies=guarded)
    async def monitor(crn: str) -> MonitorInfo:
        return await run_in_threadpool(service.get, await run_in_threadpool(resolve, crn))

    @r.delete("/{crn:path}", dependencies=guarded)
    async def remove(crn: str) -> MonitorInfo:
        return await run_in_threadpool(service.remove, await run_in_threadpool(resolve, crn))

    return r
