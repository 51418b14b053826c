"""catalog.receive_timeout in-process: the idle and the total bound, who answers a timed-out request and in which
shape, and what the application behind sees. The client is a script of messages that then stalls (fault injection);
the real-HTTP stalls are in tests/test_app_body_limits.py."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from catalog import BodyTimeouts, ReceiveTimeout
from catalog.api.errors import error_response
from catalog.embedded.app import REQUEST_TIMEOUT, timeout_answer

BODY_HEADERS = [(b"content-length", b"1000")]


def scope(path: str = "/api/v1/builds", headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {"type": "http", "method": "POST", "path": path, "headers": BODY_HEADERS if headers is None else headers}


def client(*script: tuple[float, Message]) -> Receive:
    """A client sending each message after its delay, then nothing ever again (a stalled upload)."""
    steps = list(script)

    async def receive() -> Message:
        if not steps:
            await asyncio.Event().wait()
        delay, message = steps.pop(0)
        await asyncio.sleep(delay)
        return message

    return receive


def part(body: bytes, more: bool = True) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


class Reader:
    """An application reading the whole body (as BodyLimit, the gateway and the Atlas API do), then answering."""

    def __init__(self, answer_before_reading: bool = False) -> None:
        self.answer_before_reading = answer_before_reading
        self.seen: list[Message] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.answer_before_reading:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            self.seen.append(message)
            if message["type"] == "http.disconnect":
                break
            if not message.get("more_body", False):
                break
        if not self.answer_before_reading:
            await send({"type": "http.response.start", "status": 400, "headers": []})
        await send({"type": "http.response.body", "body": b"from the app"})


def answer(reason: str) -> Response:
    return error_response("request_timeout", reason, status=408)


def run(app: Callable[[Scope, Receive, Send], Awaitable[None]], request: Scope, receive: Receive
        ) -> tuple[list[Message], float]:
    """Messages the server was sent, and the seconds until the application returned."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def main() -> None:
        await asyncio.wait_for(app(request, receive, send), 10)

    started = time.monotonic()
    asyncio.run(main())
    return sent, time.monotonic() - started


def status_and_body(sent: list[Message]) -> tuple[int, dict[str, str], Any]:
    start, *body = sent
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, json.loads(b"".join(m.get("body", b"") for m in body))


def test_a_stalled_body_is_answered_408_after_the_idle_timeout() -> None:
    app = Reader()
    mw = ReceiveTimeout(app, timeouts=BodyTimeouts(idle_s=0.2, total_s=5), default=answer)
    sent, took = run(mw, scope(), client((0, part(b"x" * 10))))
    status, headers, body = status_and_body(sent)
    assert status == 408 and headers["connection"] == "close"
    assert body == {"code": "request_timeout", "message": "no part of the request body arrived for 0.2 s",
                    "problems": []}
    assert app.seen == [part(b"x" * 10), {"type": "http.disconnect"}]  # the app is told the client went away
    assert b"from the app" not in b"".join(m.get("body", b"") for m in sent)  # its own answer is dropped
    assert 0.2 <= took < 2


def test_a_trickled_body_is_answered_408_at_the_total_deadline() -> None:
    trickle = [(0.05, part(b"x")) for _ in range(100)]  # 5 s of a byte every 50 ms, each well inside idle_s
    mw = ReceiveTimeout(Reader(), timeouts=BodyTimeouts(idle_s=1, total_s=0.4), default=answer)
    sent, took = run(mw, scope(), client(*trickle))
    status, _, body = status_and_body(sent)
    assert status == 408 and body["message"] == "the request body did not arrive within 0.4 s"
    assert 0.4 <= took < 2


def test_a_body_in_time_passes_unchanged_and_later_receives_are_not_timed() -> None:
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.extend([await receive(), await receive()])
        seen.append(await receive())  # after the body: a disconnect listener waits as long as the client stays
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    script = client((0.1, part(b"a")), (0.1, part(b"b", more=False)), (0.5, {"type": "http.disconnect"}))
    mw = ReceiveTimeout(app, timeouts=BodyTimeouts(idle_s=0.3, total_s=0.4), default=answer)
    sent, took = run(mw, scope(), script)
    assert seen == [part(b"a"), part(b"b", more=False), {"type": "http.disconnect"}]
    assert sent[0]["status"] == 204 and took >= 0.7


def test_an_answer_already_started_is_only_ended() -> None:
    app = Reader(answer_before_reading=True)
    mw = ReceiveTimeout(app, timeouts=BodyTimeouts(idle_s=0.1, total_s=5), default=answer)
    sent, _ = run(mw, scope(), client((0, part(b"x"))))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"from the app"
    assert app.seen[-1] == {"type": "http.disconnect"}


@pytest.mark.parametrize("headers", [[], [(b"content-length", b"0")], [(b"content-length", b"000")]])
def test_a_request_without_a_body_is_not_wrapped(headers: list[tuple[bytes, bytes]]) -> None:
    original = client((0, part(b"", more=False)))
    given: list[Receive] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        given.append(receive)

    mw = ReceiveTimeout(app, timeouts=BodyTimeouts(idle_s=0.1, total_s=0.1), default=answer)
    run(mw, scope(headers=headers), original)
    assert given == [original]


def test_a_chunked_body_is_bounded_too() -> None:
    mw = ReceiveTimeout(Reader(), timeouts=BodyTimeouts(idle_s=0.1, total_s=5), default=answer)
    sent, _ = run(mw, scope(headers=[(b"transfer-encoding", b"chunked")]), client())
    assert sent[0]["status"] == 408


def test_each_surface_answers_in_its_own_shape() -> None:
    def cml(reason: str) -> Response:
        return JSONResponse({"success": False, "code": "request_timeout", "message": reason}, status_code=408)

    mw = ReceiveTimeout(Reader(), timeouts=BodyTimeouts(idle_s=0.05, total_s=5),
                        answers=[("/api/atlas/", timeout_answer), ("/model", cml)], default=answer)
    bodies = {path: status_and_body(run(mw, scope(path), client())[0])[2]
              for path in ("/api/atlas", "/api/atlas/v2/entity", "/model", "/api/atlasx", "/api/v1/builds")}
    reason = "no part of the request body arrived for 0.05 s"
    atlas = {"errorCode": REQUEST_TIMEOUT, "errorMessage": f"Request timeout: {reason}"}
    assert bodies["/api/atlas"] == bodies["/api/atlas/v2/entity"] == atlas
    assert bodies["/model"] == {"success": False, "code": "request_timeout", "message": reason}
    assert bodies["/api/atlasx"] == bodies["/api/v1/builds"] == {"code": "request_timeout", "message": reason,
                                                                 "problems": []}


def test_the_atlas_code_follows_atlas_naming_and_status() -> None:
    assert REQUEST_TIMEOUT == "ATLAS-408-00-001"
    response = timeout_answer("slow")
    assert response.status_code == 408 and response.media_type == "application/json"
    assert orjson.loads(response.body)["errorCode"] == REQUEST_TIMEOUT


@pytest.mark.parametrize(("idle", "total"), [(0, 1), (1, 0), (-1, 1)])
def test_timeouts_must_be_positive(idle: float, total: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        BodyTimeouts(idle_s=idle, total_s=total)


def test_websockets_and_lifespan_pass_through() -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["type"])

    mw = ReceiveTimeout(app, default=answer)
    for kind in ("lifespan", "websocket"):
        run(mw, {"type": kind, "headers": BODY_HEADERS}, client())
    assert calls == ["lifespan", "websocket"]
