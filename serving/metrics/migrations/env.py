"""Alembic environment of the metrics store: online migrations only, on the connection pgschema hands in."""

from serving.pgalembic_env import run_migrations

run_migrations("the metrics store")
