"""Who is acting in the current request, as Atlas's ``RequestContext.get().getUser()``.

The audit writes the acting user into every event. Most store functions receive the user explicitly; the few that
do not (a classification added deep inside an entity write) read it here. The route layer sets it for the duration
of one request; outside a request Atlas's own fallback applies (``EntityAuditListenerV2.createEvent``: "admin").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DEFAULT_USER = "admin"
_user: ContextVar[str | None] = ContextVar("atlas_request_user", default=None)


def current_user() -> str:
    return _user.get() or DEFAULT_USER


@contextmanager
def acting_as(user: str) -> Iterator[None]:
    token = _user.set(user)
    try:
        yield
    finally:
        _user.reset(token)
