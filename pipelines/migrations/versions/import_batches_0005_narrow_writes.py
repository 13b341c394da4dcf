"""import_batches: fewer writes per pending row (created ids apart, no foreign key to the batch);
repeated pendingObjectIds found in SQL

- `import_object_targets` (`object_id`, `target_id`): the catalog row of each pending object, written
  once when its wave creates it (or stage 1 finds it existing). It replaces the objects' `target_id`
  column: writing the id into the wide pending row made a new version of the whole row, with its JSON
  fields and its index entries, for every object (a sixth of a 100k-object batch).
- The pending objects and links lose their foreign key to `import_batches`: their rows are written only
  by their batch's load, in the transaction that claimed the batch's row, and batches are never
  deleted, so it guarded nothing; it cost a trigger and a lock of the batch's row per pending row
  (0.5 s of a 1.8 s load at 100k objects).
- The unique keys on `(batch_id, pending_object_id)` and `(batch_id, pending_link_id)` go: a repeated
  pendingObjectId or pendingLinkId is found by a query after the COPY, which names both lines (a unique
  key stopped the COPY itself, naming nothing), and the load's transaction rolls back; so the load no
  longer keeps every id it saw in memory. No statement looks a pending row up by its pending id (the
  links' ends are found by a hash join of the whole batch), so no index replaces them: each cost an
  index entry per row, 0.15 s of a 3.3 s import at 100k objects.
- A link's status reads its ends' statuses only while its batch is processing (scalar subqueries in
  the CASE, evaluated only when reached): counting the links of a finished batch joins nothing (it
  joined every link to both ends' statuses).
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

OBJECTS, LINKS = "import_pending_objects", "import_pending_links"
UNIQUE = "uq_import_pending_objects_batch_id_pending_object_id"
LINKS_UNIQUE = "uq_import_pending_links_batch_id_pending_link_id"
BY_LEVEL = "ix_import_pending_objects_batch_id_level"
BY_LEVEL_AND_TYPE = "ix_import_pending_objects_batch_id_level_object_type"
STATUS = "status IN ('pending', 'awaiting', 'creating', 'complete', 'error')"


FINAL_OR_PENDING = "b.status IN ('pending', 'error', 'complete')"


def _link_statuses_view(ends: str) -> str:
    """`import_link_statuses` with its ends' statuses read as `ends` says: "joined" (0004) or "lazy"."""
    if ends == "lazy":
        child, parent = (
            f"(SELECT s.status FROM import_object_statuses s WHERE s.object_id = l.{end}_object_id)"
            for end in ("child", "parent")
        )
        joins = ""
    else:
        child, parent = "c.status", "p.status"
        joins = """
  LEFT JOIN import_object_statuses c ON c.object_id = l.child_object_id
  LEFT JOIN import_object_statuses p ON p.object_id = l.parent_object_id"""
    return f"""
CREATE OR REPLACE VIEW import_link_statuses AS
SELECT l.id AS link_id, l.batch_id,
       COALESCE(l.status, CASE WHEN {FINAL_OR_PENDING} THEN b.status
                               WHEN {child} = 'complete'
                                    AND ((l.link_type = 'Dependent' AND NOT l.separate_dependent_link_create)
                                         OR {parent} = 'complete') THEN 'complete'
                               ELSE 'awaiting' END) AS status
  FROM import_pending_links l JOIN import_batches b ON b.id = l.batch_id{joins}
"""


def _replace_link_statuses(ends: str) -> None:
    """PostgreSQL replaces the view in place (the awaiting steps read it); SQLite drops and creates it."""
    view = _link_statuses_view(ends)
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP VIEW import_link_statuses")
        view = view.replace("CREATE OR REPLACE VIEW", "CREATE VIEW", 1)
    op.execute(view)


def _foreign_key(table: str) -> str:
    return f"fk_{table}_batch_id_import_batches"


def _batch_id(new: bool) -> sa.Column:
    return sa.Column("batch_id", IdType, *(() if new else (sa.ForeignKey("import_batches.id"),)), nullable=False)


def _pending_tables(new: bool) -> tuple[sa.Table, sa.Table]:
    """The pending tables as they stand after 0004 (`new` False) or after this revision (SQLite copies
    them into the other shape)."""
    own = sa.MetaData(naming_convention=metadata.naming_convention)
    sa.Table("import_batches", own, sa.Column("id", IdType, primary_key=True))
    old_objects = () if new else (sa.Column("target_id", IdType, nullable=True), sa.UniqueConstraint("batch_id", "pending_object_id"))
    pending_objects = sa.Table(
        OBJECTS,
        own,
        sa.Column("id", IdType, primary_key=True),
        _batch_id(new),
        sa.Column("pending_object_id", sa.String(200), nullable=False),
        sa.Column("object_type", sa.String(50), nullable=False),
        sa.Column("natural_key", sa.String(400), nullable=False),
        sa.Column("fields", JSONType, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=True),
        sa.Column("existed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("level", sa.Integer, nullable=True),
        *old_objects,
        sa.CheckConstraint(STATUS, name="status"),
    )
    pending_links = sa.Table(
        LINKS,
        own,
        sa.Column("id", IdType, primary_key=True),
        _batch_id(new),
        sa.Column("pending_link_id", sa.String(200), nullable=False),
        sa.Column("link_type", sa.String(12), nullable=False),
        sa.Column("link_tag", sa.String(50), nullable=False),
        sa.Column("object_id", sa.String(200), nullable=False),
        sa.Column("reference_id", sa.String(200), nullable=False),
        sa.Column("separate_dependent_link_create", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=True),
        sa.Column("child_object_id", IdType, nullable=True),
        sa.Column("parent_object_id", IdType, nullable=True),
        sa.Column("target_id", IdType, nullable=True),
        sa.Column("level", sa.Integer, nullable=True),
        *(() if new else (sa.UniqueConstraint("batch_id", "pending_link_id"),)),
        sa.CheckConstraint(STATUS, name="status"),
        sa.CheckConstraint("link_type IN ('Dependent', 'Independent')", name="link_type"),
    )
    return pending_objects, pending_links


@contextmanager
def _views_set_aside() -> Iterator[None]:
    """SQLite: the views are dropped while the tables are rebuilt (a RENAME checks every view, and they
    name a table gone by then) and created again from their own definitions."""
    views = op.get_bind().exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY rowid").all()
    for name, _ in reversed(views):
        op.execute(f'DROP VIEW "{name}"')
    yield
    for _, sql in views:
        op.execute(sql)


def _sqlite_rebuild(new: bool) -> None:
    """SQLite alters a table by copying it: both pending tables into the shape of `new`, then their
    indexes (a copy keeps none)."""
    pending_objects, pending_links = _pending_tables(new=not new)
    with _views_set_aside():
        with op.batch_alter_table(OBJECTS, copy_from=pending_objects, recreate="always") as table:
            _sqlite_foreign_key(table, OBJECTS, new)
            if new:
                table.drop_constraint(UNIQUE, type_="unique")
                table.drop_column("target_id")
            else:
                table.add_column(sa.Column("target_id", IdType, nullable=True))
                table.create_unique_constraint(UNIQUE, ["batch_id", "pending_object_id"])
        with op.batch_alter_table(LINKS, copy_from=pending_links, recreate="always") as table:
            _sqlite_foreign_key(table, LINKS, new)
            if new:
                table.drop_constraint(LINKS_UNIQUE, type_="unique")
            else:
                table.create_unique_constraint(LINKS_UNIQUE, ["batch_id", "pending_link_id"])
    for column in ("child_object_id", "parent_object_id"):
        op.create_index(f"ix_{LINKS}_{column}", LINKS, [column])
    where = {f"{d}_where": sa.text("level IS NOT NULL") for d in ("postgresql", "sqlite")}
    op.create_index(f"ix_{LINKS}_batch_id_level", LINKS, ["batch_id", "level"], **where)


def _sqlite_foreign_key(table: object, name: str, new: bool) -> None:
    if new:
        table.drop_constraint(_foreign_key(name), type_="foreignkey")
    else:
        table.create_foreign_key(_foreign_key(name), "import_batches", ["batch_id"], ["id"])


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
        for table in (OBJECTS, LINKS):
            op.drop_constraint(_foreign_key(table), table, type_="foreignkey")
        op.drop_constraint(UNIQUE, OBJECTS, type_="unique")
        op.drop_constraint(LINKS_UNIQUE, LINKS, type_="unique")
        op.drop_column(OBJECTS, "target_id")
        op.drop_index(BY_LEVEL, table_name=OBJECTS)
    else:
        _sqlite_rebuild(new=True)
    op.create_index(BY_LEVEL_AND_TYPE, OBJECTS, ["batch_id", "level", "object_type"])
    _replace_link_statuses("lazy")


def downgrade() -> None:
    _replace_link_statuses("joined")
    op.drop_index(BY_LEVEL_AND_TYPE, table_name=OBJECTS)
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(OBJECTS, sa.Column("target_id", IdType, nullable=True))
        op.create_unique_constraint(UNIQUE, OBJECTS, ["batch_id", "pending_object_id"])
        op.create_unique_constraint(LINKS_UNIQUE, LINKS, ["batch_id", "pending_link_id"])
        for table in (OBJECTS, LINKS):
            op.create_foreign_key(_foreign_key(table), table, "import_batches", ["batch_id"], ["id"])
    else:
        _sqlite_rebuild(new=False)
    op.create_index(BY_LEVEL, OBJECTS, ["batch_id", "level"])
    op.execute(
        f"UPDATE {OBJECTS} SET target_id = (SELECT t.target_id FROM import_object_targets t "
        f"WHERE t.object_id = {OBJECTS}.id)"
    )
    op.drop_table("import_object_targets")
