"""Alembic migrations of the application database.

All versions live in `versions/`; each domain is its own branch (`branch_labels = ("<domain>",)`), so
domains migrate independently and `upgrade` always goes to every head.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from pipelines.core.database import Database

HERE = Path(__file__).resolve().parent


def alembic_config(database: Database | None = None) -> Config:
    config = Config()
    config.set_main_option("path_separator", "os")
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("version_locations", str(HERE / "versions"))
    if database is not None:
        config.set_main_option(
            "sqlalchemy.url", database.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return config


def upgrade(database: Database, revision: str = "heads") -> None:
    config = alembic_config(database)
    with database.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()


def downgrade(database: Database, revision: str = "base") -> None:
    config = alembic_config(database)
    with database.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
        conn.commit()
