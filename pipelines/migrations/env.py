"""Alembic environment: runs on the connection `pipelines.migrations.upgrade` hands over, or on the
URL from the config (the `alembic` command line)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from pipelines.schema import metadata

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from pipelines.core.database import Database

    database = Database(config.get_main_option("sqlalchemy.url"))
    with database.engine.connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run `pipelines db upgrade`")
run_migrations_online()
