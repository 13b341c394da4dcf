"""State of import batches: the batch (ImportBatchMain), its PendingObjectMain and PendingLink records,
and the seed's awaitingMultipleSteps as a view over them.

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
    sa.Column("waves", sa.Integer, nullable=False, server_default="0"),
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
    sa.Column("batch_id", IdType, sa.ForeignKey("import_batches.id"), nullable=False),
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
    # A wave selects its objects by level (set once, in stage 1); status, wave and target_id are not
    # indexed, so the per-wave updates touch no index (PostgreSQL keeps them on the page, HOT).
    sa.Index(None, "batch_id", "level"),
    sa.CheckConstraint(_in("status", ITEM_STATUSES), name="status"),
)

import_pending_links = sa.Table(
    "import_pending_links",
    metadata,
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
    # The ends: ids of the batch's own objects (never deleted), set once in stage 1 by a join on them.
    # No foreign keys: each would cost a trigger and a row lock per link (half of stage 1's time).
    sa.Column("child_object_id", IdType, nullable=True, index=True),
    sa.Column("parent_object_id", IdType, nullable=True, index=True),
    sa.Column("target_id", IdType, nullable=True),
    sa.UniqueConstraint("batch_id", "pending_link_id"),
    # No status index: a wave finds its links through their ends (child, parent), and their status
    # updates then touch no index (HOT).
    sa.CheckConstraint(_in("status", ITEM_STATUSES), name="status"),
    sa.CheckConstraint(_in("link_type", LINK_TYPES), name="link_type"),
)

# The seed's awaitingMultipleSteps, read from the view of that name (migration import_batches_0003): a
# step is there while what it awaits is `awaiting` or `creating`, so there is nothing to save or remove,
# and it can never disagree with the statuses. Declared apart from `metadata`: it is not a table.
import_awaiting_steps = sa.Table(
    "import_awaiting_steps",
    sa.MetaData(),
    sa.Column("batch_id", IdType),
    sa.Column("step", sa.String(30)),
    sa.Column("waiting_object_id", IdType),
    sa.Column("waiting_link_id", IdType),
    sa.Column("awaited_object_id", IdType),
    sa.Column("awaited_link_id", IdType),
)
