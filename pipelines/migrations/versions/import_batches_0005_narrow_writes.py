"""import_batches: the created ids in a narrow insert-only table; repeated pendingObjectIds found in SQL

- `import_object_targets` (`object_id`, `target_id`): the catalog row of each pending object, written
  once when its wave creates it (or stage 1 finds it existing). It replaces the objects' `target_id`
  column: writing the id into the wide pending row made a new version of the whole row, with its JSON
  fields and its index entries, for every object (a sixth of a 100k-object batch).
- The unique key on `(batch_id, pending_object_id)` becomes a plain index: a repeated pendingObjectId
  is found by a query after the COPY, which names both lines (the unique key stopped the COPY itself,
  naming nothing), and the load's transaction rolls back; so the load no longer keeps every id it saw in
  memory.
- The objects' index by level takes their type too: a wave creates its objects type by type, and the
  roots' level holds most of a batch (a scan of the whole batch per type, twice: the INSERT and the ids).

Revision ID: import_batches_0005
Revises: import_batches_0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

from pipelines.core.database import IdType, JSONType, metadata

revision = "import_batches_0005"
down_revision = "import_batches_0004"
branch_labels = None
depends_on = None

OBJECTS = "import_pending_objects"
UNIQUE = "uq_import_pending_objects_batch_id_pending_object_id"
BY_PENDING_ID = "ix_import_pending_objects_batch_id_pending_object_id"
BY_LEVEL = "ix_import_pending_objects_batch_id_level"
BY_LEVEL_AND_TYPE = "ix_import_pending_objects_batch_id_level_object_type"


def _pending_objects(narrow: bool) -> sa.Table:
    """`import_pending_objects` as it stands after 0004 (`narrow` False) or after this revision."""
    own = sa.MetaData(naming_convention=metadata.naming_convention)
    sa.Table("import_batches", own, sa.Column("id", IdType, primary_key=True))
    before = () if narrow else (sa.Column("target_id", IdType, nullable=True), sa.UniqueConstraint("batch_id", "pending_object_id"))
    return sa.Table(
        OBJECTS,
        own,
        sa.Column("id", IdType, primary_key=True),
        sa.Column("batch_id", IdType, sa.ForeignKey("import_batches.id"), nullable=False),
        sa.Column("pending_object_id", sa.String(200), nullable=False),
        sa.Column("object_type", sa.String(50), nullable=False),
        sa.Column("natural_key", sa.String(400), nullable=False),
        sa.Column("fields", JSONType, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=True),
        sa.Column("existed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("level", sa.Integer, nullable=True),
        *before,
        sa.CheckConstraint("status IN ('pending', 'awaiting', 'creating', 'complete', 'error')", name="status"),
    )


@contextmanager
def _views_set_aside() -> Iterator[None]:
    """SQLite: the views are dropped while the table is rebuilt (its RENAME checks every view, which
    name the table gone by then) and created again from their own definitions."""
    views = op.get_bind().exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY rowid").all()
    for name, _ in reversed(views):
        op.execute(f'DROP VIEW "{name}"')
    yield
    for _, sql in views:
        op.execute(sql)


def upgrade() -> None:
    op.create_table(
        "import_object_targets",
        sa.Column("object_id", IdType, primary_key=True),
        sa.Column("target_id", IdType, nullable=False),
    )
    op.execute(
        "INSERT INTO import_object_targets (object_id, target_id) "
        f"SELECT id, target_id FROM {OBJECTS} WHERE target_id IS NOT NULL"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(UNIQUE, OBJECTS, type_="unique")
        op.drop_column(OBJECTS, "target_id")
        op.drop_index(BY_LEVEL, table_name=OBJECTS)
    else:
        with _views_set_aside():
            with op.batch_alter_table(OBJECTS, copy_from=_pending_objects(narrow=False), recreate="always") as table:
                table.drop_constraint(UNIQUE, type_="unique")
                table.drop_column("target_id")
    op.create_index(BY_LEVEL_AND_TYPE, OBJECTS, ["batch_id", "level", "object_type"])
    op.create_index(BY_PENDING_ID, OBJECTS, ["batch_id", "pending_object_id"])


def downgrade() -> None:
    op.drop_index(BY_PENDING_ID, table_name=OBJECTS)
    op.drop_index(BY_LEVEL_AND_TYPE, table_name=OBJECTS)
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(OBJECTS, sa.Column("target_id", IdType, nullable=True))
        op.create_unique_constraint(UNIQUE, OBJECTS, ["batch_id", "pending_object_id"])
    else:
        with _views_set_aside():
            with op.batch_alter_table(OBJECTS, copy_from=_pending_objects(narrow=True), recreate="always") as table:
                table.add_column(sa.Column("target_id", IdType, nullable=True))
                table.create_unique_constraint(UNIQUE, ["batch_id", "pending_object_id"])
    op.create_index(BY_LEVEL, OBJECTS, ["batch_id", "level"])
    op.execute(
        f"UPDATE {OBJECTS} SET target_id = (SELECT t.target_id FROM import_object_targets t "
        f"WHERE t.object_id = {OBJECTS}.id)"
    )
    op.drop_table("import_object_targets")
