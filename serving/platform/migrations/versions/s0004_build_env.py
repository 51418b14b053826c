"""The build environment a deployment's replicas run in (serving/platform/buildenv.py), as SQLite's migration 8.

Revision ID: s0004
Revises: s0003
"""

from __future__ import annotations

from alembic import op

from serving.platform.state import BUILD_ENV_SQL

revision: str = "s0004"
down_revision: str | None = "s0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute(BUILD_ENV_SQL)


def downgrade() -> None:
    op.drop_column("deployment", "build_env")
