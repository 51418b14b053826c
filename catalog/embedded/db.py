"""SQLite persistence for the embedded store: one writer, WAL, numbered migrations (catalog.sqlite_migrations).

Every REST mutation runs inside :meth:`Database.write`, one ``BEGIN IMMEDIATE`` transaction, so a process
killed mid-request leaves the request either fully applied or absent (SQLite's journal does the rest).
Readers get their own connection per thread and see only committed data.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from catalog.sqlite_migrations import Migration, NewerSchemaError, apply_migrations

MIGRATIONS: list[Migration] = [
    Migration(1, "initial_schema", """
    CREATE TABLE typedef (
        name TEXT PRIMARY KEY,
        guid TEXT NOT NULL UNIQUE,
        category TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE entity (
        guid TEXT PRIMARY KEY,
        type_name TEXT NOT NULL,
        status TEXT NOT NULL,
        qualified_name TEXT,
        name TEXT,
        body TEXT NOT NULL,
        create_time INTEGER NOT NULL,
        update_time INTEGER NOT NULL,
        version INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        updated_by TEXT NOT NULL
    );
    CREATE INDEX entity_qn ON entity(qualified_name);
    CREATE INDEX entity_type ON entity(type_name, status);
    CREATE INDEX entity_name ON entity(name);
    CREATE TABLE uattr (
        attr TEXT NOT NULL,
        value TEXT NOT NULL,
        guid TEXT NOT NULL,
        PRIMARY KEY (attr, value, guid)
    ) WITHOUT ROWID;
    CREATE INDEX uattr_guid ON uattr(guid);
    CREATE TABLE relationship (
        guid TEXT PRIMARY KEY,
        type_name TEXT NOT NULL,
        label TEXT NOT NULL,
        end1 TEXT NOT NULL,
        end2 TEXT NOT NULL,
        status TEXT NOT NULL,
        body TEXT NOT NULL,
        create_time INTEGER NOT NULL,
        update_time INTEGER NOT NULL,
        version INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        updated_by TEXT NOT NULL
    );
    CREATE INDEX rel_end1 ON relationship(end1, label);
    CREATE INDEX rel_end2 ON relationship(end2, label);
    CREATE INDEX rel_type ON relationship(type_name);
    CREATE TABLE classification (
        entity_guid TEXT NOT NULL,
        type_name TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (entity_guid, type_name)
    ) WITHOUT ROWID;
    CREATE INDEX classification_type ON classification(type_name);
    """),
    # case-insensitive prefix search on qualifiedName/name (basic search startsWith) uses these
    Migration(2, "lowercase_name_indexes", """
    CREATE INDEX entity_qn_lower ON entity(lower(qualified_name));
    CREATE INDEX entity_name_lower ON entity(lower(name));
    """),
]


class StoreVersionError(RuntimeError):
    """The store on disk was written by a newer mlcatalog."""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable against process crashes under WAL; only an OS crash can lose the last commits.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = _connect(path)
        self._write_lock = threading.RLock()
        self._writer_thread: int | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        try:
            self._migrate()
        except BaseException:
            self._writer.close()
            raise

    def _migrate(self) -> None:
        with self._write_lock:
            try:
                apply_migrations(self._writer, MIGRATIONS, what="store")
            except NewerSchemaError as exc:
                raise StoreVersionError(str(exc)) from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction on the single writer connection; rolled back on any exception."""
        with self._write_lock:
            conn = self._writer
            if conn.in_transaction:  # nested use inside one request: join the outer transaction
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            self._writer_thread = threading.get_ident()
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                self._writer_thread = None

    def reader(self) -> sqlite3.Connection:
        """A connection for reads. Inside a write transaction on this thread, the writer (sees own writes)."""
        if self._writer_thread == threading.get_ident():
            return self._writer
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            self._local.conn = conn
            with self._write_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        with self._write_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._writer.close()
