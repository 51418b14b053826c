"""Deployments, API keys, the outbox.

Revision ID: s0001
Revises: (none)

The schema SQLite reaches with its migrations 1-6 (serving/platform/state.py), in PostgreSQL's types: epoch
milliseconds are BIGINT, JSON documents stay TEXT (the code reads and writes them whole), the latency histogram is
BYTEA. ``api_key.admin`` is kept beside ``role`` as in SQLite, which still writes it.

Monitors and traffic come in s0002, kept apart on purpose (as the metrics store's 0002): the refusal to start on a
schema older than the code is exercised against a real older revision (tests/serving/test_state_schema.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "s0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _ms(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=nullable)


def upgrade() -> None:
    text = sa.Text
    op.create_table(
        "deployment",
        sa.Column("crn", text, primary_key=True),
        *(sa.Column(c, text, nullable=False) for c in ("name", "model_name", "model_crn", "build_crn", "project_crn",
                                                        "project_dir", "commit_sha", "file", "function")),
        sa.Column("access_key_hash", text, nullable=False, unique=True),
        sa.Column("access_key_hint", text, nullable=False, server_default=""),
        sa.Column("auth_enabled", sa.Integer, nullable=False),
        sa.Column("replicas", sa.Integer, nullable=False),
        sa.Column("cpu_millicores", sa.Integer, nullable=False),
        sa.Column("memory_mb", sa.Integer, nullable=False),
        sa.Column("status", text, nullable=False),
        _ms("create_time_ms"), _ms("deployed_time_ms"), _ms("updated_ms"),
        sa.Column("catalog_guid", text),
        sa.Column("owner", text, nullable=False, server_default=""),
        sa.Column("env", text, nullable=False, server_default="{}"),
    )
    op.create_table(
        "api_key",
        sa.Column("key_id", text, primary_key=True),
        sa.Column("name", text, nullable=False),
        sa.Column("secret_hash", text, nullable=False),
        _ms("created_ms"), _ms("expires_ms", True), _ms("revoked_ms", True),
        sa.Column("admin", sa.Integer, nullable=False, server_default="0"),
        sa.Column("role", text, nullable=False, server_default="deployer"),
        sa.Column("scope", text, nullable=False, server_default='{"projects": ["*"], "deployments": []}'),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("kind", text, nullable=False),
        sa.Column("payload", text, nullable=False),
        _ms("created_ms"),
        sa.Column("status", text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", text),
        _ms("done_ms", True),
    )
    op.create_index("outbox_status", "outbox", ["status", "seq"])


def downgrade() -> None:
    for table in ("outbox", "api_key", "deployment"):
        op.drop_table(table)
