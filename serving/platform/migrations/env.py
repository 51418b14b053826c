"""Alembic environment of the platform state: online migrations only, on the connection pgstate hands in."""

from serving.pgalembic_env import run_migrations

run_migrations("the platform state")
