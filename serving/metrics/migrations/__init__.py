"""Alembic migrations of the PostgreSQL metrics store. Run them with serving.metrics.pgschema, not alembic's CLI.

A new revision: copy the newest file in versions/, set ``revision`` / ``down_revision``, write ``upgrade()``.
"""
