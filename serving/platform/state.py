"""The platform's own state in the store directory: deployments, API keys, the catalog outbox, monitors, request
traffic.

SQLite, WAL, numbered migrations (``PRAGMA user_version``, applied by ``catalog.apply_migrations``). Several
processes use it (``mlcatalog up`` and CLI commands like ``mlcatalog api-keys create``), so every write is a short
``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from catalog import Migration, apply_migrations

MIGRATIONS: list[Migration] = [
    Migration(1, "deployments_api_keys_outbox", """
    CREATE TABLE deployment (
        crn TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        model_name TEXT NOT NULL,
        model_crn TEXT NOT NULL,
        build_crn TEXT NOT NULL,
        project_crn TEXT NOT NULL,
        project_dir TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        file TEXT NOT NULL,
        function TEXT NOT NULL,
        access_key TEXT NOT NULL UNIQUE,
        auth_enabled INTEGER NOT NULL,
        replicas INTEGER NOT NULL,
        cpu_millicores INTEGER NOT NULL,
        memory_mb INTEGER NOT NULL,
        status TEXT NOT NULL,
        create_time_ms INTEGER NOT NULL,
        deployed_time_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE TABLE api_key (
        key_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER,
        revoked_ms INTEGER
    );
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',  -- pending | done | failed (a permanent error, kept for review)
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        done_ms INTEGER
    );
    CREATE INDEX outbox_status ON outbox(status, seq);
    """),
    # administrative keys (manage keys, read the outbox)
    Migration(2, "admin_api_keys", """
    ALTER TABLE api_key ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
    """),
    # the deployment entity's guid in the catalog, once the outbox has delivered it (Atlas's clients need it)
    Migration(3, "deployment_catalog_guid", """
    ALTER TABLE deployment ADD COLUMN catalog_guid TEXT;
    """),
    # drift and accuracy monitors (one per deployment) and the ledger of their windows: a window is computed
    # once (its row is claimed before, marked done after its results are written), also across restarts
    Migration(4, "monitors", """
    CREATE TABLE monitor (
        deployment_crn TEXT PRIMARY KEY,
        config TEXT NOT NULL,
        reference TEXT NOT NULL,
        status TEXT NOT NULL,               -- active | stopped
        stopped_reason TEXT,
        created_ms INTEGER NOT NULL,
        last_end_ms INTEGER,                -- end of the latest scheduled window computed
        drift_status TEXT,                  -- ok | warning | drifting | unknown (latest window)
        drift_columns TEXT,                 -- JSON list
        last_result TEXT,                   -- JSON summary of the latest window
        published_status TEXT               -- what the catalog was last sent (outbox), to send changes only
    );
    CREATE TABLE monitor_window (
        deployment_crn TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        status TEXT NOT NULL,               -- running | done | failed
        claimed_ms INTEGER NOT NULL,
        done_ms INTEGER,
        result TEXT,
        error TEXT,
        PRIMARY KEY (deployment_crn, start_ms, end_ms)
    );
    """),
    # request traffic per deployment and 10-second bucket (serving/platform/traffic.py); a flush adds its counts
    # to the row, so processes sharing this file and restarts within a bucket add up. Clustered on the key: a
    # dashboard reads one deployment's range.
    Migration(5, "traffic", """
    CREATE TABLE traffic (
        crn TEXT NOT NULL,
        bucket_ms INTEGER NOT NULL,         -- start of the bucket, epoch ms, a multiple of 10000
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        last_ms INTEGER NOT NULL,           -- the bucket's latest request
        latency BLOB NOT NULL,              -- log-scale histogram: packed (uint8 bin, uint32 LE count) pairs
        PRIMARY KEY (crn, bucket_ms)
    ) WITHOUT ROWID;
    """),
    # roles and scopes of API keys (catalog.access): keys made before were all-powerful, so a non-admin key keeps
    # every project as a deployer. Access keys stored hashed like API keys (the plaintext is shown once, at
    # deploy), who deployed, and the environment variables declared for the deployment's replicas.
    Migration(6, "roles_hashed_access_keys_env", """
    ALTER TABLE api_key ADD COLUMN role TEXT NOT NULL DEFAULT 'deployer';
    ALTER TABLE api_key ADD COLUMN scope TEXT NOT NULL DEFAULT '{"projects": ["*"], "deployments": []}';
    UPDATE api_key SET role = 'admin', scope = '{"projects": [], "deployments": []}' WHERE admin = 1;
    ALTER TABLE deployment RENAME COLUMN access_key TO access_key_hash;
    ALTER TABLE deployment ADD COLUMN access_key_hint TEXT NOT NULL DEFAULT '';
    UPDATE deployment SET access_key_hint = substr(access_key_hash, 1, 6),
                          access_key_hash = mlcatalog_sha256(access_key_hash);
    ALTER TABLE deployment ADD COLUMN owner TEXT NOT NULL DEFAULT '';
    ALTER TABLE deployment ADD COLUMN env TEXT NOT NULL DEFAULT '{}';
    """),
]


def sha256_hex(text: str) -> str:
    """How access keys (and API key secrets) are stored: random secrets need no slow hash."""
    return hashlib.sha256(text.encode()).hexdigest()


class StateDb:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrate()

    def conn(self) -> sqlite3.Connection:
        c: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=FULL")  # deployments, keys and outbox entries are few and precious
            c.row_factory = sqlite3.Row
            self._local.conn = c
            with self._lock:
                self._conns.append(c)
        return c

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        c = self.conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def _migrate(self) -> None:
        # A schema newer than the code raises NewerSchemaError, a RuntimeError like before the shared helper.
        c = self.conn()
        c.create_function("mlcatalog_sha256", 1, sha256_hex, deterministic=True)  # migration 6 hashes access keys
        apply_migrations(c, MIGRATIONS, what="platform state")

    def close(self) -> None:
        with self._lock:
            for c in self._conns:
                c.close()
            self._conns.clear()
        self._local = threading.local()
