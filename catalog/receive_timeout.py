"""A time bound on receiving a request body: ASGI middleware, so a client that stops sending (or trickles) cannot
hold a connection, a task and a partial body for ever.

uvicorn bounds nothing between a request's headers and the end of its body: a client that declares
``Content-Length: 1000`` and sends 10 bytes keeps its request open as long as it keeps the socket. Here each part
of the body must arrive within :attr:`BodyTimeouts.idle_s` of the previous one (or of the application asking for
it), and the whole body within :attr:`BodyTimeouts.total_s` of the request's start.

When time runs out before the application answered, the client gets a 408 in the shape of the surface the path
belongs to (each surface passes its own :data:`TimeoutAnswer`), with ``Connection: close``; the application is told
the client went away (``http.disconnect``), and whatever it sends after that is dropped. When the application had
already started answering, it is only told the client went away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_BODY_TIMEOUTS", "BodyTimeouts", "ReceiveTimeout", "TimeoutAnswer"]

#: The 408 answer of one surface, given the one-line reason (which of the two bounds ran out).
TimeoutAnswer = Callable[[str], Response]

_DISCONNECT: Message = {"type": "http.disconnect"}


@dataclass(frozen=True)
class BodyTimeouts:
    """Seconds a request body may take: between two of its parts, and in all.

    ``idle_s`` 30: Jetty's default idle timeout (Atlas's server), and a client that is sending at all sends a part
    every few milliseconds. ``total_s`` 120: the largest body accepted by default (Atlas's 16 MiB) still passes at
    ~140 kB/s, while a client trickling a byte just inside ``idle_s`` is cut off after two minutes.
    """

    idle_s: float = 30.0
    total_s: float = 120.0

    def __post_init__(self) -> None:
        if not (self.idle_s > 0 and self.total_s > 0):
            raise ValueError("body timeouts must be positive")


DEFAULT_BODY_TIMEOUTS = BodyTimeouts()


class ReceiveTimeout:
    """ASGI middleware: the request bodies of ``app`` must arrive within ``timeouts``.

    ``answers``: (path prefix, answer) pairs, the first whose prefix is the path or a parent of it answers a
    timed-out request; ``default`` answers any other path."""

    def __init__(self, app: ASGIApp, *, timeouts: BodyTimeouts = DEFAULT_BODY_TIMEOUTS,
                 answers: Sequence[tuple[str, TimeoutAnswer]] = (), default: TimeoutAnswer) -> None:
        self.app = app
        self.timeouts = timeouts
        self.answers = [(prefix.rstrip("/"), answer) for prefix, answer in answers]
        self.default = default

    def answer_for(self, path: str) -> TimeoutAnswer:
        for prefix, answer in self.answers:
            if path == prefix or path.startswith(prefix + "/"):
                return answer
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)  # nothing to wait for: no timer on the common GET
            return
        cycle = _Cycle(self, scope, receive, send)
        await self.app(scope, cycle.receive, cycle.send)


class _Cycle:
    """One request: its body's deadlines, and who answers once time ran out."""

    def __init__(self, owner: ReceiveTimeout, scope: Scope, receive: Receive, send: Send) -> None:
        self.owner = owner
        self.scope = scope
        self._receive = receive
        self._send = send
        self.deadline = time.monotonic() + owner.timeouts.total_s
        self.body_done = False
        self.started = False  # the application's answer has started
        self.timed_out = False
        self.answered = False  # the 408 went out: the application's answer is dropped

    async def receive(self) -> Message:
        if self.timed_out:
            return _DISCONNECT
        if self.body_done:
            return await self._receive()  # after the body only a disconnect comes, whenever the client leaves
        idle, total = self.owner.timeouts.idle_s, self.owner.timeouts.total_s
        left = self.deadline - time.monotonic()
        message = await self._within(min(idle, left))
        if message is None:
            await self._time_out(f"no part of the request body arrived for {idle:g} s" if idle < left
                                 else f"the request body did not arrive within {total:g} s")
            return _DISCONNECT
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.body_done = True
        return message

    async def _within(self, seconds: float) -> Message | None:
        """The next message from the client, or None if none came within ``seconds``."""
        if seconds <= 0:
            return None
        try:
            async with asyncio.timeout(seconds) as limit:
                return await self._receive()
        except TimeoutError:
            if limit.expired():
                return None
            raise

    async def _time_out(self, reason: str) -> None:
        self.timed_out = True
        if self.started:
            return  # too late for a status: the application ends its answer when it sees the disconnect
        response = self.owner.answer_for(self.scope["path"])(reason)
        response.headers["connection"] = "close"  # the rest of the body may still come: never read it as a request
        self.answered = True
        await response(self.scope, self._receive, self._send)

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _has_body(scope: Scope) -> bool:
    """Whether the request announces a body (HTTP/1.1: a Content-Length over 0, or a Transfer-Encoding)."""
    for key, value in scope["headers"]:
        if key == b"transfer-encoding" or (key == b"content-length" and value.strip().lstrip(b"0") != b""):
            return True
    return False
