"""The platform state's migration to roles and hashed access keys (migration 6), on a store made before it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from catalog import apply_migrations
from serving.platform.apikeys import ApiKeys
from serving.platform.state import MIGRATIONS, StateDb, sha256_hex

ACCESS_KEY = "0123456789abcdef0123456789abcdef"


def _store_before_roles(path: Path) -> None:
    """A platform state at migration 5 (before roles) with a deployment, an admin key and a plain key."""
    with closing(sqlite3.connect(path, isolation_level=None)) as c:
        apply_migrations(c, MIGRATIONS[:5], what="platform state")
        c.execute("INSERT INTO deployment (crn, name, model_name, model_crn, build_crn, project_crn, project_dir, "
                  "commit_sha, file, function, access_key, auth_enabled, replicas, cpu_millicores, memory_mb, "
                  "status, create_time_ms, deployed_time_ms, updated_ms) VALUES ('d', 'wine', 'wine', 'm', 'b', "
                  "'p', '/srv/projects/wine', 'c', 'model.py', 'predict', ?, 1, 1, 1000, 2048, 'deployed', 0, 0, 0)",
                  (ACCESS_KEY,))
        for key_id, admin in (("aaaa", 1), ("bbbb", 0)):
            c.execute("INSERT INTO api_key (key_id, name, secret_hash, created_ms, admin) VALUES (?, ?, 'h', 0, ?)",
                      (key_id, f"key {key_id}", admin))


def test_access_keys_are_hashed_and_old_keys_keep_their_rights(tmp_path: Path) -> None:
    path = tmp_path / "platform.db"
    _store_before_roles(path)
    state = StateDb(path)
    try:
        row = state.conn().execute("SELECT access_key_hash, access_key_hint, owner, env FROM deployment").fetchone()
        assert tuple(row) == (sha256_hex(ACCESS_KEY), ACCESS_KEY[:6], "", "{}")
        keys = {k.key_id: k for k in ApiKeys(state).list()}
        assert keys["aaaa"].role == "admin" and keys["aaaa"].projects == ()
        # a key made before roles could do everything but manage keys: a deployer of every project
        assert keys["bbbb"].role == "deployer" and keys["bbbb"].projects == ("*",)
        assert keys["bbbb"].principal.may("deploy") and not keys["bbbb"].principal.may("admin")
    finally:
        state.close()
    with closing(sqlite3.connect(path)) as c:
        assert ACCESS_KEY not in "\n".join(c.iterdump())
