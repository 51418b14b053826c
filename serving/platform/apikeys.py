"""Model API keys (``Authorization: Bearer <key>``): created once, stored hashed, never logged.

A key is ``mlk_<id>_<secret>`` with a 256-bit random secret. Because the secret is random (not a password),
a single SHA-256 is enough to make a leaked database useless and keeps per-request checks cheap; verified keys
are cached for a short time so revocation takes effect within ``CACHE_SECONDS``.

Each key has a role and a scope (:mod:`catalog.access`): the projects it acts in, and for a ``caller`` the
deployments whose models it may call.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from catalog import CONTROL, EVERY_PROJECT, Principal, Role
from serving.platform.state import State, sha256_hex

PREFIX = "mlk_"
CACHE_SECONDS = 2.0
# The bounds of a key, the same on every path that creates one (the HTTP API's body model states them too):
# names are shown in listings and logs, and an expiry past year 9999 is no date a listing can print.
NAME_MAX = 200
SCOPE_NAME_MAX = 1024
SCOPE_MAX = 1000
MAX_LIFETIME_DAYS = 36525  # 100 years
_SHOW = 40  # characters of a refused name a message shows


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: str
    name: str
    created_ms: int
    expires_ms: int | None
    revoked_ms: int | None
    role: Role = "deployer"
    projects: tuple[str, ...] = ()
    deployments: tuple[str, ...] = field(default=())

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    @property
    def principal(self) -> Principal:
        return Principal(who=f"key {self.key_id}", role=self.role, projects=frozenset(self.projects),
                         deployments=frozenset(self.deployments))

    @property
    def active(self) -> bool:
        now = int(time.time() * 1000)
        return self.revoked_ms is None and (self.expires_ms is None or self.expires_ms > now)


def _shown(value: str) -> str:
    """``value`` quoted for a message, control characters escaped and cut: it may be 1 MB of terminal escapes."""
    return repr(value[:_SHOW]) + (f"... ({len(value)} characters)" if len(value) > _SHOW else "")


def _plain_name(what: str, value: str, limit: int) -> str:
    """``value`` stripped, or ValueError when it holds a control character or is longer than ``limit``."""
    if CONTROL.search(value):
        raise ValueError(f"{what} {_shown(value)} holds control characters")
    stripped = value.strip()
    if len(stripped) > limit:
        raise ValueError(f"{what} {_shown(value)} is longer than {limit} characters")
    return stripped


def _names(what: str, values: Iterable[str]) -> tuple[str, ...]:
    names = [_plain_name(what, v, SCOPE_NAME_MAX) for v in values]
    if len(names) > SCOPE_MAX:
        raise ValueError(f"at most {SCOPE_MAX} {what}s per key")
    return tuple(dict.fromkeys(n for n in names if n))


def _expiry(expires_ms: int | None, now: int) -> int | None:
    if expires_ms is not None and not 0 < expires_ms <= now + MAX_LIFETIME_DAYS * 86_400_000:
        raise ValueError(f"a key expires within 100 years of its creation (--expires-days {MAX_LIFETIME_DAYS} "
                         "at most)")
    return expires_ms


def _scope(role: Role, projects: Iterable[str], deployments: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    projects = _names("project", projects)
    deployments = _names("deployment", deployments)
    if role == "admin":
        if projects or deployments:
            raise ValueError("an admin key acts everywhere: it takes no --project or --deployment")
    elif role == "caller":
        if not (projects or deployments):
            raise ValueError("a caller key needs the deployments (--deployment CRN) or projects (--project P) "
                             "whose models it may call")
    else:
        if deployments:
            raise ValueError(f"a {role} key is scoped to projects (--project); --deployment is for caller keys")
        if not projects:
            raise ValueError(f"a {role} key needs its projects: --project NAME (repeatable; {EVERY_PROJECT!r}: every "
                             "project)")
    return projects, deployments


def _row_info(r: Any) -> ApiKeyInfo:
    scope = json.loads(r["scope"])
    return ApiKeyInfo(r["key_id"], r["name"], r["created_ms"], r["expires_ms"], r["revoked_ms"], r["role"],
                      tuple(scope.get("projects", ())), tuple(scope.get("deployments", ())))


def split_key(key: str) -> tuple[str, str] | None:
    if not key.startswith(PREFIX):
        return None
    key_id, sep, secret = key[len(PREFIX):].partition("_")
    if not sep or not key_id or not secret:
        return None
    return key_id, secret


class ApiKeys:
    def __init__(self, db: State) -> None:
        self.db = db
        self._cache: dict[str, tuple[float, ApiKeyInfo]] = {}  # key -> (checked_at, what it is)
        self._lock = threading.Lock()

    def create(self, name: str, expires_ms: int | None = None, *, role: Role = "deployer",
               projects: Iterable[str] = (), deployments: Iterable[str] = ()) -> tuple[ApiKeyInfo, str]:
        """A new key; the returned plaintext is shown once and not stored. ValueError for a scope that does not
        fit the role (an admin with projects, a deployer without), a name or scope name with control characters
        or over its length, an expiry more than 100 years away."""
        name = _plain_name("the key name", name, NAME_MAX)
        if not name:
            raise ValueError("an API key needs a name")
        scoped_projects, scoped_deployments = _scope(role, projects, deployments)
        now = int(time.time() * 1000)
        expires_ms = _expiry(expires_ms, now)
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        scope = json.dumps({"projects": list(scoped_projects), "deployments": list(scoped_deployments)})
        with self.db.tx() as c:
            c.execute("INSERT INTO api_key(key_id, name, secret_hash, created_ms, expires_ms, admin, role, scope) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (key_id, name, sha256_hex(secret), now, expires_ms,
                                                          int(role == "admin"), role, scope))
        info = ApiKeyInfo(key_id, name, now, expires_ms, None, role, scoped_projects, scoped_deployments)
        return info, f"{PREFIX}{key_id}_{secret}"

    def list(self) -> list[ApiKeyInfo]:
        rows = self.db.conn().execute("SELECT key_id, name, created_ms, expires_ms, revoked_ms, role, scope "
                                      "FROM api_key ORDER BY created_ms").fetchall()
        return [_row_info(r) for r in rows]

    def has_active_admin(self) -> bool:
        return any(k.admin and k.active for k in self.list())

    def revoke(self, key_id: str) -> bool:
        with self.db.tx() as c:
            cur = c.execute("UPDATE api_key SET revoked_ms = ? WHERE key_id = ? AND revoked_ms IS NULL",
                            (int(time.time() * 1000), key_id))
            changed = cur.rowcount > 0
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[1].key_id != key_id}
        return changed

    def verify(self, key: str) -> ApiKeyInfo | None:
        """What ``key`` is if it is a valid, active key; else None. Constant-time secret comparison."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        row = self.db.conn().execute("SELECT * FROM api_key WHERE key_id = ?", (key_id,)).fetchone()
        if row is None or row["revoked_ms"] is not None:
            return None
        if row["expires_ms"] is not None and row["expires_ms"] <= int(time.time() * 1000):
            return None
        if not hmac.compare_digest(row["secret_hash"], sha256_hex(secret)):
            return None
        info = _row_info(row)
        with self._lock:
            self._cache[key] = (now, info)
        return info
