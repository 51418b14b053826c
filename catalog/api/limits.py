"""A request body limit for mlcatalog's own API: a body over the limit is answered ``413 too_large`` (mlcatalog's
error body) before any of it reaches a route.

FastAPI reads a whole JSON body into memory before validating it, so without a limit one request may hold any
amount of the server's memory. The limit is checked against ``Content-Length`` before reading (nothing is read),
and counted while reading otherwise (chunked uploads); a body within the limit is handed to the application
unchanged. Only paths under ``prefix`` are limited: the gateway (``POST /model``) and the mounted Atlas API keep
their own.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog.api.errors import error_response
from catalog.backend import CONTROL
from catalog.errors import InvalidInput

MAX_PARAM = 2048  # characters of a path or query parameter (they end up in Atlas URLs)
MB = 1024 * 1024
DEFAULT_MAX_BODY = 5 * MB


class BodyLimit:
    """ASGI middleware: bodies of requests under ``prefix`` (e.g. ``/api/v1``) may hold at most ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = DEFAULT_MAX_BODY, prefix: str) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.app = app
        self.max_bytes = max_bytes
        self.prefix = prefix.rstrip("/")

    def _limited(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        return scope["type"] == "http" and (path == self.prefix or path.startswith(self.prefix + "/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._limited(scope):
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away before sending its request: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = f"{self.max_bytes / MB:g} MB" if self.max_bytes % MB == 0 else f"{self.max_bytes} bytes"
        response = error_response("too_large", f"request body over {limit}", status=413)
        await response(scope, receive, send)


def _declared_length(scope: Scope) -> int:
    """The Content-Length the client declared; 0 when none (or not a number: the server refuses those itself)."""
    for key, value in scope["headers"]:
        if key == b"content-length" and value.isdigit():
            return int(value) if len(value) < 19 else 2**63  # int() refuses over 4,300 digits
    return 0


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the whole body at once, then whatever the client sends next (its disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def plain_params(request: Request) -> None:
    """A route dependency: InvalidInput for a path or query parameter longer than :data:`MAX_PARAM` or holding a
    control character (PostgreSQL refuses a NUL in text; nothing names anything with one)."""
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if not isinstance(value, str):
            continue
        if len(value) > MAX_PARAM:
            raise InvalidInput(f"{name}: longer than {MAX_PARAM} characters")
        if CONTROL.search(value):
            raise InvalidInput(f"{name}: control characters are not allowed")
