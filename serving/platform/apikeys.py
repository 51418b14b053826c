"""Model API keys (``Authorization: Bearer <key>``): created once, stored hashed, never logged.

A key is ``mlk_<id>_<secret>`` with a 256-bit random secret. Because the secret is random (not a password),
a single SHA-256 is enough to make a leaked database useless and keeps per-request checks cheap; verified keys
are cached for a short time so revocation takes effect within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from serving.platform.state import StateDb

PREFIX = "mlk_"
CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: str
    name: str
    created_ms: int
    expires_ms: int | None
    revoked_ms: int | None
    admin: bool = False

    @property
    def active(self) -> bool:
        now = int(time.time() * 1000)
        return self.revoked_ms is None and (self.expires_ms is None or self.expires_ms > now)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    if not key.startswith(PREFIX):
        return None
    key_id, sep, secret = key[len(PREFIX):].partition("_")
    if not sep or not key_id or not secret:
        return None
    return key_id, secret


class ApiKeys:
    def __init__(self, db: StateDb) -> None:
        self.db = db
        self._cache: dict[str, tuple[float, str, bool]] = {}  # key -> (checked_at, key_id, admin)
        self._lock = threading.Lock()

    def create(self, name: str, expires_ms: int | None = None, *, admin: bool = False) -> tuple[ApiKeyInfo, str]:
        """A new key; the returned plaintext is shown once and not stored."""
        if not name.strip():
            raise ValueError("an API key needs a name")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = int(time.time() * 1000)
        with self.db.tx() as c:
            c.execute("INSERT INTO api_key(key_id, name, secret_hash, created_ms, expires_ms, admin) "
                      "VALUES (?, ?, ?, ?, ?, ?)", (key_id, name.strip(), _hash(secret), now, expires_ms, int(admin)))
        return ApiKeyInfo(key_id, name.strip(), now, expires_ms, None, admin), f"{PREFIX}{key_id}_{secret}"

    def list(self) -> list[ApiKeyInfo]:
        rows = self.db.conn().execute("SELECT key_id, name, created_ms, expires_ms, revoked_ms, admin FROM api_key "
                                      "ORDER BY created_ms").fetchall()
        return [ApiKeyInfo(r["key_id"], r["name"], r["created_ms"], r["expires_ms"], r["revoked_ms"], bool(r["admin"]))
                for r in rows]

    def has_active_admin(self) -> bool:
        return any(k.admin and k.active for k in self.list())

    def revoke(self, key_id: str) -> bool:
        with self.db.tx() as c:
            cur = c.execute("UPDATE api_key SET revoked_ms = ? WHERE key_id = ? AND revoked_ms IS NULL",
                            (int(time.time() * 1000), key_id))
            changed = cur.rowcount > 0
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[1] != key_id}
        return changed

    def verify(self, key: str) -> str | None:
        """The key id if ``key`` is a valid, active key; else None. Constant-time secret comparison."""
        found = self._check(key)
        return found[0] if found else None

    def verify_admin(self, key: str) -> bool:
        """Whether ``key`` is a valid, active administrative key."""
        found = self._check(key)
        return bool(found and found[1])

    def _check(self, key: str) -> tuple[str, bool] | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1], hit[2]
        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        row = self.db.conn().execute(
            "SELECT secret_hash, expires_ms, revoked_ms, admin FROM api_key WHERE key_id = ?", (key_id,)).fetchone()
        if row is None or row["revoked_ms"] is not None:
            return None
        if row["expires_ms"] is not None and row["expires_ms"] <= int(time.time() * 1000):
            return None
        if not hmac.compare_digest(row["secret_hash"], _hash(secret)):
            return None
        admin = bool(row["admin"])
        with self._lock:
            self._cache[key] = (now, key_id, admin)
        return key_id, admin
