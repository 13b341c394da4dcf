"""import_batches: batches, pending objects, pending links and their awaiting steps

Constraint and index names come from the naming convention of `pipelines.core.database.metadata`.

Revision ID: import_batches_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipelines.core.database import IdType, JSONType, TZDateTime

revision = "import_batches_0001"
down_revision = None
branch_labels = ("import_batches",)
depends_on = None

ITEM_STATUS = "status IN ('pending', 'awaiting', 'creating', 'complete', 'error')"


def _batch_fk() -> sa.Column:
    return sa.Column("batch_id", IdType, sa.ForeignKey("import_batches.id"), nullable=False)


def _ref(column: str, target: str) -> sa.Column:
    return sa.Column(column, IdType, sa.ForeignKey(target), nullable=True, index=True)


def upgrade() -> None:
    op.create_table(
        "import_batches",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("batch_id", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("object_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("link_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("waves", sa.Integer, nullable=False, server_default="0"),
        sa.Column("errors", JSONType, nullable=True),
        sa.Column("created_at", TZDateTime, nullable=False, server_default=sa.func.current_timestamp()),
        sa.Column("updated_at", TZDateTime, nullable=True),
        sa.Column("finished_at", TZDateTime, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'processing', 'complete', 'error')", name="status"),
    )
    op.create_table(
        "import_pending_objects",
        sa.Column("id", IdType, primary_key=True),
        _batch_fk(),
        sa.Column("pending_object_id", sa.String(200), nullable=False),
        sa.Column("object_type", sa.String(50), nullable=False),
        sa.Column("natural_key", sa.String(400), nullable=False),
        sa.Column("fields", JSONType, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("existed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("level", sa.Integer, nullable=True),
        sa.Column("wave", sa.Integer, nullable=True),
        sa.Column("target_id", IdType, nullable=True),
        sa.UniqueConstraint("batch_id", "pending_object_id"),
        # The wave queries select a batch's objects by status.
        sa.Index(None, "batch_id", "status"),
        sa.CheckConstraint(ITEM_STATUS, name="status"),
    )
    op.create_table(
        "import_pending_links",
        sa.Column("id", IdType, primary_key=True),
        _batch_fk(),
        sa.Column("pending_link_id", sa.String(200), nullable=False),
        sa.Column("link_type", sa.String(12), nullable=False),
        sa.Column("link_tag", sa.String(50), nullable=False),
        sa.Column("object_id", sa.String(200), nullable=False),
        sa.Column("reference_id", sa.String(200), nullable=False),
        sa.Column("separate_dependent_link_create", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        _ref("child_object_id", "import_pending_objects.id"),
        _ref("parent_object_id", "import_pending_objects.id"),
        sa.Column("target_id", IdType, nullable=True),
        sa.UniqueConstraint("batch_id", "pending_link_id"),
        sa.Index(None, "batch_id", "status"),
        sa.CheckConstraint(ITEM_STATUS, name="status"),
        sa.CheckConstraint("link_type IN ('Dependent', 'Independent')", name="link_type"),
    )
    # Every reference is indexed: a wave deletes the steps awaiting its objects, and selects the
    # objects no step makes wait any more. No foreign keys: steps are saved and deleted by the hundred
    # thousand in one statement, and a foreign key costs a trigger per row.
    op.create_table(
        "import_awaiting_steps",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("batch_id", IdType, nullable=False),
        sa.Column("step", sa.String(30), nullable=False),
        *(
            sa.Column(name, IdType, nullable=True, index=True)
            for name in ("waiting_object_id", "waiting_link_id", "awaited_object_id", "awaited_link_id")
        ),
        sa.Index(None, "batch_id", "step"),
        sa.CheckConstraint(
            "step IN ('DependentPendingObject', 'DependentPendingLink', 'IndependentPendingLink', "
            "'ImportBatchMain')",
            name="step",
        ),
    )


def downgrade() -> None:
    for table in ("import_awaiting_steps", "import_pending_links", "import_pending_objects", "import_batches"):
        op.drop_table(table)
