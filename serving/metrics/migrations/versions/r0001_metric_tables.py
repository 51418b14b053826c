"""Metric records and the CRN dictionary.

Revision ID: 0001
Revises: (none)

CRNs are stored once in ``metric_crn`` and referenced by integer id (serving/metrics/crncache.py says why).
No foreign keys from ``metric_record`` to ``metric_crn``: the store's writer is the only one that assigns ids, and
three FK probes per row would cost ingestion throughput for no protection the code does not already give.
``prediction_uuid`` is NULL for aggregates (NULLs never collide in a unique index).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "metric_crn",
        sa.Column("id", sa.Integer, sa.Identity(always=True), primary_key=True),
        sa.Column("crn", sa.Text, nullable=False, unique=True),
    )
    op.create_table(
        "metric_record",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("deployment_id", sa.Integer, nullable=False),
        sa.Column("build_id", sa.Integer),
        sa.Column("model_id", sa.Integer),
        sa.Column("prediction_uuid", sa.Text, unique=True),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
        sa.Column("metrics", postgresql.JSONB, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metric_record")
    op.drop_table("metric_crn")
