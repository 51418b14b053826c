"""catalog.sqlite_migrations: the one migration runner of the embedded SQLite stores."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from catalog.sqlite_migrations import (
    Migration,
    MigrationListError,
    NewerSchemaError,
    apply_migrations,
    check_migrations,
)

V1 = Migration(1, "things", "CREATE TABLE thing (id INTEGER PRIMARY KEY, label TEXT NOT NULL);")
V2 = Migration(2, "thing_labels", """
    -- a comment; with a semicolon
    CREATE INDEX thing_label ON thing(label);
    INSERT INTO thing (label) VALUES ('a;b');
""")
V3 = Migration(3, "audit_trigger", """
    CREATE TABLE audit (label TEXT);
    CREATE TRIGGER thing_audit AFTER INSERT ON thing BEGIN
        INSERT INTO audit (label) VALUES (new.label);
    END;
    INSERT INTO thing (label) VALUES ('c')
""")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def conn(db: Path) -> Iterator[sqlite3.Connection]:
    c = sqlite3.connect(db, isolation_level=None)
    yield c
    c.close()


def version_of(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def tables(conn: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}


def test_fresh_database_gets_every_migration_in_order(conn: sqlite3.Connection) -> None:
    applied = apply_migrations(conn, [V1, V2, V3])
    assert [m.name for m in applied] == ["things", "thing_labels", "audit_trigger"]
    assert version_of(conn) == 3
    assert tables(conn) == {"thing", "audit"}
    # the splitter kept the literal with a ";" and the trigger body whole
    assert conn.execute("SELECT label FROM thing ORDER BY id").fetchall() == [("a;b",), ("c",)]
    assert conn.execute("SELECT label FROM audit").fetchall() == [("c",)]
    assert not conn.in_transaction


def test_older_database_gets_only_the_missing_migrations(conn: sqlite3.Connection) -> None:
    assert apply_migrations(conn, [V1]) == [V1]
    conn.execute("INSERT INTO thing (label) VALUES ('kept')")
    assert apply_migrations(conn, [V1, V2]) == [V2]
    assert version_of(conn) == 2
    assert apply_migrations(conn, [V1, V2, V3]) == [V3]
    assert version_of(conn) == 3
    assert [r[0] for r in conn.execute("SELECT label FROM thing ORDER BY id")] == ["kept", "a;b", "c"]


def test_rerun_on_a_current_database_changes_nothing(conn: sqlite3.Connection) -> None:
    apply_migrations(conn, [V1, V2])
    assert apply_migrations(conn, [V1, V2]) == []
    assert apply_migrations(conn, [V1, V2]) == []
    assert version_of(conn) == 2
    assert conn.execute("SELECT count(*) FROM thing").fetchone() == (1,)


def test_database_newer_than_the_code_is_refused_untouched(db: Path, conn: sqlite3.Connection) -> None:
    apply_migrations(conn, [V1, V2, V3])
    with pytest.raises(NewerSchemaError) as excinfo:
        apply_migrations(conn, [V1, V2], what="test store")
    assert str(excinfo.value) == (f"test store {db} has schema version 3, newer than this mlcatalog (2); "
                                  "upgrade mlcatalog")
    assert (excinfo.value.file, excinfo.value.version, excinfo.value.latest) == (str(db), 3, 2)
    assert isinstance(excinfo.value, RuntimeError)
    assert version_of(conn) == 3
    assert not conn.in_transaction


def test_failed_migration_is_rolled_back_and_the_version_stays(conn: sqlite3.Connection) -> None:
    apply_migrations(conn, [V1])
    broken = Migration(2, "half_done", """
        CREATE TABLE first_half (x);
        INSERT INTO thing (label) VALUES ('from the broken migration');
        CREATE TABLE thing (x);
    """)
    with pytest.raises(sqlite3.OperationalError, match="already exists") as excinfo:
        apply_migrations(conn, [V1, broken])
    assert "migration 2 (half_done)" in "\n".join(excinfo.value.__notes__)
    assert version_of(conn) == 1
    assert tables(conn) == {"thing"}
    assert conn.execute("SELECT count(*) FROM thing").fetchone() == (0,)
    assert not conn.in_transaction
    # the next run with the fixed migration starts again from version 1
    assert apply_migrations(conn, [V1, V2]) == [V2]


def test_earlier_migrations_stay_applied_when_a_later_one_fails(conn: sqlite3.Connection) -> None:
    broken = Migration(3, "broken", "CREATE TABLE audit (x); SELECT * FROM no_such_table;")
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        apply_migrations(conn, [V1, V2, broken])
    assert version_of(conn) == 2
    assert tables(conn) == {"thing"}


@pytest.mark.parametrize("versions", [[0, 1], [2], [1, 3], [1, 1, 2], [2, 1], [1, True]])
def test_badly_numbered_lists_are_refused_before_touching_the_database(conn: sqlite3.Connection,
                                                                       versions: list[int]) -> None:
    migrations = [Migration(v, f"m{i}", f"CREATE TABLE t{i} (x);") for i, v in enumerate(versions)]
    with pytest.raises(MigrationListError, match=re.escape("must be 1, 2, ... n in order")):
        apply_migrations(conn, migrations)
    assert version_of(conn) == 0
    assert tables(conn) == set()


def test_unnamed_migration_is_refused() -> None:
    with pytest.raises(MigrationListError, match="migration 1 has no name"):
        check_migrations([Migration(1, " ", "SELECT 1")])


def test_empty_list_leaves_a_new_database_at_version_zero(conn: sqlite3.Connection) -> None:
    assert apply_migrations(conn, []) == []
    assert version_of(conn) == 0


def test_check_hook_sees_the_version_and_can_refuse(conn: sqlite3.Connection) -> None:
    seen: list[int] = []

    def check(c: sqlite3.Connection, version: int) -> None:
        assert c.in_transaction  # under the write lock, like the version read
        seen.append(version)
        if c.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'alien'").fetchone()[0]:
            raise LookupError("not ours")

    apply_migrations(conn, [V1, V2], check=check)
    assert seen == [0, 1, 2]
    conn.execute("CREATE TABLE alien (x)")
    with pytest.raises(LookupError, match="not ours"):
        apply_migrations(conn, [V1, V2, V3], check=check)
    assert version_of(conn) == 2
    assert not conn.in_transaction


def test_connection_inside_a_transaction_is_refused(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    with pytest.raises(ValueError, match="outside any transaction"):
        apply_migrations(conn, [V1])
    conn.execute("ROLLBACK")
    assert version_of(conn) == 0


def test_openers_racing_apply_each_migration_once(db: Path) -> None:
    # CREATE TABLE without IF NOT EXISTS fails if two openers both applied version 1: the version must be read
    # under the write lock.
    errors: list[BaseException] = []
    applied: list[list[Migration]] = []
    start = threading.Barrier(4)

    def open_and_migrate() -> None:
        c = sqlite3.connect(db, isolation_level=None, timeout=30.0, check_same_thread=False)
        try:
            start.wait()
            applied.append(apply_migrations(c, [V1, V2, V3]))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            c.close()

    threads = [threading.Thread(target=open_and_migrate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(m.version for run in applied for m in run) == [1, 2, 3]
    with closing(sqlite3.connect(db)) as c:
        assert version_of(c) == 3
