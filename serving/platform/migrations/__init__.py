"""Alembic migrations of the platform state on PostgreSQL. Run them with ``mlcatalog state-db upgrade``, not
alembic's CLI."""
