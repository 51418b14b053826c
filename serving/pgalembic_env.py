"""The body of every mlcatalog Alembic ``env.py``: online migrations only, on the connection
:class:`serving.pgalembic.AlembicSchema` hands in, recorded in the schema's own version table."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from serving.pgalembic import VERSION_TABLE_ATTRIBUTE


def run_migrations(what: str) -> None:
    if context.is_offline_mode():
        raise RuntimeError(f"{what} has no offline (SQL script) migrations; use mlcatalog's upgrade command")
    version_table = context.config.attributes[VERSION_TABLE_ATTRIBUTE]

    def run(connection: Connection) -> None:
        context.configure(connection=connection, version_table=version_table, transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()

    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url", ""), poolclass=pool.NullPool)
    with engine.begin() as conn:
        run(conn)
    engine.dispose()
