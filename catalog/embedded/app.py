"""The embedded store's Atlas REST API over HTTP: an ASGI app meant to be mounted at ``/api/atlas``.

It authenticates (HTTP Basic, one user), refuses a body over its size limit (413) and hands the request to
:class:`AtlasApi` in a worker thread. Every answer, errors included (unknown paths, 401, 413, 500), is Atlas's
``{errorCode, errorMessage}``: the app never lets an exception out, so the application it is mounted in keeps its
own error shape for its own routes. How long a body may take to arrive is bounded by the application it is mounted
in (this package imports nothing outside itself), which answers in Atlas's shape with :func:`timeout_answer`.

An app made with :class:`~catalog.embedded.websession.Sessions` is the one Atlas's web UI calls: it also takes the
UI's session cookie (Atlas's form login, :meth:`AtlasApp.login` / :meth:`AtlasApp.logout`), checks the session's
CSRF token on every call that is not a GET, and answers 401 without a Basic challenge (the UI signs in with its own
form; a challenge would make the browser ask instead).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Mount, Router
from starlette.types import Receive, Scope, Send

from catalog.embedded import impexp_async
from catalog.embedded.errors import ErrorCode
from catalog.embedded.limits import Limits
from catalog.embedded.raw_content import RawContent
from catalog.embedded.routes import DEFAULT_LIMITS, AtlasApi, Reply, error_reply
from catalog.embedded.store import EmbeddedStore
from catalog.embedded.websession import Session, Sessions, WebContext, in_web

ATLAS_PREFIX = "/api/atlas"
# Atlas leaves a slow request body to its Jetty's idle timeout, so Atlas has no code for it; this one is ours and
# collides with none of Atlas's (as ATLAS-413-00-001 in ErrorCode).
REQUEST_TIMEOUT = "ATLAS-408-00-001"
# AtlasCSRFPreventionFilter's answer, in Atlas's error shape
CSRF_REFUSED = "Missing header or invalid Header value for CSRF Vulnerability Protection"
LOGIN_MAX_BYTES = 16 * 1024  # a form of two fields
_JSON = (b"content-type", b"application/json")


@dataclass(frozen=True)
class Caller:
    """Who made a request: the user, and the UI session it came with (None: HTTP Basic)."""

    user: str
    session: Session | None = None


class AtlasApp:
    """ASGI app of the Atlas API (paths relative to where it is mounted: ``/v2/...``, ``/admin/...``)."""

    def __init__(self, store: EmbeddedStore, *, user: str, password: str, limits: Limits = DEFAULT_LIMITS,
                 sessions: Sessions | None = None, ui_settings: Mapping[str, Any] | None = None) -> None:
        self.api = AtlasApi(store, limits)
        self.limits = limits
        self.user = user.encode()
        self.password = password.encode()
        self.sessions = sessions
        self.ui_settings = dict(ui_settings or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no websockets; lifespan belongs to the application this is mounted in
        root = scope.get("root_path", "")
        path: str = scope["path"]
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        caller = self.authenticate(scope)
        if caller is None:
            challenge = [] if self.sessions else [(b"www-authenticate", b'Basic realm="atlas"')]
            await _send(send, error_reply(ErrorCode.NOT_AUTHENTICATED), challenge)
            return
        if caller.session is not None and self.sessions is not None and not self.sessions.csrf_ok(
                caller.session, scope["method"], _header(scope, b"x-xsrf-header")):
            await _send(send, error_reply(ErrorCode.BAD_REQUEST, CSRF_REFUSED))
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
        context = WebContext(csrf_token=self._csrf_token(caller), client=_client(scope), ui_settings=self.ui_settings)
        reply = await run_in_threadpool(self._dispatch, context, scope["method"], path, scope.get("query_string", b""),
                                        body, caller.user)
        await _send(send, reply, self._refreshed_cookie(caller, scope))

    def _dispatch(self, context: WebContext, method: str, path: str, query: bytes, body: bytes, user: str) -> Reply:
        with in_web(context):  # in the worker thread: the context is this request's alone
            return self.api.dispatch(method, path, query, body, user)

    def authenticate(self, scope: Scope) -> Caller | None:
        """The caller of a request: HTTP Basic if it sends an Authorization header (then only that), else the UI's
        session cookie (if this app takes one); None if neither is valid."""
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                user = self._basic(value)
                return None if user is None else Caller(user)
        if self.sessions is None:
            return None
        session = self.sessions.from_headers(scope.get("headers", []))
        return None if session is None else Caller(session.user, session)

    def _basic(self, value: bytes) -> str | None:
        scheme, _, token = value.partition(b" ")
        if scheme.lower() != b"basic":
            return None
        try:
            decoded = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        user, _, password = decoded.partition(b":")
        return user.decode(errors="replace") if self.check_password(user, password) else None

    def check_password(self, user: bytes, password: bytes) -> bool:
        ok_user = hmac.compare_digest(user, self.user)
        ok_pw = hmac.compare_digest(password, self.password)
        return ok_user and ok_pw

    def _csrf_token(self, caller: Caller) -> str | None:
        if caller.session is None or self.sessions is None:
            return None
        return self.sessions.csrf_token(caller.session)

    def _refreshed_cookie(self, caller: Caller, scope: Scope) -> list[tuple[bytes, bytes]]:
        if caller.session is None or self.sessions is None:
            return []
        fresh = self.sessions.refreshed(caller.session)
        if fresh is None:
            return []
        return [(b"set-cookie", self.sessions.set_cookie(fresh, secure=_secure(scope)))]

    async def login(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Atlas's form login (``POST j_spring_security_check``, form fields ``j_username`` and ``j_password``):
        ``{"msgDesc": "Success"}`` and a new session cookie, or 401 ``{"msgDesc": <why>}`` (the answers of Atlas's
        AtlasAuthenticationSuccessHandler and AtlasAuthenticationFailureHandler, which the UI's login page reads)."""
        if self.sessions is None or scope["method"] != "POST":
            await _send_json(send, 405, {"msgDesc": "Method Not Allowed"}, [(b"allow", b"POST")])
            return
        body = await _read_body(receive, LOGIN_MAX_BYTES)
        if body is None:
            return
        if len(body) > LOGIN_MAX_BYTES:
            await _send_json(send, 413, {"msgDesc": "Request too large"}, [(b"connection", b"close")])
            return
        form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        user = (form.get("j_username") or [""])[0]
        password = (form.get("j_password") or [""])[0]
        if not user:
            await _send_json(send, 401, {"msgDesc": "Username can't be null or empty."})
        elif not password:
            await _send_json(send, 401, {"msgDesc": "Password can't be null or empty."})
        elif not self.check_password(user.encode(), password.encode()):
            # one answer whether the user or the password is wrong (the UI says "Invalid User credentials")
            await _send_json(send, 401, {"msgDesc": "Wrong password"})
        else:
            cookie = self.sessions.set_cookie(self.sessions.issue(user), secure=_secure(scope))
            await _send_json(send, 200, {"msgDesc": "Success"}, [(b"set-cookie", cookie)])

    async def logout(self, scope: Scope, receive: Receive, send: Send, *, then: str) -> None:
        """Atlas's ``logout.html``: the session ends (its cookie is deleted and no longer accepted), then the
        browser goes to ``then`` (Atlas: the login page)."""
        headers: list[tuple[bytes, bytes]] = [(b"location", then.encode()), (b"content-length", b"0"),
                                              (b"cache-control", b"no-store")]
        if self.sessions is not None:
            session = self.sessions.from_headers(scope.get("headers", []))
            if session is not None:
                self.sessions.revoke(session)
            headers.append((b"set-cookie", self.sessions.clear_cookie(secure=_secure(scope))))
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _secure(scope: Scope) -> bool:
    return scope.get("scheme") == "https"


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


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


async def _send_json(send: Send, status: int, content: Any, extra_headers: list[tuple[bytes, bytes]] | None = None
                     ) -> None:
    await _send(send, Reply(status, content), [*(extra_headers or []), (b"cache-control", b"no-store")])


async def _send(send: Send, reply: Reply, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = reply.body()
    headers = [*(extra_headers or [])]
    if isinstance(reply.content, RawContent):
        headers.append((b"content-type", reply.content.media_type.encode("latin-1")))
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.content.headers]
    elif reply.content is not None:
        headers.append(_JSON)
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def timeout_answer(reason: str) -> Response:
    """408 in Atlas's shape, for a request whose body did not arrive in time (``reason`` says which bound ran out)."""
    return Response(orjson.dumps({"errorCode": REQUEST_TIMEOUT, "errorMessage": f"Request timeout: {reason}"}), 408,
                    media_type="application/json")


def create_app(store: EmbeddedStore, *, password: str, user: str = "admin", limits: Limits = DEFAULT_LIMITS,
               sessions: Sessions | None = None, ui_settings: Mapping[str, Any] | None = None) -> AtlasApp:
    """The Atlas API of ``store``, to mount at :data:`ATLAS_PREFIX`; ``limits``: the request body size and the
    search page (see :mod:`catalog.embedded.limits`). The application it is mounted in bounds how long a body may
    take (answering with :func:`timeout_answer`).

    With ``sessions``, the API for Atlas's web UI (see the module's docstring); ``ui_settings`` are added to the
    UI's settings in ``admin/session`` (``atlas.ui.default.version``...)."""
    impexp_async.of(store)  # async imports queued before a restart resume now, as Atlas's do at start-up
    return AtlasApp(store, user=user, password=password, limits=limits, sessions=sessions, ui_settings=ui_settings)


def standalone_app(store: EmbeddedStore, *, password: str, user: str = "admin", limits: Limits = DEFAULT_LIMITS
                   ) -> Any:
    """The Atlas API alone, served at ``/api/atlas`` (tests and benchmarks run it with uvicorn)."""
    return Router(routes=[Mount(ATLAS_PREFIX, app=create_app(store, password=password, user=user, limits=limits))])
