"""import_batches: indexes that match the wave queries

Pending objects are selected by level and links through their ends, not by status (the per-wave
status updates then touch no index and stay on their page, HOT);
the awaiting steps' indexes hold only the rows whose reference is set (and, for the batch, its
ImportBatchMain steps); the links' ends lose their foreign keys.

Revision ID: import_batches_0002
Revises: import_batches_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipelines.core.database import IdType, metadata

revision = "import_batches_0002"
down_revision = "import_batches_0001"
branch_labels = None
depends_on = None

PENDING = ("import_pending_objects", "import_pending_links")
FILLFACTOR = 50
ITEM_STATUS = "status IN ('pending', 'awaiting', 'creating', 'complete', 'error')"
STEP_REFERENCES = ("waiting_object_id", "waiting_link_id", "awaited_object_id", "awaited_link_id")


def _step_index(column: str, partial: bool) -> None:
    filled = {f"{d}_where": sa.text(f"{column} IS NOT NULL") for d in ("postgresql", "sqlite")} if partial else {}
    op.create_index(f"ix_import_awaiting_steps_{column}", "import_awaiting_steps", [column], **filled)


def _fillfactor(percent: int) -> None:
    """PostgreSQL: room on each page for the rewrites of a row's status (HOT updates stay on the page)."""
    if op.get_bind().dialect.name == "postgresql":
        for table in PENDING:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")


def _links(with_ends_fks: bool) -> sa.Table:
    """import_pending_links as it stands (after 0001), with or without the foreign keys of its ends."""

    def end(column: str) -> sa.Column:
        fk = (sa.ForeignKey("import_pending_objects.id"),) if with_ends_fks else ()
        return sa.Column(column, IdType, *fk, nullable=True)

    own = sa.MetaData(naming_convention=metadata.naming_convention)
    sa.Table("import_batches", own, sa.Column("id", IdType, primary_key=True))
    sa.Table("import_pending_objects", own, sa.Column("id", IdType, primary_key=True))
    return sa.Table(
        "import_pending_links",
        own,
        sa.Column("id", IdType, primary_key=True),
        sa.Column("batch_id", IdType, sa.ForeignKey("import_batches.id"), nullable=False),
        sa.Column("pending_link_id", sa.String(200), nullable=False),
        sa.Column("link_type", sa.String(12), nullable=False),
        sa.Column("link_tag", sa.String(50), nullable=False),
        sa.Column("object_id", sa.String(200), nullable=False),
        sa.Column("reference_id", sa.String(200), nullable=False),
        sa.Column("separate_dependent_link_create", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        end("child_object_id"),
        end("parent_object_id"),
        sa.Column("target_id", IdType, nullable=True),
        sa.UniqueConstraint("batch_id", "pending_link_id"),
        sa.CheckConstraint(ITEM_STATUS, name="status"),
        sa.CheckConstraint("link_type IN ('Dependent', 'Independent')", name="link_type"),
    )


def _ends_fks(present: bool) -> None:
    """The links' child and parent foreign keys. They are set once, in stage 1, by a join on the
    batch's own objects (never deleted): each would cost a trigger and a row lock per link."""
    names = [f"fk_import_pending_links_{c}_import_pending_objects" for c in ("child_object_id", "parent_object_id")]
    if op.get_bind().dialect.name == "postgresql":
        for name, column in zip(names, ("child_object_id", "parent_object_id")):
            if present:
                op.create_foreign_key(name, "import_pending_links", "import_pending_objects", [column], ["id"])
            else:
                op.drop_constraint(name, "import_pending_links", type_="foreignkey")
        return
    # SQLite cannot drop a constraint: the table is copied into its new definition (without indexes).
    with op.batch_alter_table("import_pending_links", copy_from=_links(present), recreate="always"):
        pass
    for column in ("child_object_id", "parent_object_id"):
        op.create_index(f"ix_import_pending_links_{column}", "import_pending_links", [column])


def upgrade() -> None:
    _fillfactor(FILLFACTOR)
    op.drop_index("ix_import_pending_objects_batch_id_status", table_name="import_pending_objects")
    op.create_index("ix_import_pending_objects_batch_id_level", "import_pending_objects", ["batch_id", "level"])
    op.drop_index("ix_import_pending_links_batch_id_status", table_name="import_pending_links")
    for column in STEP_REFERENCES:
        op.drop_index(f"ix_import_awaiting_steps_{column}", table_name="import_awaiting_steps")
        _step_index(column, partial=True)
    op.drop_index("ix_import_awaiting_steps_batch_id_step", table_name="import_awaiting_steps")
    main = {f"{d}_where": sa.text("step = 'ImportBatchMain'") for d in ("postgresql", "sqlite")}
    op.create_index("ix_import_awaiting_steps_batch_id", "import_awaiting_steps", ["batch_id"], **main)
    _ends_fks(present=False)


def downgrade() -> None:
    _ends_fks(present=True)
    _fillfactor(100)
    op.drop_index("ix_import_awaiting_steps_batch_id", table_name="import_awaiting_steps")
    op.create_index("ix_import_awaiting_steps_batch_id_step", "import_awaiting_steps", ["batch_id", "step"])
    for column in STEP_REFERENCES:
        op.drop_index(f"ix_import_awaiting_steps_{column}", table_name="import_awaiting_steps")
        _step_index(column, partial=False)
    op.create_index("ix_import_pending_links_batch_id_status", "import_pending_links", ["batch_id", "status"])
    op.drop_index("ix_import_pending_objects_batch_id_level", table_name="import_pending_objects")
    op.create_index("ix_import_pending_objects_batch_id_status", "import_pending_objects", ["batch_id", "status"])
