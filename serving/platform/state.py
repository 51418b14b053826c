"""The platform's own state: deployments, API keys, the catalog outbox, monitors, request traffic.

One interface, two backends chosen by URL (like the metrics store): SQLite in the store directory, the embedded
default (``sqlite:///abs/platform.db``), and PostgreSQL (``postgresql://...``, :mod:`serving.platform.pgstate`),
which several ``mlcatalog up`` instances share so that they behave as one platform. Modules speak to it through
:class:`State` in SQL both databases understand (``?`` placeholders, ``INSERT ... ON CONFLICT``), with the two
places where they differ spelled by the backend: :meth:`StateConn.serialize` (writers of one kind one at a time
across instances, inside a transaction) and :attr:`StateConn.for_update`.

SQLite: WAL, numbered migrations (``PRAGMA user_version``, applied by ``catalog.apply_migrations``). Several
processes use it (``mlcatalog up`` and CLI commands like ``mlcatalog api-keys create``), so every write is a short
``BEGIN IMMEDIATE`` transaction, which already serialises every writer.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from catalog import Migration, apply_migrations
from serving.metrics.errors import UnsupportedStoreUrl
from serving.metrics.urls import PG_SCHEMES, parse_sqlite_url, scheme_of, sqlite_url

MODEL_ROUTES_SQL = """
    CREATE TABLE model_route (
        model_crn TEXT PRIMARY KEY,
        access_key_hash TEXT NOT NULL UNIQUE,
        access_key_hint TEXT NOT NULL,
        split TEXT NOT NULL,                -- JSON {deployment crn: percent}, percents summing to 100 (or {})
        previous TEXT NOT NULL DEFAULT '{}',
        shadow TEXT,
        sticky TEXT,
        updated_ms BIGINT NOT NULL
    );
    INSERT INTO model_route (model_crn, access_key_hash, access_key_hint, split, updated_ms)
        SELECT d.model_crn, d.access_key_hash, d.access_key_hint, '{"' || d.crn || '": 100}', d.updated_ms
        FROM deployment d
        WHERE d.status = 'deployed' AND d.create_time_ms = (
            SELECT max(e.create_time_ms) FROM deployment e WHERE e.model_crn = d.model_crn AND e.status = 'deployed');
"""

BUILD_ENV_SQL = "ALTER TABLE deployment ADD COLUMN build_env TEXT NOT NULL DEFAULT ''"

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
    # the access key belongs to the model (serving/platform/routing.py): one route per model with its key, its
    # traffic split over deployments (one per build), the split before the latest change (rollback), a shadow and
    # a sticky field. A model served today keeps its newest deployment's key; an older deployment's own key still
    # calls that deployment.
    Migration(7, "model_routes", MODEL_ROUTES_SQL),
    # the build environment (serving/platform/buildenv.py) its replicas run in: where its build log is
    Migration(8, "build_env", BUILD_ENV_SQL),
]


def sha256_hex(text: str) -> str:
    """How access keys (and API key secrets) are stored: random secrets need no slow hash."""
    return hashlib.sha256(text.encode()).hexdigest()


class Cursor(Protocol):
    """What a statement returns: rows readable by column name and by position (``row["crn"]``, ``row[0]``)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class StateConn(Protocol):
    #: appended to a SELECT inside a transaction to lock the rows it reads ("" where the transaction already
    #: excludes every other writer)
    for_update: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Plain tuples: for reads of many rows."""
        ...

    def serialize(self, name: str) -> None:
        """Inside a transaction: wait until no other transaction holding ``name`` is open, in any instance."""
        ...


class State(Protocol):
    url: str  # printable (no password)
    #: whether other platform instances may share it (they see its rows; the platform syncs its replicas to it)
    shared: bool
    #: what the database driver raises when the database is unavailable, busy or broken
    errors: tuple[type[Exception], ...]

    def conn(self) -> StateConn:
        """For one statement at a time, each committed on its own."""
        ...

    def tx(self) -> AbstractContextManager[StateConn]:
        """One transaction: committed at the end of the block, rolled back if it raises."""
        ...

    def exclusive(self, name: str) -> AbstractContextManager[bool]:
        """Try to hold lock ``name`` for the block, across instances; yields whether it is held. Held by a process,
        it is released when the process dies (kill -9 too): no lease to expire."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def lock_key(name: str) -> int:
    """A lock name as a signed 64-bit integer (PostgreSQL's advisory lock key)."""
    return int.from_bytes(hashlib.blake2b(f"mlcatalog-state:{name}".encode(), digest_size=8).digest(), "big",
                          signed=True)


def default_state_url(store_dir: Path) -> str:
    return sqlite_url(store_dir / "platform.db")


def open_state(url: str) -> State:
    """The platform state at ``url``: ``sqlite:///abs/path.db`` or ``postgresql://user@host:port/db``. Created or
    migrated to this code's schema where that is safe (see each backend); UnsupportedStoreUrl for other URLs."""
    scheme = scheme_of(url)
    if scheme == "sqlite":
        path, _ = parse_sqlite_url(url, what="platform state")
        return StateDb(path)
    if scheme in PG_SCHEMES:
        try:
            from serving.platform.pgstate import PostgresState
        except ImportError as exc:
            raise UnsupportedStoreUrl(f"platform state on PostgreSQL needs the postgres extra "
                                      f"(pip install 'mlcatalog[postgres]'): {exc}") from None
        return PostgresState(url)
    raise UnsupportedStoreUrl(f"unsupported platform state URL scheme {scheme!r}: use sqlite:///abs/path.db or "
                              "postgresql://user@host:port/db")


def upgrade_state_db(url: str, revision: str = "head") -> None:
    """Migrate the platform state at ``url`` to ``revision`` (default: this code's schema). PostgreSQL: Alembic,
    under an advisory lock; SQLite migrates itself on open (to head only)."""
    if scheme_of(url) in PG_SCHEMES:
        from serving.platform.pgstate import SCHEMA

        SCHEMA.upgrade(url, revision)
        return
    if revision != "head":
        raise UnsupportedStoreUrl("the SQLite platform state only migrates to head")
    open_state(url).close()


class _SqliteConn:
    for_update = ""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.raw.execute(sql, params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.raw.cursor()
        cur.row_factory = None
        return cur.execute(sql, params).fetchall()

    def serialize(self, name: str) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already holds the database's one write lock."""


class StateDb:
    """The SQLite backend."""

    shared = False
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = sqlite_url(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrate()

    def conn(self) -> _SqliteConn:
        return _SqliteConn(self._raw())

    def _raw(self) -> sqlite3.Connection:
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
    def tx(self) -> Iterator[_SqliteConn]:
        c = self._raw()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield _SqliteConn(c)
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def _migrate(self) -> None:
        # A schema newer than the code raises NewerSchemaError, a RuntimeError like before the shared helper.
        c = self._raw()
        c.create_function("mlcatalog_sha256", 1, sha256_hex, deterministic=True)  # migration 6 hashes access keys
        apply_migrations(c, MIGRATIONS, what="platform state")

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        # flock: held per open file, so two threads of one process exclude each other too; the kernel drops it
        # with the process
        folder = self.path.parent / f"{self.path.stem}-locks"
        folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(folder / f"{lock_key(name) & 0xFFFFFFFFFFFFFFFF:016x}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def ping(self) -> None:
        self._raw().execute("SELECT count(*) FROM sqlite_master").fetchone()

    def close(self) -> None:
        with self._lock:
            for c in self._conns:
                c.close()
            self._conns.clear()
        self._local = threading.local()
