"""import_batches: the pending objects' and links' statuses are derived, not rewritten

An object's `awaiting` / `creating` / `complete` follows from its level and its batch's waves: wave n
creates level n - 1, so an object is `complete` once `waves` (the last completed wave) passed its
level, `creating` while its wave is started (`wave_started`) and not completed, else `awaiting`; a
link follows its ends. A wave then changes one batch row and writes the created ids instead of
rewriting every object three times. A stored status is kept only for what the waves cannot say:
`error`, and `complete` for an object that already existed. The views `import_object_statuses` and
`import_link_statuses` give every object's and link's status; `import_awaiting_steps` (the seed's
awaitingMultipleSteps) reads them. The objects' `wave` column goes (it was always level + 1); the
links a wave creates (Independent, or Dependent created separately) get a `level`, that of their
later end, so a wave finds them by index.

Revision ID: import_batches_0004
Revises: import_batches_0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipelines.core.database import IdType, JSONType, metadata

revision = "import_batches_0004"
down_revision = "import_batches_0003"
branch_labels = None
depends_on = None

ITEM_STATUS = "status IN ('pending', 'awaiting', 'creating', 'complete', 'error')"
OPEN = "IN ('awaiting', 'creating')"
NONE = "CAST(NULL AS BIGINT)"
FINAL_OR_PENDING = "b.status IN ('pending', 'error', 'complete')"

OBJECT_STATUSES_VIEW = f"""
CREATE VIEW import_object_statuses AS
SELECT o.id AS object_id, o.batch_id,
       COALESCE(o.status, CASE WHEN {FINAL_OR_PENDING} THEN b.status
                               WHEN o.level < b.waves THEN 'complete'
                               WHEN o.level < b.wave_started THEN 'creating'
                               ELSE 'awaiting' END) AS status
  FROM import_pending_objects o JOIN import_batches b ON b.id = o.batch_id
"""

# A Dependent link (not created separately) completes with its child; the others once both ends are
# complete (they are created and completed in that wave's one transaction).
LINK_STATUSES_VIEW = f"""
CREATE VIEW import_link_statuses AS
SELECT l.id AS link_id, l.batch_id,
       COALESCE(l.status, CASE WHEN {FINAL_OR_PENDING} THEN b.status
                               WHEN c.status = 'complete'
                                    AND ((l.link_type = 'Dependent' AND NOT l.separate_dependent_link_create)
                                         OR p.status = 'complete') THEN 'complete'
                               ELSE 'awaiting' END) AS status
  FROM import_pending_links l JOIN import_batches b ON b.id = l.batch_id
  LEFT JOIN import_object_statuses c ON c.object_id = l.child_object_id
  LEFT JOIN import_object_statuses p ON p.object_id = l.parent_object_id
"""

AWAITING_STEPS_VIEW = f"""
CREATE VIEW import_awaiting_steps AS
SELECT l.batch_id, 'DependentPendingObject' AS step, l.child_object_id AS waiting_object_id,
       {NONE} AS waiting_link_id, l.parent_object_id AS awaited_object_id, {NONE} AS awaited_link_id
  FROM import_pending_links l JOIN import_object_statuses o ON o.object_id = l.parent_object_id
 WHERE l.link_type = 'Dependent' AND o.status {OPEN}
UNION ALL
SELECT l.batch_id, 'DependentPendingLink', {NONE}, l.id, l.child_object_id, {NONE}
  FROM import_pending_links l JOIN import_object_statuses o ON o.object_id = l.child_object_id
 WHERE l.link_type = 'Dependent' AND o.status {OPEN}
UNION ALL
SELECT l.batch_id, 'IndependentPendingLink', {NONE}, l.id, o.object_id, {NONE}
  FROM import_pending_links l
  JOIN import_object_statuses o ON o.object_id IN (l.child_object_id, l.parent_object_id)
 WHERE l.link_type = 'Independent' AND o.status {OPEN}
UNION ALL
SELECT batch_id, 'ImportBatchMain', {NONE}, {NONE}, object_id, {NONE} FROM import_object_statuses WHERE status {OPEN}
UNION ALL
SELECT batch_id, 'ImportBatchMain', {NONE}, {NONE}, {NONE}, link_id FROM import_link_statuses WHERE status {OPEN}
"""

OLD_AWAITING_STEPS_VIEW = f"""
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


def _pending_tables(derived: bool) -> tuple[sa.Table, sa.Table]:
    """The pending tables as they stand after 0003 (`derived` False) or after this revision."""
    own = sa.MetaData(naming_convention=metadata.naming_convention)
    sa.Table("import_batches", own, sa.Column("id", IdType, primary_key=True))
    wave = () if derived else (sa.Column("wave", sa.Integer, nullable=True),)
    pending_objects = sa.Table(
        "import_pending_objects",
        own,
        sa.Column("id", IdType, primary_key=True),
        sa.Column("batch_id", IdType, sa.ForeignKey("import_batches.id"), nullable=False),
        sa.Column("pending_object_id", sa.String(200), nullable=False),
        sa.Column("object_type", sa.String(50), nullable=False),
        sa.Column("natural_key", sa.String(400), nullable=False),
        sa.Column("fields", JSONType, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=derived),
        sa.Column("existed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("level", sa.Integer, nullable=True),
        *wave,
        sa.Column("target_id", IdType, nullable=True),
        sa.UniqueConstraint("batch_id", "pending_object_id"),
        sa.CheckConstraint(ITEM_STATUS, name="status"),
    )
    pending_links = sa.Table(
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
        sa.Column("status", sa.String(10), nullable=derived),
        sa.Column("child_object_id", IdType, nullable=True),
        sa.Column("parent_object_id", IdType, nullable=True),
        sa.Column("target_id", IdType, nullable=True),
        *((sa.Column("level", sa.Integer, nullable=True),) if derived else ()),
        sa.UniqueConstraint("batch_id", "pending_link_id"),
        sa.CheckConstraint(ITEM_STATUS, name="status"),
        sa.CheckConstraint("link_type IN ('Dependent', 'Independent')", name="link_type"),
    )
    return pending_objects, pending_links


def _reshape(derived: bool) -> None:
    """`status` nullable (derived) or not, `wave` gone or back."""
    if op.get_bind().dialect.name == "postgresql":
        for table in ("import_pending_objects", "import_pending_links"):
            op.alter_column(table, "status", nullable=derived, existing_type=sa.String(10))
        if derived:
            op.drop_column("import_pending_objects", "wave")
            op.add_column("import_pending_links", sa.Column("level", sa.Integer, nullable=True))
            _link_level_index()
        else:
            op.drop_index("ix_import_pending_links_batch_id_level", table_name="import_pending_links")
            op.drop_column("import_pending_links", "level")
            op.add_column("import_pending_objects", sa.Column("wave", sa.Integer, nullable=True))
        return
    # SQLite: each table is copied (from its current definition, which keeps its checks) into the new.
    pending_objects, pending_links = _pending_tables(derived=not derived)
    with op.batch_alter_table(pending_objects.name, copy_from=pending_objects, recreate="always") as table:
        table.alter_column("status", nullable=derived, existing_type=sa.String(10))
        if derived:
            table.drop_column("wave")
        else:
            table.add_column(sa.Column("wave", sa.Integer, nullable=True))
    with op.batch_alter_table(pending_links.name, copy_from=pending_links, recreate="always") as table:
        table.alter_column("status", nullable=derived, existing_type=sa.String(10))
        if derived:
            table.add_column(sa.Column("level", sa.Integer, nullable=True))
        else:
            table.drop_column("level")
    op.create_index("ix_import_pending_objects_batch_id_level", "import_pending_objects", ["batch_id", "level"])
    for column in ("child_object_id", "parent_object_id"):
        op.create_index(f"ix_import_pending_links_{column}", "import_pending_links", [column])
    if derived:
        _link_level_index()


def _link_level_index() -> None:
    """The links a wave creates (Independent, or created separately) by their level, set in stage 1;
    the others have none (nothing to index when they are loaded)."""
    where = {f"{d}_where": sa.text("level IS NOT NULL") for d in ("postgresql", "sqlite")}
    op.create_index("ix_import_pending_links_batch_id_level", "import_pending_links", ["batch_id", "level"], **where)


def upgrade() -> None:
    op.execute("DROP VIEW import_awaiting_steps")
    op.add_column("import_batches", sa.Column("wave_started", sa.Integer, nullable=False, server_default="0"))
    # A wave a killed run left started: its objects are `creating`.
    op.execute(
        "UPDATE import_batches SET wave_started = waves + CASE WHEN EXISTS (SELECT 1 FROM import_pending_objects o "
        "WHERE o.batch_id = import_batches.id AND o.status = 'creating') THEN 1 ELSE 0 END"
    )
    if op.get_bind().dialect.name == "postgresql":
        # The rows are written once after their COPY (the created ids): no room kept for rewrites.
        for table in ("import_pending_objects", "import_pending_links"):
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 100)")
    _reshape(derived=True)
    op.execute(
        "UPDATE import_pending_objects SET status = NULL "
        "WHERE status <> 'error' AND NOT (existed AND status = 'complete')"
    )
    op.execute("UPDATE import_pending_links SET status = NULL WHERE status <> 'error'")
    op.execute(
        "UPDATE import_pending_links SET level = (SELECT MAX(o.level) FROM import_pending_objects o "
        "WHERE o.id IN (import_pending_links.child_object_id, import_pending_links.parent_object_id)) "
        "WHERE link_type = 'Independent' OR separate_dependent_link_create"
    )
    op.execute(OBJECT_STATUSES_VIEW)
    op.execute(LINK_STATUSES_VIEW)
    op.execute(AWAITING_STEPS_VIEW)


def downgrade() -> None:
    """Statuses written out again from the views, `wave` from the levels, the view of 0003."""
    op.execute("DROP VIEW import_awaiting_steps")
    _reshape_back_statuses()
    op.execute("DROP VIEW import_link_statuses")
    op.execute("DROP VIEW import_object_statuses")
    _reshape(derived=False)
    op.execute("UPDATE import_pending_objects SET wave = level + 1 WHERE status IN ('creating', 'complete')")
    op.drop_column("import_batches", "wave_started")
    if op.get_bind().dialect.name == "postgresql":
        for table in ("import_pending_objects", "import_pending_links"):
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")
    op.execute(OLD_AWAITING_STEPS_VIEW)


def _reshape_back_statuses() -> None:
    op.execute(
        "UPDATE import_pending_objects SET status = (SELECT s.status FROM import_object_statuses s "
        "WHERE s.object_id = import_pending_objects.id) WHERE status IS NULL"
    )
    op.execute(
        "UPDATE import_pending_links SET status = (SELECT s.status FROM import_link_statuses s "
        "WHERE s.link_id = import_pending_links.id) WHERE status IS NULL"
    )
