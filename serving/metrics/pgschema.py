"""Schema management of the PostgreSQL metrics store: Alembic, with the open policy of :mod:`serving.pgalembic`.

The version table is ``mlcatalog_metrics_alembic_version``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from serving.metrics.errors import MetricsSchemaTooNew, MetricsSchemaTooOld, MetricsStoreUnavailable
from serving.metrics.urls import upgrade_command
from serving.pgalembic import AlembicSchema

VERSION_TABLE = "mlcatalog_metrics_alembic_version"
SCHEMA = AlembicSchema(
    what="metrics database", migrations_dir=Path(__file__).resolve().parent / "migrations",
    version_table=VERSION_TABLE, lock_key=0x4D4C4D53,  # "MLMS"
    own_tables=("metric_record", "metric_crn"), upgrade_command=upgrade_command, too_old=MetricsSchemaTooOld,
    too_new=MetricsSchemaTooNew, unavailable=MetricsStoreUnavailable)


def head_revision() -> str:
    return SCHEMA.head_revision()


def known_revisions() -> set[str]:
    return SCHEMA.known_revisions()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the metrics database at ``url`` to ``revision`` (default: this code's head). Idempotent."""
    SCHEMA.upgrade(url, revision)


def current_revision(conn: psycopg.Connection[Any]) -> tuple[str | None, bool]:
    return SCHEMA.current_revision(conn)


def ensure_schema(url: str) -> None:
    SCHEMA.ensure(url)
