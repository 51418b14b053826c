"""The web UI's sign-in for the embedded Atlas API: Atlas's form login session, as a signed cookie.

Atlas keeps a server-side ``HttpSession`` (cookie ``ATLASSESSIONID``, 60 minutes idle, web.xml) after a form login
(``j_spring_security_check``). Here the cookie carries the session itself, signed with HMAC-SHA256 under a secret
made at start-up: nothing is stored, a restart signs everyone out, and a sign-out revokes the session's nonce for
the rest of its life. Each session has a CSRF token (Atlas's ``_csrfToken``, sent back by the UI in
``X-XSRF-HEADER`` on every call that is not a GET), derived from its nonce.

:class:`WebContext` is what the API's admin/session answer needs of the HTTP request that reached it (the session's
CSRF token, the client's address, the UI's settings); the HTTP app sets it around the dispatch of one request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import orjson

COOKIE = "ATLASSESSIONID"  # Atlas's web.xml session-config
CSRF_HEADER = "X-XSRF-HEADER"  # AtlasCSRFPreventionFilter.HEADER_DEFAULT
CSRF_SAFE_METHODS = frozenset({"GET", "OPTIONS", "HEAD", "TRACE"})  # ...METHODS_TO_IGNORE_DEFAULT
IDLE_SECONDS = 3600  # web.xml session-timeout: 60 minutes
MAX_SECONDS = 12 * 3600  # ours: a session ends this long after sign-in, however busy
REFRESH_SECONDS = 60  # an active session's cookie is re-issued (its idle expiry pushed back) at most this often
MAX_COOKIE_CHARS = 4096  # a browser keeps no longer cookie; anything longer is not ours


@dataclass(frozen=True)
class Session:
    user: str
    nonce: str
    login_ms: int
    issued_ms: int
    expires_ms: int


class Sessions:
    """Issues and checks the UI's session cookies for one server process."""

    def __init__(self, *, path: str = "/", secret: bytes | None = None, idle_s: int = IDLE_SECONDS,
                 max_s: int = MAX_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.path = path or "/"
        self.idle_ms = idle_s * 1000
        self.max_ms = max_s * 1000
        self._secret = secret or secrets.token_bytes(32)
        self._clock = clock
        self._revoked: dict[str, int] = {}  # nonce -> when its session would have ended anyway
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def issue(self, user: str) -> Session:
        now = self.now_ms()
        return Session(user, secrets.token_urlsafe(16), now, now, min(now + self.idle_ms, now + self.max_ms))

    def refreshed(self, session: Session) -> Session | None:
        """The session with its idle expiry pushed back, or None if its cookie is recent enough to keep."""
        now = self.now_ms()
        if now - session.issued_ms < REFRESH_SECONDS * 1000:
            return None
        expires = min(now + self.idle_ms, session.login_ms + self.max_ms)
        return Session(session.user, session.nonce, session.login_ms, now, expires)

    def verify(self, value: str) -> Session | None:
        """The session a cookie value carries, if this process signed it and it has not expired or been revoked."""
        if len(value) > MAX_COOKIE_CHARS:
            return None
        payload, _, signature = value.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload.encode())):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(payload.encode() + b"=" * (-len(payload) % 4)))
            session = Session(str(data["u"]), str(data["n"]), int(data["l"]), int(data["i"]), int(data["e"]))
        except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return None
        if session.expires_ms <= self.now_ms():
            return None
        with self._lock:
            if session.nonce in self._revoked:
                return None
        return session

    def revoke(self, session: Session) -> None:
        now = self.now_ms()
        with self._lock:
            for nonce in [n for n, end in self._revoked.items() if end <= now]:
                del self._revoked[nonce]  # expired anyway: no longer worth remembering
            self._revoked[session.nonce] = session.login_ms + self.max_ms

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._secret, b"csrf:" + session.nonce.encode(), hashlib.sha256).hexdigest()[:32]

    def csrf_ok(self, session: Session, method: str, header: str | None) -> bool:
        """AtlasCSRFPreventionFilter for a cookie-authenticated call: a GET needs nothing, anything else the
        session's token in X-XSRF-HEADER (another site's page cannot read the token, nor set the header)."""
        if method.upper() in CSRF_SAFE_METHODS:
            return True
        return header is not None and hmac.compare_digest(header.encode(), self.csrf_token(session).encode())

    def set_cookie(self, session: Session, *, secure: bool) -> bytes:
        """A ``Set-Cookie`` value carrying ``session``; the browser drops it when the session can last no longer."""
        # Counted from when the session was (re)issued, not from now: the same session always gets the same cookie.
        age = max(0, (session.login_ms + self.max_ms - session.issued_ms) // 1000)
        return self._cookie(f"{COOKIE}={self.encode(session)}; Max-Age={age}", secure)

    def clear_cookie(self, *, secure: bool) -> bytes:
        return self._cookie(f"{COOKIE}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT", secure)

    def from_headers(self, headers: list[tuple[bytes, bytes]]) -> Session | None:
        """The session of a request's ``Cookie`` headers, if one of them carries a valid one."""
        for key, value in headers:
            if key != b"cookie":
                continue
            for part in value.decode("latin-1").split(";"):
                name, _, cookie = part.strip().partition("=")
                if name == COOKIE and cookie:
                    session = self.verify(cookie)
                    if session is not None:
                        return session
        return None

    def _cookie(self, text: str, secure: bool) -> bytes:
        flags = f"; Path={self.path}; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
        return (text + flags).encode("latin-1")

    def encode(self, s: Session) -> str:
        """The cookie value of ``s``: its fields, then their signature."""
        data = {"u": s.user, "n": s.nonce, "l": s.login_ms, "i": s.issued_ms, "e": s.expires_ms}
        payload = base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=")
        return payload.decode() + "." + self._sign(payload).decode()

    def _sign(self, payload: bytes) -> bytes:
        digest = hmac.new(self._secret, payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=")


@dataclass(frozen=True)
class WebContext:
    """What of the HTTP request the API's handlers may need: see the module's docstring."""

    csrf_token: str | None = None
    client: str | None = None
    ui_settings: Mapping[str, Any] = field(default_factory=dict)


_context: ContextVar[WebContext | None] = ContextVar("atlas_web_context", default=None)


def current_web() -> WebContext:
    """The current request's web context (an empty one for a call that did not come over HTTP)."""
    return _context.get() or WebContext()


@contextmanager
def in_web(context: WebContext) -> Iterator[None]:
    token = _context.set(context)
    try:
        yield
    finally:
        _context.reset(token)
