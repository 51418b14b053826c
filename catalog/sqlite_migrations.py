"""Numbered, named schema migrations for the embedded SQLite stores, tracked in ``PRAGMA user_version``.

Each store keeps its own list (``Migration(1, ...)``, ``Migration(2, ...)``, ...) and calls :func:`apply_migrations`
on open. Every migration runs in its own ``BEGIN IMMEDIATE`` transaction together with the ``user_version`` bump,
so a crash or a failing statement leaves the file at the previous version with nothing of the migration applied
(SQLite's DDL and both header pragmas used here are transactional). The version is read again under the write lock
before each step, so several processes opening the same file at once apply each migration exactly once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One schema step. ``sql`` may hold several statements; it runs inside a transaction, so no VACUUM etc."""

    version: int
    name: str
    sql: str


class NewerSchemaError(RuntimeError):
    """The database was written by a newer mlcatalog: its schema version is beyond the last migration we know."""

    def __init__(self, what: str, file: str, version: int, latest: int) -> None:
        super().__init__(f"{what} {file} has schema version {version}, newer than this mlcatalog ({latest}); "
                         "upgrade mlcatalog")
        self.file = file
        self.version = version
        self.latest = latest


class MigrationListError(ValueError):
    """A store's migration list is malformed: a programming error, reported before the database is touched."""


SchemaCheck = Callable[[sqlite3.Connection, int], None]


def check_migrations(migrations: Sequence[Migration]) -> None:
    """Refuse a list not numbered 1..n in order: a gap or duplicate would silently skip or repeat a step."""
    for position, m in enumerate(migrations, start=1):
        # type() rather than isinstance(): True is an int, and the version is formatted into a PRAGMA.
        if type(m.version) is not int or m.version != position:
            raise MigrationListError(
                f"migration {m.name!r} has version {m.version!r} at position {position}; "
                "versions must be 1, 2, ... n in order, without gaps or duplicates")
        if not m.name.strip():
            raise MigrationListError(f"migration {m.version} has no name")


def apply_migrations(conn: sqlite3.Connection, migrations: Sequence[Migration], *, what: str = "database",
                     check: SchemaCheck | None = None) -> list[Migration]:
    """Bring ``conn``'s database up to the last of ``migrations``; return the ones applied (oldest first).

    ``conn`` must not be inside a transaction (the stores use ``isolation_level=None``). ``what`` names the kind
    of store in errors. ``check(conn, version)``, if given, runs inside each write transaction before the
    version is compared, to refuse a file that belongs to something else; whatever it raises propagates.

    Raises :class:`NewerSchemaError` for a version beyond ours and :class:`MigrationListError` for a bad list.
    A migration that fails is rolled back and its exception re-raised, with a note naming the migration.
    """
    check_migrations(migrations)
    if conn.in_transaction:
        raise ValueError("apply_migrations needs a connection outside any transaction, to make each step atomic")
    latest = len(migrations)
    applied: list[Migration] = []
    while True:
        conn.execute("BEGIN IMMEDIATE")  # read the version under the write lock: other openers may race us
        step: Migration | None = None
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if check is not None:
                check(conn, version)
            if version > latest:
                raise NewerSchemaError(what, _file_of(conn), version, latest)
            if version == latest:
                conn.execute("COMMIT")
                return applied
            step = migrations[version]
            for statement in _statements(step.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={step.version}")
            conn.execute("COMMIT")
            applied.append(step)
        except BaseException as exc:
            # Some errors (SQLITE_FULL, ON CONFLICT ROLLBACK) already ended the transaction.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if step is not None:
                exc.add_note(f"while applying migration {step.version} ({step.name}) to {what} {_file_of(conn)}; "
                             f"rolled back, the schema stays at version {step.version - 1}")
            raise


def _statements(sql: str) -> Iterator[str]:
    # sqlite3 executes one statement per call, and a plain split on ";" would cut string literals, comments and
    # trigger bodies: sqlite3.complete_statement knows where a statement really ends.
    pending = ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending[:-1].strip():
                yield pending
            pending = ""
    rest = pending[:-1]  # the text after the last ";" (the loop added one too many)
    if rest.strip():
        yield rest


def _file_of(conn: sqlite3.Connection) -> str:
    for _seq, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return str(file) or ":memory:"
    return "?"
