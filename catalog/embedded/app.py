"""The embedded store's Atlas REST API over HTTP: an ASGI app meant to be mounted at ``/api/atlas``.

It authenticates (HTTP Basic, one user), refuses a body over its size limit (413) and hands the request to
:class:`AtlasApi` in a worker thread. Every answer, errors included (unknown paths, 401, 413, 500), is Atlas's
``{errorCode, errorMessage}``: the app never lets an exception out, so the application it is mounted in keeps its
own error shape for its own routes. How long a body may take to arrive is bounded by the application it is mounted
in (this package imports nothing outside itself), which answers in Atlas's shape with :func:`timeout_answer`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Mount, Router
from starlette.types import Receive, Scope, Send

from catalog.embedded.errors import ErrorCode
from catalog.embedded.limits import Limits
from catalog.embedded.routes import DEFAULT_LIMITS, AtlasApi, Reply, error_reply
from catalog.embedded.store import EmbeddedStore

ATLAS_PREFIX = "/api/atlas"
# Atlas leaves a slow request body to its Jetty's idle timeout, so Atlas has no code for it; this one is ours and
# collides with none of Atlas's (as ATLAS-413-00-001 in ErrorCode).
REQUEST_TIMEOUT = "ATLAS-408-00-001"
_JSON = (b"content-type", b"application/json")


class AtlasApp:
    """ASGI app of the Atlas API (paths relative to where it is mounted: ``/v2/...``, ``/admin/...``)."""

    def __init__(self, store: EmbeddedStore, *, user: str, password: str, limits: Limits = DEFAULT_LIMITS) -> None:
        self.api = AtlasApi(store, limits)
        self.limits = limits
        self.user = user.encode()
        self.password = password.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no websockets; lifespan belongs to the application this is mounted in
        root = scope.get("root_path", "")
        path: str = scope["path"]
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        user = self._authenticate(scope)
        if user is None:
            await _send(send, error_reply(ErrorCode.NOT_AUTHENTICATED),
                        [(b"www-authenticate", b'Basic realm="atlas"')])
            return
        max_bytes = self.limits.max_body_bytes
        if _declared_length(scope) > max_bytes:
            await _send(send, error_reply(ErrorCode.REQUEST_TOO_LARGE, max_bytes), [(b"connection", b"close")])
            return  # refused before a byte of it is read
        body = await _read_body(receive, max_bytes)
        if body is None:
            return  # the client went away
        if len(body) > max_bytes:  # a chunked body that outgrew the limit: reading stopped there
            await _send(send, error_reply(ErrorCode.REQUEST_TOO_LARGE, max_bytes), [(b"connection", b"close")])
            return
        reply = await run_in_threadpool(self.api.dispatch, scope["method"], path, scope.get("query_string", b""),
                                        body, user)
        await _send(send, reply)

    def _authenticate(self, scope: Scope) -> str | None:
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() != b"basic":
                    return None
                try:
                    decoded = base64.b64decode(token.strip(), validate=True)
                except (binascii.Error, ValueError):
                    return None
                user, _, password = decoded.partition(b":")
                ok_user = hmac.compare_digest(user, self.user)
                ok_pw = hmac.compare_digest(password, self.password)
                return user.decode(errors="replace") if ok_user and ok_pw else None
        return None


def _declared_length(scope: Scope) -> int:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # the server refuses a malformed Content-Length before the app sees the request
    return 0


async def _read_body(receive: Receive, max_bytes: int) -> bytes | None:
    """The body, or as much of it as makes it longer than ``max_bytes``; ``None`` if the client went away."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes or not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, reply: Reply, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = reply.body()
    headers = [*(extra_headers or [])]
    if reply.content is not None:
        headers.append(_JSON)
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def timeout_answer(reason: str) -> Response:
    """408 in Atlas's shape, for a request whose body did not arrive in time (``reason`` says which bound ran out)."""
    return Response(orjson.dumps({"errorCode": REQUEST_TIMEOUT, "errorMessage": f"Request timeout: {reason}"}), 408,
                    media_type="application/json")


def create_app(store: EmbeddedStore, *, password: str, user: str = "admin", limits: Limits = DEFAULT_LIMITS
               ) -> AtlasApp:
    """The Atlas API of ``store``, to mount at :data:`ATLAS_PREFIX`; ``limits``: the request body size and the
    search page (see :mod:`catalog.embedded.limits`). The application it is mounted in bounds how long a body may
    take (answering with :func:`timeout_answer`)."""
    return AtlasApp(store, user=user, password=password, limits=limits)


def standalone_app(store: EmbeddedStore, *, password: str, user: str = "admin", limits: Limits = DEFAULT_LIMITS
                   ) -> Any:
    """The Atlas API alone, served at ``/api/atlas`` (tests and benchmarks run it with uvicorn)."""
    return Router(routes=[Mount(ATLAS_PREFIX, app=create_app(store, password=password, user=user, limits=limits))])
