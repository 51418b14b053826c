"""Passwords out of anything shown: URLs with credentials (``scheme://user:password@host``, ``?password=...``) as
printed by a banner, and free text (error messages, outbox entries, logs) that may quote such a URL.

Messages reach unauthenticated callers (a 503 says which Atlas is down) and are stored (the outbox), so every
message built from a configured URL or a library's exception goes through :func:`redact_text`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "redact_text", "redact_url"]

MASK = "***"
# scheme://user:password@ - the password is everything up to the last "@" before the host (passwords may hold "@"
# when not percent-encoded, so match lazily up to an "@" followed by a host character)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^\s:/@]*):(?P<password>[^\s/]*?)@"
                       r"(?=[^\s@]*(?:[/\s?#]|$))")
_PASSWORD_PARAM = re.compile(r"(?P<key>\bpassword=)(?P<value>[^&\s#]+)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with its password (user info or a ``password=`` parameter) replaced by ``***``."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    params = parse_qsl(parts.query, keep_blank_values=True)
    has_param = any(k.lower() == "password" for k, _ in params)
    if ":" not in userinfo and not has_param:
        return url  # nothing to hide; also keeps sqlite:///path intact (urlunsplit would drop the empty host)
    netloc = f"{userinfo.partition(':')[0]}:{MASK}@{hostport}" if at and ":" in userinfo else parts.netloc
    query = urlencode([(k, MASK if k.lower() == "password" else v) for k, v in params], safe="*") if has_param \
        else parts.query
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """``text`` with the password of every URL in it (and every ``password=`` value) replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _PASSWORD_PARAM.sub(lambda m: f"{m['key']}{MASK}", text)
