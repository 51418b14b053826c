"""The model's access key and traffic split (serving/platform/routing.py), as SQLite's migration 7.

Revision ID: s0003
Revises: s0002
"""

from __future__ import annotations

from alembic import op

from serving.platform.state import MODEL_ROUTES_SQL

revision: str = "s0003"
down_revision: str | None = "s0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    for statement in MODEL_ROUTES_SQL.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("model_route")
