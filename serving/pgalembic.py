"""Schema management of a PostgreSQL database mlcatalog owns (the metrics store, the platform state): Alembic,
driven programmatically, one policy for both.

Policy on open (:meth:`AlembicSchema.ensure`):

* a database without any of our tables -> initialised to the head revision (as the upgrade command would), under
  a PostgreSQL advisory lock so that instances starting together on a fresh database do not race;
* schema at the head revision -> open;
* schema at an older revision -> refuse, naming the command to run. Never migrated implicitly: other instances
  may still be running the old code against the same database, and a migration is an operator's decision;
* an unknown revision (a newer mlcatalog migrated it) or our tables without our version table -> refuse.

Each database keeps its own version table (``mlcatalog_<name>_alembic_version``), not alembic's default, so that
it may be shared with another alembic-managed application (MLflow's tracking store uses the default name) and with
the other mlcatalog schema.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, exc, pool, text

from serving.metrics.urls import libpq_url, redact_url, sqlalchemy_url

#: how the migration environments (``env.py``) learn their version table
VERSION_TABLE_ATTRIBUTE = "mlcatalog_version_table"


@dataclass(frozen=True)
class AlembicSchema:
    what: str  # "metrics database", "platform state database": how messages name it
    migrations_dir: Path
    version_table: str
    lock_key: int  # pg_advisory_xact_lock key serialising schema changes
    own_tables: tuple[str, ...]  # any of them present means "ours"
    upgrade_command: Callable[[str], str]  # the shell command migrating a URL
    too_old: Callable[[str, str], Exception]  # (message, command)
    too_new: Callable[[str], Exception]
    unavailable: Callable[[str], Exception]

    @functools.cached_property
    def _script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self._config())

    def _config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.migrations_dir))
        config.attributes[VERSION_TABLE_ATTRIBUTE] = self.version_table
        return config

    def head_revision(self) -> str:
        head = self._script.get_current_head()
        assert head is not None
        return head

    def known_revisions(self) -> set[str]:
        return {script.revision for script in self._script.walk_revisions()}

    def upgrade(self, url: str, revision: str = "head") -> None:
        """Migrate the database at ``url`` to ``revision`` (default: this code's head). Idempotent."""
        engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
        try:
            with engine.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": self.lock_key})
                config = self._config()
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
        except exc.OperationalError as error:
            raise self.unavailable(f"cannot migrate the {self.what} {redact_url(url)}: {error.orig}") from None
        finally:
            engine.dispose()

    def current_revision(self, conn: psycopg.Connection[Any]) -> tuple[str | None, bool]:
        """(revision recorded in our version table or None, whether any of our tables exists)."""
        probes = " OR ".join(["to_regclass(%s) IS NOT NULL"] * len(self.own_tables))
        row = conn.execute(f"SELECT to_regclass(%s) IS NOT NULL, {probes}",
                           (self.version_table, *self.own_tables)).fetchone()
        assert row is not None
        has_version_table, has_tables = bool(row[0]), bool(row[1])
        if not has_version_table:
            return None, has_tables
        versions = [str(r[0]) for r in conn.execute(f"SELECT version_num FROM {self.version_table}")]
        return (versions[0] if versions else None), has_tables

    def ensure(self, url: str) -> None:
        """Apply the open policy (module docstring): initialise a fresh database, refuse a mismatched one."""
        try:
            with psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=10) as conn:
                current, has_tables = self.current_revision(conn)
        except psycopg.OperationalError as error:
            raise self.unavailable(f"cannot connect to the {self.what} {redact_url(url)}: {error}") from None
        head = self.head_revision()
        if current == head:
            return
        if current is None and not has_tables:
            self.upgrade(url)
            return
        if current is None:
            raise self.too_new(f"{self.what} {redact_url(url)} has mlcatalog's tables but no {self.version_table}: "
                               "it was not created by mlcatalog")
        if current in self.known_revisions():
            cmd = self.upgrade_command(url)
            raise self.too_old(
                f"{self.what} {redact_url(url)} is at schema revision {current}, this mlcatalog needs {head}; "
                f"stop the old instances if needed and run: {cmd}", cmd)
        raise self.too_new(f"{self.what} {redact_url(url)} is at schema revision {current}, unknown to this "
                           f"mlcatalog (head {head}): it was migrated by a newer mlcatalog; upgrade mlcatalog")
