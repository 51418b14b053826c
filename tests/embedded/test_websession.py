"""The web UI's session cookie (``catalog.embedded.websession``): signed, expiring (60 minutes idle, pushed back by
use, 12 hours at most), revocable, HttpOnly and SameSite=Lax, with a CSRF token per session."""

from __future__ import annotations

import pytest

from catalog.embedded.websession import COOKIE, IDLE_SECONDS, MAX_SECONDS, REFRESH_SECONDS, Sessions


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(clock: Clock) -> Sessions:
    return Sessions(path="/atlas", clock=clock)


def cookie_value(header: bytes) -> str:
    first = header.decode().split(";")[0]
    name, _, value = first.partition("=")
    assert name == COOKIE
    return value


def test_a_session_cookie_carries_the_user_and_its_flags(sessions: Sessions) -> None:
    session = sessions.issue("admin")
    header = sessions.set_cookie(session, secure=False).decode()
    assert header.startswith(f"{COOKIE}=")
    flags = {f.strip().partition("=")[0]: f.strip().partition("=")[2] for f in header.split(";")[1:]}
    assert flags == {"Max-Age": str(MAX_SECONDS), "Path": "/atlas", "HttpOnly": "", "SameSite": "Lax"}
    assert "Secure" in sessions.set_cookie(session, secure=True).decode()
    got = sessions.verify(cookie_value(header.encode()))
    assert got == session and got.user == "admin"
    assert sessions.from_headers([(b"cookie", f"other=1; {header.split(';')[0]}".encode())]) == session


def test_a_tampered_or_foreign_cookie_is_no_session(sessions: Sessions, clock: Clock) -> None:
    value = sessions.encode(sessions.issue("admin"))
    payload, _, signature = value.partition(".")
    assert sessions.verify(payload + "." + signature[::-1]) is None
    assert sessions.verify(payload[:-2] + "xx." + signature) is None
    assert sessions.verify("garbage") is None and sessions.verify("") is None and sessions.verify("a.b.c") is None
    assert sessions.verify("x" * 5000) is None
    other = Sessions(path="/atlas", clock=clock)  # another process (or a restart): another secret
    assert other.verify(value) is None


def test_a_session_ends_after_an_idle_hour_unless_used(sessions: Sessions, clock: Clock) -> None:
    session = sessions.issue("admin")
    value = sessions.encode(session)
    clock.now += REFRESH_SECONDS - 1
    assert sessions.refreshed(session) is None  # too recent to re-issue
    clock.now += IDLE_SECONDS - REFRESH_SECONDS
    assert sessions.verify(value) is not None
    fresh = sessions.refreshed(session)
    assert fresh is not None and fresh.nonce == session.nonce and fresh.expires_ms > session.expires_ms
    clock.now += 2
    assert sessions.verify(value) is None  # the old cookie's hour is over
    assert sessions.verify(sessions.encode(fresh)) == fresh


def test_a_busy_session_still_ends_twelve_hours_after_sign_in(sessions: Sessions, clock: Clock) -> None:
    session = sessions.issue("admin")
    while True:
        clock.now += IDLE_SECONDS - 10
        fresh = sessions.refreshed(session)
        assert fresh is not None
        if sessions.verify(sessions.encode(fresh)) is None:
            break
        session = fresh
    assert clock.now - session.login_ms / 1000 >= MAX_SECONDS


def test_a_signed_out_session_is_refused_though_its_cookie_is_valid(sessions: Sessions) -> None:
    session = sessions.issue("admin")
    value = sessions.encode(session)
    sessions.revoke(session)
    assert sessions.verify(value) is None
    assert sessions.verify(sessions.encode(sessions.issue("admin"))) is not None  # a new sign-in is fine
    assert COOKIE + "=;" in sessions.clear_cookie(secure=False).decode()


def test_the_csrf_token_is_the_sessions_own(sessions: Sessions) -> None:
    one, two = sessions.issue("admin"), sessions.issue("admin")
    token = sessions.csrf_token(one)
    assert token != sessions.csrf_token(two) and token == sessions.csrf_token(one)
    assert sessions.csrf_ok(one, "GET", None) and sessions.csrf_ok(one, "head", None)
    assert sessions.csrf_ok(one, "POST", token) and sessions.csrf_ok(one, "DELETE", token)
    assert not sessions.csrf_ok(one, "POST", None)
    assert not sessions.csrf_ok(one, "PUT", sessions.csrf_token(two))
    assert not sessions.csrf_ok(one, "POST", "")
