"""Alembic environment of the metrics store: online migrations only, on the connection pgschema hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from serving.metrics.pgschema import VERSION_TABLE


def _run(connection: Connection) -> None:
    # Own version table: the metrics database may be shared with another alembic-managed app (MLflow uses
    # the default "alembic_version").
    context.configure(connection=connection, version_table=VERSION_TABLE, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("the metrics store has no offline (SQL script) migrations; use upgrade_metrics_db(url)")

_connection = context.config.attributes.get("connection")
if isinstance(_connection, Connection):
    _run(_connection)
else:
    _engine = create_engine(context.config.get_main_option("sqlalchemy.url", ""), poolclass=pool.NullPool)
    with _engine.begin() as _conn:
        _run(_conn)
    _engine.dispose()
