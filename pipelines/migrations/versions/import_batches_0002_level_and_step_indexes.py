"""import_batches: indexes that match the wave queries

Pending objects are selected by level and links through their ends, not by status (the per-wave
status updates then touch no index and stay on their page, HOT);
the awaiting steps' reference indexes hold only the rows whose reference is set.

Revision ID: import_batches_0002
Revises: import_batches_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "import_batches_0002"
down_revision = "import_batches_0001"
branch_labels = None
depends_on = None

PENDING = ("import_pending_objects", "import_pending_links")
FILLFACTOR = 50
STEP_REFERENCES = ("waiting_object_id", "waiting_link_id", "awaited_object_id", "awaited_link_id")


def _step_index(column: str, partial: bool) -> None:
    filled = {f"{d}_where": sa.text(f"{column} IS NOT NULL") for d in ("postgresql", "sqlite")} if partial else {}
    op.create_index(f"ix_import_awaiting_steps_{column}", "import_awaiting_steps", [column], **filled)


def _fillfactor(percent: int) -> None:
    """PostgreSQL: room on each page for the rewrites of a row's status (HOT updates stay on the page)."""
    if op.get_bind().dialect.name == "postgresql":
        for table in PENDING:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")


def upgrade() -> None:
    _fillfactor(FILLFACTOR)
    op.drop_index("ix_import_pending_objects_batch_id_status", table_name="import_pending_objects")
    op.create_index("ix_import_pending_objects_batch_id_level", "import_pending_objects", ["batch_id", "level"])
    op.drop_index("ix_import_pending_links_batch_id_status", table_name="import_pending_links")
    for column in STEP_REFERENCES:
        op.drop_index(f"ix_import_awaiting_steps_{column}", table_name="import_awaiting_steps")
        _step_index(column, partial=True)


def downgrade() -> None:
    _fillfactor(100)
    for column in STEP_REFERENCES:
        op.drop_index(f"ix_import_awaiting_steps_{column}", table_name="import_awaiting_steps")
        _step_index(column, partial=False)
    op.create_index("ix_import_pending_links_batch_id_status", "import_pending_links", ["batch_id", "status"])
    op.drop_index("ix_import_pending_objects_batch_id_level", table_name="import_pending_objects")
    op.create_index("ix_import_pending_objects_batch_id_status", "import_pending_objects", ["batch_id", "status"])
