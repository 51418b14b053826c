"""Schema management of the PostgreSQL metrics store: Alembic, driven programmatically.

Policy on open (:func:`ensure_schema`):

* database without any metrics tables -> initialised to the head revision (same as the upgrade command), under
  a PostgreSQL advisory lock so that replicas starting together on a fresh database do not race;
* schema at the head revision -> open;
* schema at an older revision -> refuse, MetricsSchemaTooOld naming the command to run
  (:func:`~serving.metrics.urls.upgrade_command`). Never migrated implicitly: other replicas may still be running
  the old code against the same database, and a migration is an operator's decision;
* an unknown revision (a newer mlcatalog migrated it) or metrics tables without our version table -> refuse
  (MetricsSchemaTooNew).

The version table is ``mlcatalog_metrics_alembic_version``, not alembic's default, so that the database may be
shared with another alembic-managed application (MLflow's tracking store uses the default name).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, exc, pool, text

from serving.metrics.errors import (
    MetricsSchemaTooNew,
    MetricsSchemaTooOld,
    MetricsStoreUnavailable,
)
from serving.metrics.urls import libpq_url, redact_url, sqlalchemy_url, upgrade_command

VERSION_TABLE = "mlcatalog_metrics_alembic_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x4D4C4D53  # pg_advisory_xact_lock key serialising schema changes ("MLMS")


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in _script().walk_revisions()}


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the metrics database at ``url`` to ``revision`` (default: this code's head). Idempotent."""
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            config = _config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except exc.OperationalError as error:
        raise MetricsStoreUnavailable(f"cannot migrate the metrics database {redact_url(url)}: {error.orig}") from None
    finally:
        engine.dispose()


def current_revision(conn: psycopg.Connection[Any]) -> tuple[str | None, bool]:
    """(revision recorded in our version table or None, whether any metrics table exists)."""
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL, "
        "to_regclass('metric_record') IS NOT NULL OR to_regclass('metric_crn') IS NOT NULL",
        (VERSION_TABLE,),
    ).fetchone()
    assert row is not None
    has_version_table, has_tables = bool(row[0]), bool(row[1])
    if not has_version_table:
        return None, has_tables
    versions = [str(r[0]) for r in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")]
    return (versions[0] if versions else None), has_tables


def ensure_schema(url: str) -> None:
    """Apply the open policy (module docstring): initialise a fresh database, refuse a mismatched one."""
    try:
        with psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=10) as conn:
            current, has_tables = current_revision(conn)
    except psycopg.OperationalError as error:
        raise MetricsStoreUnavailable(f"cannot connect to the metrics database {redact_url(url)}: {error}") from None
    head = head_revision()
    if current == head:
        return
    if current is None and not has_tables:
        upgrade(url)
        return
    if current is None:
        raise MetricsSchemaTooNew(f"metrics database {redact_url(url)} has metrics tables but no {VERSION_TABLE}: "
                                  "it was not created by mlcatalog")
    if current in known_revisions():
        cmd = upgrade_command(url)
        raise MetricsSchemaTooOld(
            f"metrics database {redact_url(url)} is at schema revision {current}, this mlcatalog needs {head}; "
            f"stop the old replicas if needed and run: {cmd}", cmd)
    raise MetricsSchemaTooNew(f"metrics database {redact_url(url)} is at schema revision {current}, unknown to this "
                              f"mlcatalog (head {head}): it was migrated by a newer mlcatalog; upgrade mlcatalog")
