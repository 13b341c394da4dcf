"""import_batches: the awaiting steps become a view over the statuses of pending objects and links

Waves follow the levels set in stage 1, so no step row is needed to find what is ready; the seed's
awaitingMultipleSteps stay readable as `import_awaiting_steps`, derived from the statuses: a step is
there while what it awaits is `awaiting` or `creating` (a batch in `error` has none). Nothing is saved
or deleted per object any more.

Revision ID: import_batches_0003
Revises: import_batches_0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipelines.core.database import IdType

revision = "import_batches_0003"
down_revision = "import_batches_0002"
branch_labels = None
depends_on = None

STEP_REFERENCES = ("waiting_object_id", "waiting_link_id", "awaited_object_id", "awaited_link_id")
OPEN = "IN ('awaiting', 'creating')"
NONE = "CAST(NULL AS BIGINT)"

AWAITING_STEPS_VIEW = f"""
CREATE VIEW import_awaiting_steps AS
SELECT l.batch_id, 'DependentPendingObject' AS step, l.child_object_id AS waiting_object_id,
       {NONE} AS waiting_link_id, l.parent_object_id AS awaited_object_id, {NONE} AS awaited_link_id
  FROM import_pending_links l JOIN import_pending_objects o ON o.id = l.parent_object_id
 WHERE l.link_type = 'Dependent' AND o.status {OPEN}
UNION ALL
SELECT l.batch_id, 'DependentPendingLink', {NONE}, l.id, l.child_object_id, {NONE}
  FROM import_pending_links l JOIN import_pending_objects o ON o.id = l.child_object_id
 WHERE l.link_type = 'Dependent' AND o.status {OPEN}
UNION ALL
SELECT l.batch_id, 'IndependentPendingLink', {NONE}, l.id, o.id, {NONE}
  FROM import_pending_links l JOIN import_pending_objects o ON o.id IN (l.child_object_id, l.parent_object_id)
 WHERE l.link_type = 'Independent' AND o.status {OPEN}
UNION ALL
SELECT batch_id, 'ImportBatchMain', {NONE}, {NONE}, id, {NONE} FROM import_pending_objects WHERE status {OPEN}
UNION ALL
SELECT batch_id, 'ImportBatchMain', {NONE}, {NONE}, {NONE}, id FROM import_pending_links WHERE status {OPEN}
"""


def upgrade() -> None:
    op.drop_table("import_awaiting_steps")
    op.execute(AWAITING_STEPS_VIEW)


def downgrade() -> None:
    """Back to the table of 0001 with the partial indexes of 0002 (empty: steps are saved in stage 1)."""
    op.execute("DROP VIEW import_awaiting_steps")
    op.create_table(
        "import_awaiting_steps",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("batch_id", IdType, nullable=False),
        sa.Column("step", sa.String(30), nullable=False),
        *(sa.Column(name, IdType, nullable=True) for name in STEP_REFERENCES),
        sa.CheckConstraint(
            "step IN ('DependentPendingObject', 'DependentPendingLink', 'IndependentPendingLink', "
            "'ImportBatchMain')",
            name="step",
        ),
    )
    for column in STEP_REFERENCES:
        filled = {f"{d}_where": sa.text(f"{column} IS NOT NULL") for d in ("postgresql", "sqlite")}
        op.create_index(f"ix_import_awaiting_steps_{column}", "import_awaiting_steps", [column], **filled)
    main = {f"{d}_where": sa.text("step = 'ImportBatchMain'") for d in ("postgresql", "sqlite")}
    op.create_index("ix_import_awaiting_steps_batch_id", "import_awaiting_steps", ["batch_id"], **main)
