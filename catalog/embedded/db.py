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
    # Atlas keeps saved searches as __AtlasUserSavedSearch entities; here they are rows of their own, so they never
    # show up in entity search, lineage or metrics. (owner_name, name) is Atlas's uniqueName "owner:name".
    Migration(3, "saved_searches", """
    CREATE TABLE saved_search (
        guid TEXT PRIMARY KEY,
        owner_name TEXT NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        create_time INTEGER NOT NULL,
        update_time INTEGER NOT NULL,
        UNIQUE (owner_name, name)
    );
    """),
    # Atlas's entity audit (EntityAuditEventV2), written in the transaction of the change it records. The HBase
    # repository's row key is "guid:timestamp:index:writeTime"; event_key keeps that, (ts, idx) orders the events.
    Migration(4, "entity_audit", """
    CREATE TABLE entity_audit (
        seq INTEGER PRIMARY KEY,
        entity_guid TEXT NOT NULL,
        ts INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        user_name TEXT NOT NULL,
        action TEXT NOT NULL,
        details TEXT NOT NULL,
        event_key TEXT NOT NULL
    );
    CREATE INDEX entity_audit_entity ON entity_audit(entity_guid, ts, idx);
    CREATE INDEX entity_audit_time ON entity_audit(ts, action);
    """),
    # Glossaries, terms and categories are entities (AtlasGlossary...), listed by Atlas in qualifiedName order
    # (AtlasGraphUtilsV2.findEntityGUIDsByType) and found by qualifiedName within their type.
    Migration(5, "glossary_lookup", """
    CREATE INDEX entity_type_qn ON entity(type_name, qualified_name);
    """),
    # Atlas's admin audit (AtlasAuditEntry: server start, typedef changes, purges) and its hourly metrics snapshots
    # (AtlasMetricsStat); Atlas keeps both as internal entities, here they are rows of their own, so they never show
    # up in entity search, lineage or the metrics they count.
    Migration(6, "admin_audit_and_metrics_stats", """
    CREATE TABLE admin_audit (
        guid TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        operation TEXT NOT NULL,
        params TEXT,
        start_time INTEGER NOT NULL,
        end_time INTEGER NOT NULL,
        client_id TEXT,
        result TEXT,
        result_count INTEGER NOT NULL
    );
    CREATE INDEX admin_audit_time ON admin_audit(start_time);
    CREATE TABLE metrics_stat (
        collection_time INTEGER PRIMARY KEY,
        guid TEXT NOT NULL UNIQUE,
        ttl_ms INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    """),
    # Classification propagation, materialised as Atlas keeps it on its graph (a propagated classification edge from
    # each reached entity to the source's classification vertex): one row per (entity, type, source entity), kept
    # in the transaction of the change (catalog.embedded.propagation). The view joins each row to the source's
    # classification, so the body is shared as Atlas shares the vertex; readers ask the view for an entity's own
    # and propagated classifications alike (source_guid = entity_guid for its own).
    Migration(7, "propagated_classifications", """
    CREATE TABLE propagated_classification (
        entity_guid TEXT NOT NULL,
        type_name TEXT NOT NULL,
        source_guid TEXT NOT NULL,
        PRIMARY KEY (entity_guid, type_name, source_guid)
    ) WITHOUT ROWID;
    CREATE INDEX propagated_classification_source ON propagated_classification(source_guid, type_name);
    CREATE INDEX propagated_classification_type ON propagated_classification(type_name);
    CREATE VIEW entity_classification AS
        SELECT entity_guid, type_name, entity_guid AS source_guid, body FROM classification
        UNION ALL
        SELECT p.entity_guid, p.type_name, p.source_guid, c.body FROM propagated_classification p
        JOIN classification c ON c.entity_guid = p.source_guid AND c.type_name = p.type_name;
    -- A store written before: its deleted entities' classifications say so, and its classifications reach what
    -- Atlas would have propagated them to along today's ACTIVE relationships (entityTypes honoured).
    UPDATE classification SET body = json_set(body, '$.entityStatus', 'DELETED')
        WHERE entity_guid IN (SELECT guid FROM entity WHERE status = 'DELETED');
    INSERT OR IGNORE INTO propagated_classification(entity_guid, type_name, source_guid)
    WITH RECURSIVE
    isa(name, ancestor) AS (
        SELECT name, name FROM typedef WHERE category = 'ENTITY'
        UNION
        SELECT isa.name, s.value FROM isa JOIN typedef d ON d.name = isa.ancestor, json_each(d.body, '$.superTypes') s
    ),
    edge(frm, dst) AS (
        SELECT end1, end2 FROM relationship
            WHERE status = 'ACTIVE' AND json_extract(body, '$.propagateTags') IN ('ONE_TO_TWO', 'BOTH')
        UNION ALL
        SELECT end2, end1 FROM relationship
            WHERE status = 'ACTIVE' AND json_extract(body, '$.propagateTags') IN ('TWO_TO_ONE', 'BOTH')
    ),
    reached(source, type_name, guid) AS (
        SELECT entity_guid, type_name, entity_guid FROM classification WHERE json_extract(body, '$.propagate')
        UNION
        SELECT r.source, r.type_name, e.dst FROM reached r JOIN edge e ON e.frm = r.guid
    )
    SELECT r.guid, r.type_name, r.source FROM reached r
        JOIN entity e ON e.guid = r.guid JOIN typedef c ON c.name = r.type_name
        WHERE r.guid != r.source AND (coalesce(json_array_length(c.body, '$.entityTypes'), 0) = 0 OR EXISTS (
            SELECT 1 FROM isa, json_each(c.body, '$.entityTypes') t
            WHERE isa.name = e.type_name AND isa.ancestor = t.value));
    """),
    # Small facts about the store as a whole that Atlas keeps as vertices of their own (the index recovery times of
    # IndexRecoveryService.RecoveryInfoManagement): one row per key, written in the transaction they describe.
    # IF NOT EXISTS: a store taken back to an older schema by hand keeps the table, and must still open.
    Migration(8, "store_info", """
    CREATE TABLE IF NOT EXISTS store_info (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
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
