"""Processing of an import batch, in the seed's three stages, in waves.

0. load: the batch's files are validated as a stream into `import_pending_objects` / `_links`.
1. `process_pending_links` (ProcessPendingLinks): count, resolve every link's ends, check its tag
   between the two types, find the objects that already exist, detect Dependent cycles; any error ends
   the batch in `error` with every error listed and nothing created. Otherwise each object has its
   level (0: no Dependent parent; n: every parent below n).
2. `process_pending_objects` (ProcessPendingObjects): the batch is `processing`; every object awaits.
3. `start_wave` / `run_wave` (PendingObjectComplete, for a whole wave at once): wave n takes the
   objects of level n - 1, whose Dependent parents all completed in the waves before: they are
   `creating` once the wave is started (committed), created in bulk by the creators (the existing ones
   are not), and `complete` with the wave; Dependent links complete with their child (or are created
   when `separateDependentLinkCreate`), Independent links are created once both ends are complete;
   when no level is left the batch is `complete`. Each wave is committed, so a killed run resumes at
   its last wave and sends its objects again (creators are idempotent by natural key).

Statuses are derived from the levels and the batch's waves (see `tables.py`): a wave writes one batch
row and the created ids, not every object's status. The seed's awaiting steps are the view
`import_awaiting_steps` over them: nothing is saved or deleted per object. Every statement works on a
set (a batch, a wave, a type): their number grows with levels and types, never with objects.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.database import Database, IdType, analyze, insert_skipping_conflicts, local_settings
from pipelines.core.object_store import ObjectStore
from pipelines.import_batches.batch_files import (
    LinkValidator,
    ObjectValidator,
    Problems,
    batch_keys,
    file_name,
    open_records,
)
from pipelines.import_batches.creators import ImportCreators, Registry
from pipelines.import_batches.errors import ImportBatchError
from pipelines.import_batches.requests import check_batch_id
from pipelines.import_batches.tables import ITEM_STATUSES
from pipelines.import_batches.tables import import_batches as batches
from pipelines.import_batches.tables import import_link_statuses as link_statuses
from pipelines.import_batches.tables import import_object_statuses as object_statuses
from pipelines.import_batches.tables import import_object_targets as targets
from pipelines.import_batches.tables import import_pending_links as links
from pipelines.import_batches.tables import import_pending_objects as objects

log = logging.getLogger(__name__)
LISTED = 20  # objects named in one cycle error
JOIN_WORK_MEM = "64MB"  # per hash of the links' ends' join (times hash_mem_multiplier); 1M objects take about 60 MiB


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class BatchState:
    """What `pipelines imports status` prints and the asset reports."""

    batch_id: str
    status: str
    object_count: int
    link_count: int
    waves: int
    objects: dict[str, int]
    links: dict[str, int]
    existing_objects: int
    errors: list[str]
    created_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "seconds"}
        for name in ("created_at", "finished_at"):
            data[name] = data[name].isoformat() if data[name] else None
        return data


@dataclass
class _Batch:
    pk: int
    batch_id: str
    status: str
    waves: int


def _get_batch(conn: Connection, batch_id: str, *, lock: bool = False) -> _Batch | None:
    select = sa.select(batches.c.id, batches.c.batch_id, batches.c.status, batches.c.waves).where(
        batches.c.batch_id == batch_id
    )
    row = conn.execute(select.with_for_update() if lock else select).first()
    return _Batch(*row) if row else None


def load_batch(database: Database, store: ObjectStore, batch_id: str, registry: Registry) -> None:
    """Validate the batch's files into pending rows (one transaction); invalid files: the batch is `error`.

    Nothing is kept per record, so memory does not grow with the batch: the records are validated one
    by one and copied as a stream; the repeats (a pendingObjectId, a natural key in a type, a
    pendingLinkId) are found by queries after each COPY, which name both lines; the links go through a
    temporary table and get the ids of their two ends by a join on the batch's objects (NULL for a name
    that is no object of the batch, reported in stage 1).

    The batch row is claimed first (INSERT ... ON CONFLICT DO NOTHING): a second run of the same new
    batch waits for the first's load to commit (PostgreSQL holds it on the unique key) and then finds
    the batch loaded, so the two are serialized, never an integrity error.
    """
    problems = Problems()
    counts = {"objects": 0, "links": 0}
    try:
        with database.begin() as conn:
            pk = conn.execute(
                insert_skipping_conflicts(conn, batches, ["batch_id"])
                .values(batch_id=batch_id, status="pending", updated_at=_now())
                .returning(batches.c.id)
            ).scalar()
            if pk is None:
                return  # another run loaded it meanwhile
            keys = batch_keys(store, batch_id)
            validator = ObjectValidator(registry, problems)
            with open_records(store, keys["objects"]) as records:
                rows = ((*row.values(), pk, 0) for r in records if (row := validator.row(r)) is not None)
                counts["objects"] = database.bulk_insert(
                    conn, objects, rows, columns=[*validator.columns, "batch_id", "level"]
                )
            # The repeats' and the links' ends' joins below are planned on these (loops, without them).
            analyze(conn, {objects: ("batch_id", "pending_object_id", "object_type", "natural_key")})
            _check_object_repeats(database, conn, pk, file_name(keys["objects"]), validator)
            problems.next_file()
            if "links" in keys:
                counts["links"] = _load_links(database, conn, pk, store, keys["links"], LinkValidator(registry, problems))
            if problems:
                raise _Rollback
            conn.execute(
                batches.update()
                .where(batches.c.id == pk)
                .values(object_count=counts["objects"], link_count=counts["links"])
            )
    except _Rollback:
        _record_failed_load(database, batch_id, problems.listed())
    except ImportBatchError as exc:  # a file that cannot be read at all (not CSV, no objects file, ...)
        _record_failed_load(database, batch_id, [str(exc)])


def _repeats(table: sa.Table, where: sa.ColumnElement[bool], *key: sa.Column) -> sa.Select:
    """The rows of `table` (`where`) whose `key` repeats an earlier line's: line, key, the first line; in
    the order of their lines."""
    firsts = (
        sa.select(*key, sa.func.min(table.c.line).label("first"))
        .where(where)
        .group_by(*key)
        .having(sa.func.count() > 1)
        .subquery("firsts")
    )
    return (
        sa.select(table.c.line, *key, firsts.c.first)
        .select_from(table.join(firsts, sa.and_(*(column == firsts.c[column.name] for column in key))))
        .where(where, table.c.line > firsts.c.first)
        .order_by(table.c.line)
    )


def _check_object_repeats(
    database: Database, conn: Connection, batch_pk: int, file: str, validator: ObjectValidator
) -> None:
    """A pendingObjectId, or a natural key in a type, that repeats an earlier line is a problem. A line
    that repeats a pendingObjectId is left out of the natural keys' check (as the validator once did,
    refusing it first): it is deleted, in a load that is rolled back anyway."""
    mine = objects.c.batch_id == batch_pk
    by_id = _repeats(objects, mine, objects.c.pending_object_id)
    repeated = False
    for part in database.stream(conn, by_id):
        for line, pending_id, first in part:
            validator.repeated_id(file, line, pending_id, first)
            repeated = True
    if repeated:  # a line is one record: (batch, line) names the row
        repeats = sa.select(by_id.order_by(None).subquery().c.line)
        conn.execute(objects.delete().where(mine, objects.c.line.in_(repeats)))
    for part in database.stream(conn, _repeats(objects, mine, objects.c.object_type, objects.c.natural_key)):
        for line, type_name, natural_key, first in part:
            validator.repeated_key(file, line, type_name, natural_key, first)


# The links are copied into a temporary table first (no index, not WAL-logged): their repeats are found
# there, and they reach `import_pending_links` by one INSERT ... SELECT that gives them the ids of their
# ends (a join on the batch's objects), written once instead of a COPY and then an UPDATE of every link.
_staged_links = sa.Table(
    "import_staged_links",
    sa.MetaData(),
    *(sa.Column(name, links.c[name].type) for name in LinkValidator.columns),
    prefixes=["TEMPORARY"],
)


def _load_links(
    database: Database, conn: Connection, batch_pk: int, store: ObjectStore, key: str, validator: LinkValidator
) -> int:
    """Copy the links file into the batch's pending links, each with the ids of its two ends; returns how
    many (none are written once the batch has problems: it is rolled back)."""
    staged = _staged_links
    staged.create(conn)
    with open_records(store, key) as records:
        rows = (tuple(row.values()) for r in records if (row := validator.row(r)) is not None)
        count = database.bulk_insert(conn, staged, rows, columns=list(validator.columns))
    file = file_name(key)
    for part in database.stream(conn, _repeats(staged, sa.true(), staged.c.pending_link_id)):
        for line, pending_id, first in part:
            validator.repeated_id(file, line, pending_id, first)
    if not validator.problems:
        child, parent = objects.alias("child"), objects.alias("parent")
        ends = staged.outerjoin(
            child, sa.and_(child.c.batch_id == batch_pk, child.c.pending_object_id == staged.c.object_id)
        ).outerjoin(parent, sa.and_(parent.c.batch_id == batch_pk, parent.c.pending_object_id == staged.c.reference_id))
        select = sa.select(*staged.c, child.c.id, parent.c.id, sa.literal(batch_pk, IdType)).select_from(ends)
        columns = [*validator.columns, "child_object_id", "parent_object_id", "batch_id"]
        # The two hashes of the objects (an id and a name each) held in memory: spilled in batches at 4 MB
        # (PostgreSQL's default), the join took a fifth of the INSERT at 1M objects.
        with local_settings(conn, work_mem=JOIN_WORK_MEM):
            conn.execute(links.insert().from_select(columns, select))
    staged.drop(conn)
    return count


def _record_failed_load(database: Database, batch_id: str, errors: list[str]) -> None:
    """The batch in `error` with its errors, and nothing of its files."""
    now = _now()
    with database.begin() as conn:
        conn.execute(
            insert_skipping_conflicts(conn, batches, ["batch_id"]).values(
                batch_id=batch_id, status="error", errors=errors, updated_at=now, finished_at=now
            )
        )


class _Rollback(Exception):
    pass


def process_pending_links(conn: Connection, batch: _Batch, creators: ImportCreators) -> list[str]:
    """Stage 1: check every link (its ends were looked up when it was loaded), find existing objects,
    level the objects and detect cycles; returns the errors.

    Without errors every object has its level (and, `processing`, is `awaiting` until its wave);
    with errors the caller marks the batch and everything in it `error`.
    """
    registry = creators.registry
    analyze(conn, _PLANNED)
    mine_links = links.c.batch_id == batch.pk
    errors: list[str] = []
    # The ends were looked up when the links were loaded: NULL names no object of the batch.
    for name, named, resolved in (
        ("objectId", links.c.object_id, links.c.child_object_id),
        ("referenceId", links.c.reference_id, links.c.parent_object_id),
    ):
        unresolved = conn.execute(
            sa.select(links.c.line, named).where(mine_links, resolved.is_(None)).order_by(links.c.line).limit(1000)
        )
        errors += [f"links line {line}: {name} {value!r} names no object of the batch" for line, value in unresolved]

    types = [t for (t,) in conn.execute(sa.select(objects.c.object_type).where(objects.c.batch_id == batch.pk).distinct())]
    for object_type in sorted(types):
        creators.find_existing(conn, batch.pk, object_type)

    errors += _check_link_kinds(conn, batch, registry)
    errors += _check_parents(conn, batch, registry)
    errors += _levels(conn, batch)
    return errors


# The columns the set-based statements filter and join on: statistics of the others (the JSON
# fields, the names) would cost most of the sampling and guide no plan.
_PLANNED = {
    objects: ("batch_id", "pending_object_id", "object_type", "existed", "level"),
    links: ("batch_id", "link_type", "link_tag", "separate_dependent_link_create", "child_object_id", "parent_object_id"),
}


def _check_link_kinds(conn: Connection, batch: _Batch, registry: Registry) -> list[str]:
    """Each (tag, child type, parent type, link type, separate) combination once, against the registry."""
    child, parent = objects.alias("child"), objects.alias("parent")
    combos = conn.execute(
        sa.select(
            links.c.link_tag,
            child.c.object_type,
            parent.c.object_type,
            links.c.link_type,
            links.c.separate_dependent_link_create,
            sa.func.min(links.c.line),
            sa.func.count(),
        )
        .select_from(
            links.join(child, child.c.id == links.c.child_object_id).join(parent, parent.c.id == links.c.parent_object_id)
        )
        .where(links.c.batch_id == batch.pk)
        .group_by(
            links.c.link_tag,
            child.c.object_type,
            parent.c.object_type,
            links.c.link_type,
            links.c.separate_dependent_link_create,
        )
        .order_by(sa.func.min(links.c.line))
    )
    errors = []
    for tag_name, child_type, parent_type, link_type, separate, line, count in combos:
        tag = registry.link_tags[tag_name]
        where = f"links line {line}" + (f" (and {count - 1} more)" if count > 1 else "")
        if (child_type, parent_type) != (tag.child_type, tag.parent_type):
            errors.append(
                f"{where}: linkTag {tag_name!r} is not allowed from a {child_type} (child) to a {parent_type} "
                f"(parent); it links a {tag.child_type} child to a {tag.parent_type} parent"
            )
        elif link_type not in tag.link_types:
            errors.append(f"{where}: linkTag {tag_name!r} must be {' or '.join(tag.link_types)}, not {link_type!r}")
        elif separate and not (link_type == "Dependent" and tag.separable):
            errors.append(
                f"{where}: separateDependentLinkCreate true is not allowed for a {link_type} {tag_name!r} link"
            )
    return errors


def _check_parents(conn: Connection, batch: _Batch, registry: Registry) -> list[str]:
    """New objects have their required parents (once each); existing ones take no Dependent link
    unless it is created separately (the seed: 'if separateDependentLinkCreate false and child exist')."""
    errors = []
    child = objects.alias("child")
    dependent_on_existing = conn.execute(
        sa.select(links.c.line, links.c.object_id, child.c.object_type)
        .select_from(links.join(child, child.c.id == links.c.child_object_id))
        .where(
            links.c.batch_id == batch.pk,
            links.c.link_type == "Dependent",
            links.c.separate_dependent_link_create.is_(False),
            child.c.existed.is_(True),
        )
        .order_by(links.c.line)
        .limit(1000)
    )
    errors += [
        f"links line {line}: objectId {child_id!r} already exists as a {object_type}; a Dependent link to an "
        "existing object needs separateDependentLinkCreate true"
        for line, child_id, object_type in dependent_on_existing
    ]
    errors += _lacking_required_links(conn, batch, registry)
    repeated = conn.execute(
        sa.select(sa.func.min(links.c.line), links.c.object_id, links.c.link_tag, sa.func.count())
        .where(links.c.batch_id == batch.pk, links.c.link_tag.in_(registry.column_tags))
        .group_by(links.c.child_object_id, links.c.object_id, links.c.link_tag)
        .having(sa.func.count() > 1)
        .order_by(sa.func.min(links.c.line))
        .limit(1000)
    )
    errors += [
        f"links line {line}: objectId {child_id!r} has {count} {tag!r} links; it takes one"
        for line, child_id, tag, count in repeated
    ]
    return errors


def _lacking_required_links(conn: Connection, batch: _Batch, registry: Registry) -> list[str]:
    """New objects without a link of a tag their type requires, up to 1000 per tag: one pass over the
    links for every tag (a query per tag read them once each)."""
    required = [tag for tag in registry.link_tags.values() if tag.required]
    if not required:
        return []
    tags = sa.union_all(
        *(
            sa.select(sa.literal(n).label("n"), sa.literal(t.name).label("tag"), sa.literal(t.child_type).label("child_type"))
            for n, t in enumerate(required)
        )
    ).subquery("required")
    has_link = (
        sa.select(links.c.id).where(links.c.child_object_id == objects.c.id, links.c.link_tag == tags.c.tag).exists()
    )
    lacking = (
        sa.select(
            tags.c.n,
            tags.c.tag,
            objects.c.object_type,
            objects.c.line,
            objects.c.pending_object_id,
            sa.func.row_number().over(partition_by=tags.c.n, order_by=objects.c.line).label("k"),
        )
        .select_from(objects.join(tags, objects.c.object_type == tags.c.child_type))
        .where(objects.c.batch_id == batch.pk, objects.c.existed.is_(False), ~has_link)
        .subquery("lacking")
    )
    listed = conn.execute(
        sa.select(lacking.c.tag, lacking.c.object_type, lacking.c.line, lacking.c.pending_object_id)
        .where(lacking.c.k <= 1000)
        .order_by(lacking.c.n, lacking.c.line)
    )
    return [
        f"objects line {line}: {object_type} {pending_id!r} has no {tag!r} link (required to create it)"
        for tag, object_type, line, pending_id in listed
    ]


# Levels are worked out on a narrow temporary table of the objects that have a Dependent parent (not
# WAL-logged), then written to the pending objects in one UPDATE. `waiting`: how many of the object's
# Dependent links have a parent that is itself in the table (not yet leveled).
_leveling = sa.Table(
    "import_leveling",
    sa.MetaData(),
    sa.Column("object_id", IdType, primary_key=True),
    sa.Column("level", sa.Integer, nullable=True),
    sa.Column("waiting", sa.Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


def _levels(conn: Connection, batch: _Batch) -> list[str]:
    """Level of each object: 0 without Dependent parent, else one more than its highest parent's.

    Level by level, as Kahn's topological sort: an object is at level 1 when none of its parents has
    a parent itself; the children of the objects given level n - 1 count those links off their
    `waiting`, and those left waiting for none are at level n. Each pass touches only the children of
    the level just set, through the parents' index. Objects left without a level wait, directly or
    not, on themselves: a cycle, reported as an error before anything is created (the waves would
    otherwise stop with objects still awaiting).
    """
    dependent = sa.and_(
        links.c.batch_id == batch.pk, links.c.link_type == "Dependent", links.c.child_object_id.is_not(None)
    )
    children = sa.select(links.c.child_object_id.label("object_id")).where(dependent).distinct().subquery("children")
    waiting = (
        sa.select(links.c.child_object_id, sa.func.count(children.c.object_id))
        .select_from(links.outerjoin(children, children.c.object_id == links.c.parent_object_id))
        .where(dependent)
        .group_by(links.c.child_object_id)
    )
    _leveling.create(conn)
    conn.execute(_leveling.insert().from_select(["object_id", "waiting"], waiting))
    analyze(conn, {_leveling: ()})
    conn.execute(_leveling.update().where(_leveling.c.waiting == 0).values(level=1))
    parent = _leveling.alias("parent")
    level = 1
    while conn.scalar(sa.select(_leveling.c.object_id).where(_leveling.c.level == level).limit(1)) is not None:
        # The links from the parents just leveled (none of them is updated here: a child of level
        # n - 1 objects is not at n - 1 itself), counted per child.
        released = (
            sa.select(links.c.child_object_id.label("object_id"), sa.func.count().label("links"))
            .select_from(links.join(parent, parent.c.object_id == links.c.parent_object_id))
            .where(parent.c.level == level, links.c.link_type == "Dependent")
            .group_by(links.c.child_object_id)
            .subquery("released")
        )
        level += 1
        conn.execute(
            _leveling.update()
            .where(_leveling.c.object_id == released.c.object_id)
            .values(
                waiting=_leveling.c.waiting - released.c.links,
                level=sa.case((_leveling.c.waiting == released.c.links, level)),
            )
        )
    stuck = conn.execute(
        sa.select(objects.c.line, objects.c.pending_object_id)
        .select_from(objects.join(_leveling, _leveling.c.object_id == objects.c.id))
        .where(_leveling.c.level.is_(None))
        .order_by(objects.c.line)
        .limit(LISTED + 1)
    ).all()
    if not stuck:
        # Only the objects with a parent are written (loaded at level 0); one that existed waits for its
        # parents like the others (its stored `complete` goes).
        # UPDATE ... FROM the leveling table (a join, not a lookup per object).
        conn.execute(
            objects.update()
            .where(objects.c.batch_id == batch.pk, objects.c.id == _leveling.c.object_id)
            .values(level=_leveling.c.level, status=None)
        )
        _level_links_created_apart(conn, batch)
    _leveling.drop(conn)
    if not stuck:
        return []
    named = ", ".join(f"{pid!r} (objects line {line})" for line, pid in stuck[:LISTED])
    more = " and more" if len(stuck) > LISTED else ""
    return [f"cycle: Dependent links make these objects wait, directly or not, on themselves: {named}{more}"]


def _level_links_created_apart(conn: Connection, batch: _Batch) -> None:
    """A link created apart (Independent, or Dependent created separately) gets the level of its later
    end: it is created in that end's wave, once both are complete."""
    child, parent = objects.alias("child"), objects.alias("parent")
    conn.execute(
        links.update()
        .where(
            links.c.batch_id == batch.pk,
            sa.or_(links.c.link_type == "Independent", links.c.separate_dependent_link_create.is_(True)),
            child.c.id == links.c.child_object_id,
            parent.c.id == links.c.parent_object_id,
        )
        .values(level=sa.case((child.c.level >= parent.c.level, child.c.level), else_=parent.c.level))
    )


def process_pending_objects(conn: Connection, batch: _Batch) -> None:
    """Stage 2: the batch is `processing`, so every object is `awaiting` its wave (its level + 1), and
    the waves complete the existing objects and create the others, parents first."""
    conn.execute(batches.update().where(batches.c.id == batch.pk).values(status="processing", updated_at=_now()))
    batch.status = "processing"


def lock_batch(conn: Connection, batch: _Batch) -> bool:
    """Lock the batch's row for this transaction (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE
    already serializes writers) and refresh its status and waves; True while it is processing."""
    status, waves = conn.execute(
        sa.select(batches.c.status, batches.c.waves).where(batches.c.id == batch.pk).with_for_update()
    ).one()
    batch.status, batch.waves = status, waves
    return status == "processing"


def start_wave(conn: Connection, batch: _Batch) -> None:
    """Start the next wave: its objects (the next level) are `creating` once this commits; one row
    changes, the batch's. A wave a killed run started is started again as it is."""
    if lock_batch(conn, batch):
        number = batch.waves + 1
        conn.execute(batches.update().where(batches.c.id == batch.pk).values(wave_started=number, updated_at=_now()))


def run_wave(conn: Connection, batch: _Batch, creators: ImportCreators) -> tuple[bool, int]:
    """Stage 3 for the started wave: create its objects, then the links it releases; the wave is
    complete when this commits (`waves`), and with it its objects and links. Returns whether the batch
    is done, and how many objects the wave held."""
    if not lock_batch(conn, batch):
        return True, 0
    wave = creators.wave(conn, batch.pk, batch.batch_id, batch.waves + 1)
    this_wave = wave.objects_of_wave()
    held = conn.execute(
        sa.select(objects.c.object_type, objects.c.existed, sa.func.count())
        .where(this_wave)
        .group_by(objects.c.object_type, objects.c.existed)
    ).all()
    for object_type in sorted({object_type for object_type, existed, _ in held if not existed}):
        creators.create_objects(wave, object_type)
    recorded = sa.select(targets.c.object_id).where(targets.c.object_id == objects.c.id).exists()
    uncreated = conn.execute(
        sa.select(objects.c.line, objects.c.pending_object_id).where(this_wave, ~recorded).limit(5)
    ).all()
    if uncreated:
        named = ", ".join(f"{pid!r} (objects line {line})" for line, pid in uncreated)
        raise ImportBatchError(f"batch {batch.batch_id}: the creators did not create {named}")
    # A Dependent link (not created separately) completes with its child: nothing to do. The others
    # are created once both ends are complete, in the wave of the later end.
    tags = [tag for (tag,) in conn.execute(sa.select(links.c.link_tag).where(wave.links_of_wave()).distinct())]
    for tag in sorted(tags):
        creators.create_links(wave, tag)

    done = not _awaits_more(conn, batch, wave.number)
    now = _now()
    values: dict[str, Any] = {"waves": wave.number, "wave_started": wave.number, "updated_at": now}
    if done:
        values.update(status="complete", finished_at=now)
    conn.execute(batches.update().where(batches.c.id == batch.pk).values(values))
    batch.waves = wave.number
    return done, sum(count for _, _, count in held)


def _awaits_more(conn: Connection, batch: _Batch, wave_number: int) -> bool:
    """Is a level left for the next waves? (Every link is created in the wave of its later end.)"""
    later = sa.select(objects.c.id).where(objects.c.batch_id == batch.pk, objects.c.level >= wave_number)
    return conn.scalar(later.limit(1)) is not None


def _fail(conn: Connection, batch: _Batch, errors: list[str]) -> None:
    now = _now()
    conn.execute(objects.update().where(objects.c.batch_id == batch.pk).values(status="error"))
    conn.execute(links.update().where(links.c.batch_id == batch.pk).values(status="error"))
    conn.execute(
        batches.update()
        .where(batches.c.id == batch.pk)
        .values(status="error", errors=errors, updated_at=now, finished_at=now)
    )


def process_batch(
    database: Database,
    store: ObjectStore,
    batch_id: str,
    creators: ImportCreators | None = None,
    *,
    on_wave: Callable[[int, int], None] | None = None,
) -> BatchState:
    """Load (first time), then run the batch to `complete` or `error`; resumes where a run stopped."""
    started = time.monotonic()
    creators = creators or ImportCreators()
    check_batch_id(batch_id)
    with database.begin() as conn:
        batch = _get_batch(conn, batch_id)
    if batch is None:
        load_batch(database, store, batch_id, creators.registry)
    with database.begin() as conn:
        batch = _get_batch(conn, batch_id, lock=True)  # a concurrent run waits here for stage 1
        assert batch is not None
        if batch.status == "pending":
            errors = process_pending_links(conn, batch, creators)
            if errors:
                _fail(conn, batch, errors)
            else:
                process_pending_objects(conn, batch)
    while batch.status == "processing":
        with database.begin() as conn:
            start_wave(conn, batch)
        with database.begin() as conn:
            done, selected = run_wave(conn, batch, creators)
        log.info("batch %s wave %d: %d objects", batch_id, batch.waves, selected)
        if on_wave is not None:
            on_wave(batch.waves, selected)
        if done:
            break
        if not selected:
            with database.begin() as conn:
                _fail(conn, batch, [f"batch {batch_id}: objects still await parents that never complete"])
            break
    state = batch_state(database, batch_id)
    state.seconds = time.monotonic() - started
    return state


def batch_state(database: Database, batch_id: str) -> BatchState:
    """The batch's status, counts per status of its objects and links, and its errors."""
    with database.begin() as conn:
        row = conn.execute(sa.select(batches).where(batches.c.batch_id == check_batch_id(batch_id))).first()
        if row is None:
            raise ImportBatchError(f"batch {batch_id!r} is unknown: submit it with `pipelines imports submit DIR`")
        per_status = {}
        # A finished batch's links read no object (see the view): its estimate, not its work, would
        # have PostgreSQL compile it (0.2 s of JIT for 30 ms of work at 100k links).
        with local_settings(conn, jit="off"):
            for name, table in (("objects", object_statuses), ("links", link_statuses)):
                counted = Counter(
                    dict(conn.execute(sa.select(table.c.status, sa.func.count()).where(table.c.batch_id == row.id).group_by(table.c.status)).all())
                )
                per_status[name] = {status: counted.get(status, 0) for status in ITEM_STATUSES}
        existing = conn.scalar(
            sa.select(sa.func.count()).where(objects.c.batch_id == row.id, objects.c.existed.is_(True))
        )
    return BatchState(
        batch_id=row.batch_id,
        status=row.status,
        object_count=row.object_count,
        link_count=row.link_count,
        waves=row.waves,
        objects=per_status["objects"],
        links=per_status["links"],
        existing_objects=existing or 0,
        errors=list(row.errors or []),
        created_at=row.created_at,
        finished_at=row.finished_at,
    )
