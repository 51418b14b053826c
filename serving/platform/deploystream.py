"""A deploy that tells its progress as it goes (``Accept: application/x-ndjson``), as Docker's build API does: one
JSON object per line, ``{"event": "stage", "message": ...}`` and ``{"event": "log", "replica": ..., "lines": [...]}``
while the environment is made and the replicas start (a model may load for minutes), ``{"event": "wait",
"seconds": ...}`` when nothing was said for a while (so a client can tell a slow start from a dead connection), and
last one ``{"event": "result", ...the deployment...}`` or ``{"event": "error", "status": ..., "code": ...,
"message": ..., "problems": [...]}`` (the API's error body, with the status it would have had).

A request refused before anything starts (a bad project, no permission) is answered as usual, with its 4xx. A
client that goes away does not stop the deploy: it finishes, as it would for a plain request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi.responses import Response, StreamingResponse

from catalog import Principal, error_of
from serving.platform.service import DeployRequest, Platform

NDJSON = "application/x-ndjson"
HEARTBEAT_S = 10.0
_running: set[asyncio.Task[Any]] = set()  # deploys whose client left: kept referenced until they finish


def _line(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event) + b"\n"


def _settled(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: its error was told to the client, or there was none left to tell


async def streamed_deploy(platform: Platform, body: DeployRequest, caller: Principal) -> Response:
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.ensure_future(platform.deploy(body, caller, events.put_nowait))
    _running.add(task)
    task.add_done_callback(_settled)
    first = asyncio.ensure_future(events.get())
    await asyncio.wait({task, first}, return_when=asyncio.FIRST_COMPLETED)
    if not first.done():  # refused before it started: the plain answer (the API's error handlers for an error)
        first.cancel()
        return Response(task.result().model_dump_json(), media_type="application/json")
    return StreamingResponse(_stream(task, events, first.result()), media_type=NDJSON)


async def _stream(task: asyncio.Task[Any], events: asyncio.Queue[dict[str, Any]], first: dict[str, Any]
                  ) -> AsyncIterator[bytes]:
    yield _line(first)
    started = time.monotonic()
    while not task.done():
        getter = asyncio.ensure_future(events.get())
        try:
            await asyncio.wait({task, getter}, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
        if getter.done() and not getter.cancelled():
            yield _line(getter.result())
        elif not task.done():
            yield _line({"event": "wait", "seconds": round(time.monotonic() - started)})
    while not events.empty():
        yield _line(events.get_nowait())
    error = task.exception()
    if error is None:
        yield _line({"event": "result", **task.result().model_dump(mode="json")})
    else:
        status, body = error_of(error)
        yield _line({"event": "error", "status": status, **body.model_dump()})
