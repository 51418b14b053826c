"""Read indexes: one per CRN column, then start time and id (the order read() returns).

Revision ID: 0002
Revises: 0001

Kept apart from 0001 on purpose, so that the store's refusal to start on a schema older than the code is
exercised against a real older revision (tests/metrics/test_contract.py) from the first release on.
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_INDEXES = {
    "metric_record_deployment": "deployment_id",
    "metric_record_build": "build_id",
    "metric_record_model": "model_id",
}


def upgrade() -> None:
    for name, column in _INDEXES.items():
        op.create_index(name, "metric_record", [column, "start_ms", "id"])


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="metric_record")
