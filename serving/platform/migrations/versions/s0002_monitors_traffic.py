"""Monitors and their windows, request traffic.

Revision ID: s0002
Revises: s0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "s0002"
down_revision: str | None = "s0001"
branch_labels: str | None = None
depends_on: str | None = None


def _ms(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=nullable)


def upgrade() -> None:
    text = sa.Text
    op.create_table(
        "monitor",
        sa.Column("deployment_crn", text, primary_key=True),
        sa.Column("config", text, nullable=False),
        sa.Column("reference", text, nullable=False),
        sa.Column("status", text, nullable=False),
        sa.Column("stopped_reason", text),
        _ms("created_ms"), _ms("last_end_ms", True),
        *(sa.Column(c, text) for c in ("drift_status", "drift_columns", "last_result", "published_status")),
    )
    op.create_table(
        "monitor_window",
        sa.Column("deployment_crn", text, primary_key=True),
        sa.Column("start_ms", sa.BigInteger, primary_key=True),
        sa.Column("end_ms", sa.BigInteger, primary_key=True),
        sa.Column("status", text, nullable=False),
        _ms("claimed_ms"), _ms("done_ms", True),
        sa.Column("result", text),
        sa.Column("error", text),
    )
    op.create_table(
        "traffic",
        sa.Column("crn", text, primary_key=True),
        sa.Column("bucket_ms", sa.BigInteger, primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
        _ms("last_ms"),
        sa.Column("latency", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    for table in ("traffic", "monitor_window", "monitor"):
        op.drop_table(table)
