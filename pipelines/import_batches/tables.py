"""State of import batches: the batch (ImportBatchMain), its PendingObjectMain and PendingLink records,
their statuses and the seed's awaitingMultipleSteps as views over them.

Statuses are derived, not rewritten (migration import_batches_0004): wave n creates the objects of
level n - 1, so an object is `complete` once the batch's `waves` (completed) passed its level,
`creating` while its wave is started (`wave_started`) and not completed, `awaiting` before; a link is
`complete` with its child (a Dependent link) or once both ends are (the others). `pending`, `error`
and `complete` batches give their status to all they hold. Stored (`status` not NULL) only what the
waves cannot say: `error`, and `complete` for an object that already existed. Read them from the
views `import_object_statuses` and `import_link_statuses`.

An awaiting step says who waits (`waiting_object_id`, `waiting_link_id`, or the batch itself for
`ImportBatchMain`) for what (`awaited_object_id` or `awaited_link_id`); it is there while what it
awaits is `awaiting` or `creating`. The steps of the seed:

- `DependentPendingObject`: a child object waits for one of its Dependent parents;
- `DependentPendingLink`: a Dependent link waits for its child object;
- `IndependentPendingLink`: an Independent link waits for its child and its parent (two rows);
- `ImportBatchMain`: the batch waits for each of its objects and links.
"""

import sqlalchemy as sa

from pipelines.core.database import IdType, JSONType, TZDateTime, metadata
from pipelines.import_batches.requests import LINK_TYPES

# The pending rows name their batch by `batch_id` without a foreign key (migration import_batches_0005):
# they are written only by their batch's load, in the transaction that claimed the batch's row, and
# batches are never deleted; a foreign key guarded nothing and cost a trigger and a lock of the batch's
# row per pending row (a third of the load).
BATCH_STATUSES = ("pending", "processing", "complete", "error")
ITEM_STATUSES = ("pending", "awaiting", "creating", "complete", "error")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


import_batches = sa.Table(
    "import_batches",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("batch_id", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("object_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("link_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("waves", sa.Integer, nullable=False, server_default="0"),  # the last wave completed
    sa.Column("wave_started", sa.Integer, nullable=False, server_default="0"),  # waves, or the one under way
    sa.Column("errors", JSONType, nullable=True),
    sa.Column("created_at", TZDateTime, nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("updated_at", TZDateTime, nullable=True),
    sa.Column("finished_at", TZDateTime, nullable=True),
    sa.CheckConstraint(_in("status", BATCH_STATUSES), name="status"),
)

import_pending_objects = sa.Table(
    "import_pending_objects",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("batch_id", IdType, nullable=False),  # no foreign key (see above)
    sa.Column("pending_object_id", sa.String(200), nullable=False),
    sa.Column("object_type", sa.String(50), nullable=False),
    sa.Column("natural_key", sa.String(400), nullable=False),
    sa.Column("fields", JSONType, nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("status", sa.String(10), nullable=True),  # stored: `error`, or `complete` if it existed
    sa.Column("existed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("level", sa.Integer, nullable=True),  # 0 when loaded; set in stage 1 for objects with parents
    # `pending_object_id` is unique in a batch, and a link's `pending_link_id` too: checked by a query
    # after the COPY (which names both lines) in the load's transaction. A unique key would stop the COPY
    # itself, naming neither, and nothing looks a row up by its pending id (migration import_batches_0005).
    # A wave selects its objects by level (set once, in stage 1), type by type.
    sa.Index(None, "batch_id", "level", "object_type"),
    sa.CheckConstraint(_in("status", ITEM_STATUSES), name="status"),
)

# The catalog row of each pending object, written once, when its wave creates it or stage 1 finds it
# existing: a narrow row inserted, not a new version of the wide pending row (migration
# import_batches_0005). No foreign keys: the batch's objects are never deleted, and a trigger per row
# would cost what the narrow table saves.
import_object_targets = sa.Table(
    "import_object_targets",
    metadata,
    sa.Column("object_id", IdType, primary_key=True),
    sa.Column("target_id", IdType, nullable=False),
)

import_pending_links = sa.Table(
    "import_pending_links",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("batch_id", IdType, nullable=False),  # no foreign key (see above)
    sa.Column("pending_link_id", sa.String(200), nullable=False),
    sa.Column("link_type", sa.String(12), nullable=False),
    sa.Column("link_tag", sa.String(50), nullable=False),
    sa.Column("object_id", sa.String(200), nullable=False),
    sa.Column("reference_id", sa.String(200), nullable=False),
    sa.Column("separate_dependent_link_create", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("status", sa.String(10), nullable=True),  # stored: `error` only
    # The ends: ids of the batch's own objects (never deleted), written with the link by the load (a join
    # of the staged links on the batch's objects). No foreign keys: each would cost a trigger and a row
    # lock per link.
    sa.Column("child_object_id", IdType, nullable=True, index=True),
    sa.Column("parent_object_id", IdType, nullable=True, index=True),
    sa.Column("target_id", IdType, nullable=True),
    # Of a link a wave creates (Independent, or created separately): its later end's level, set in
    # stage 1; wave n creates the links of level n - 1.
    sa.Column("level", sa.Integer, nullable=True),
    sa.Index(
        None,
        "batch_id",
        "level",
        postgresql_where=sa.text("level IS NOT NULL"),
        sqlite_where=sa.text("level IS NOT NULL"),
    ),
    sa.CheckConstraint(_in("status", ITEM_STATUSES), name="status"),
    sa.CheckConstraint(_in("link_type", LINK_TYPES), name="link_type"),
)

# Views (migrations import_batches_0003, 0004), declared apart from `metadata`: they are not tables.
views = sa.MetaData()

import_object_statuses = sa.Table(
    "import_object_statuses",
    views,
    sa.Column("object_id", IdType),
    sa.Column("batch_id", IdType),
    sa.Column("status", sa.String(10)),
)

import_link_statuses = sa.Table(
    "import_link_statuses",
    views,
    sa.Column("link_id", IdType),
    sa.Column("batch_id", IdType),
    sa.Column("status", sa.String(10)),
)

# The seed's awaitingMultipleSteps: a step is there while what it awaits is `awaiting` or `creating`,
# so there is nothing to save or remove, and it can never disagree with the statuses.
import_awaiting_steps = sa.Table(
    "import_awaiting_steps",
    views,
    sa.Column("batch_id", IdType),
    sa.Column("step", sa.String(30)),
    sa.Column("waiting_object_id", IdType),
    sa.Column("waiting_link_id", IdType),
    sa.Column("awaited_object_id", IdType),
    sa.Column("awaited_link_id", IdType),
)
