"""What an import batch may hold and who creates it: the registry of object types and link tags, and
the creators resource (one method per object type and per link tag).

The default creators write the posture catalog. Every method works on a whole wave at once (set-based
SQL: one INSERT ... SELECT ... ON CONFLICT DO NOTHING of the wave's pending rows, then one INSERT of the
created ids into `import_object_targets`), so the number of statements grows with the waves and the
types in a batch, not with its objects.
Creation is idempotent by natural key (service name; component, boundary and responsibility slug;
component instance name; a CI-to-responsibility link by its pair), so a wave that was killed half way is
simply sent again. Rows created here carry `created_by = 'import-batch:<batch_id>'`; the posture
aggregate excludes only 'lite-import-script', so imported catalog rows count like any other.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg
import sqlalchemy as sa
from pydantic import Field, TypeAdapter
from sqlalchemy.engine import Connection

from pipelines.core.database import insert_skipping_conflicts
from pipelines.import_batches import requests
from pipelines.import_batches.requests import object_fields, object_type_name, objects_adapter
from pipelines.import_batches.tables import import_object_targets as targets
from pipelines.import_batches.tables import import_pending_links as links
from pipelines.import_batches.tables import import_pending_objects as objects
from pipelines.posture import tables as catalog

CREATED_BY_PREFIX = "import-batch"


@dataclass(frozen=True)
class ObjectType:
    """A type of pending object: its target table and its row (`requests.py`), which gives its name
    (`objectType`), its fields and their bounds; the first field is the natural key."""

    table: sa.Table
    record: type

    @functools.cached_property
    def name(self) -> str:
        return object_type_name(self.record)

    @functools.cached_property
    def fields(self) -> tuple[str, ...]:
        return object_fields(self.record)

    @functools.cached_property
    def key(self) -> str:
        return self.fields[0]


@dataclass(frozen=True)
class LinkTag:
    """An allowed link between a child type and a parent type.

    `column`: the child's column that holds the parent's id (a Dependent link completes with its child,
    or sets that column itself when `separateDependentLinkCreate`); None for a link that is its own row.
    """

    name: str
    child_type: str
    parent_type: str
    link_types: tuple[str, ...]
    column: str | None = None
    required: bool = False
    separable: bool = False


@dataclass(frozen=True)
class Registry:
    object_types: Mapping[str, ObjectType]
    link_tags: Mapping[str, LinkTag]
    column_tags: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_tags", tuple(t.name for t in self.link_tags.values() if t.column))

    @functools.cached_property
    def object_rows(self) -> TypeAdapter:
        """The validator of the `objects` rows of these types."""
        return objects_adapter(tuple(t.record for t in self.object_types.values()))

    def tags_of_child(self, object_type: str) -> list[LinkTag]:
        return [t for t in self.link_tags.values() if t.child_type == object_type and t.column]


def _types(*types: ObjectType) -> dict[str, ObjectType]:
    return {t.name: t for t in types}


def _tags(*tags: LinkTag) -> dict[str, LinkTag]:
    return {t.name: t for t in tags}


REGISTRY = Registry(
    object_types=_types(
        ObjectType(catalog.services, requests.ServiceObject),
        ObjectType(catalog.components, requests.ComponentObject),
        ObjectType(catalog.boundaries, requests.BoundaryObject),
        ObjectType(catalog.responsibilities, requests.ResponsibilityObject),
        ObjectType(catalog.component_instances, requests.ComponentInstanceObject),
    ),
    link_tags=_tags(
        LinkTag("ci_service", "component_instance", "service", ("Dependent",), "service_id", required=True),
        LinkTag("ci_component", "component_instance", "component", ("Dependent",), "component_id", required=True),
        LinkTag("ci_boundary", "component_instance", "boundary", ("Dependent",), "boundary_id", required=True),
        LinkTag("ci_parent", "component_instance", "component_instance", ("Dependent",), "parent_id", separable=True),
        LinkTag("ci_responsibility", "component_instance", "responsibility", ("Independent",)),
    ),
)


@dataclass
class Wave:
    """What a creator method gets: the batch, the wave, and the transaction to write in.

    A creator creates every pending object of its type (or link of its tag) of this wave that did not
    exist before (`creating_objects`, `creating_links`), and records the created ids: an object's in
    `import_object_targets` (`record_target_ids`), a link's in its `target_id`.
    """

    conn: Connection
    batch_pk: int
    batch_id: str
    number: int
    created_by_prefix: str = CREATED_BY_PREFIX

    @property
    def created_by(self) -> str:
        return f"{self.created_by_prefix}:{self.batch_id}"

    def objects_of_wave(self) -> sa.ColumnElement[bool]:
        """The wave's pending objects: wave n takes exactly the objects of level n - 1 (their parents,
        of lower levels, completed in the waves before); the level is indexed and set once."""
        return sa.and_(objects.c.batch_id == self.batch_pk, objects.c.level == self.number - 1)

    def creating_objects(self, object_type: str) -> sa.ColumnElement[bool]:
        """The wave's objects of one type to create (those that existed are complete already)."""
        return sa.and_(self.objects_of_wave(), objects.c.object_type == object_type, objects.c.existed.is_(False))

    def links_of_wave(self) -> sa.ColumnElement[bool]:
        """The links this wave creates (Independent, or Dependent created separately): those whose later
        end is in the wave (their level, set in stage 1)."""
        return sa.and_(links.c.batch_id == self.batch_pk, links.c.level == self.number - 1)

    def creating_links(self, link_tag: str) -> sa.ColumnElement[bool]:
        return sa.and_(self.links_of_wave(), links.c.link_tag == link_tag)


def create_objects(wave: Wave, object_type: ObjectType, registry: Registry = REGISTRY) -> None:
    """INSERT the wave's objects of one type (those already in the target are skipped by their natural
    key), then record every id in one INSERT (`record_target_ids`).

    The parents' ids come from one pass over the objects' Dependent links (not created separately) and
    the parents' recorded ids, one column per tag: a LEFT JOIN grouped by object, not a subquery per
    object and tag.
    """
    table = object_type.table
    mine = wave.creating_objects(object_type.name)
    tags = registry.tags_of_child(object_type.name)
    fields = {name: objects.c.fields[name].as_string() for name in object_type.fields}
    columns = {name: sa.func.min(value) for name, value in fields.items()} if tags else dict(fields)
    source: sa.FromClause = objects
    if tags:
        parent = targets.alias("parent")
        dependent = links.alias("dependent")
        source = objects.outerjoin(
            dependent,
            sa.and_(
                dependent.c.child_object_id == objects.c.id,
                dependent.c.link_type == "Dependent",
                dependent.c.separate_dependent_link_create.is_(False),
            ),
        ).outerjoin(parent, parent.c.object_id == dependent.c.parent_object_id)
        for tag in tags:  # one link per tag and child (checked in stage 1)
            columns[tag.column] = sa.func.max(sa.case((dependent.c.link_tag == tag.name, parent.c.target_id)))
    if "created_by" in table.c:
        columns["created_by"] = sa.literal(wave.created_by, sa.String)
    select = sa.select(*columns.values()).select_from(source).where(mine)
    if tags:
        select = select.group_by(objects.c.id)
    insert_missing(wave.conn, table, object_type.key, list(columns), select)
    record_target_ids(wave.conn, object_type, mine)


def insert_missing(
    conn: Connection, table: sa.Table, key: str, columns: list[str], select: sa.Select
) -> None:
    """INSERT ... SELECT that skips the rows whose natural key (a unique column) is already there.

    ON CONFLICT DO NOTHING on both backends: the unique index is probed anyway, and an anti-join on the
    target would be planned on stale statistics (a loop over a table that grows with each wave).
    """
    conn.execute(insert_skipping_conflicts(conn, table, [key]).from_select(columns, select))


def record_target_ids(conn: Connection, object_type: ObjectType, where: sa.ColumnElement[bool]) -> int:
    """Record the target row of the selected pending objects (found by their natural key) in
    `import_object_targets`: the one write of a created object after its load, a narrow row inserted
    (its status follows from the wave)."""
    table = object_type.table
    found = (
        sa.select(objects.c.id, table.c.id)
        .select_from(objects.join(table, table.c[object_type.key] == objects.c.natural_key))
        .where(where)
    )
    return conn.execute(targets.insert().from_select(["object_id", "target_id"], found)).rowcount


def find_existing(conn: Connection, batch_pk: int, object_type: ObjectType) -> int:
    """Mark the batch's objects of one type that already exist in the target (`existed`, their id
    recorded); they are `complete` (stored: the waves would say `creating`), unless a parent makes them
    wait (stage 1's levels then clear it)."""
    table = object_type.table
    found = sa.select(table.c.id).where(table.c[object_type.key] == objects.c.natural_key)
    mine = sa.and_(objects.c.batch_id == batch_pk, objects.c.object_type == object_type.name)
    statement = objects.update().where(mine, found.exists()).values(existed=True, status="complete")
    if not conn.execute(statement).rowcount:
        return 0
    return record_target_ids(conn, object_type, sa.and_(mine, objects.c.existed.is_(True)))


def _link_ends() -> tuple[sa.FromClause, sa.FromClause, sa.FromClause]:
    """The links with the recorded ids of their two ends (`child.c.target_id`, `parent.c.target_id`)."""
    child, parent = targets.alias("child"), targets.alias("parent")
    joined = links.join(child, child.c.object_id == links.c.child_object_id).join(
        parent, parent.c.object_id == links.c.parent_object_id
    )
    return joined, child, parent


def set_parent_column(wave: Wave, tag: LinkTag, registry: Registry = REGISTRY) -> None:
    """A Dependent link created separately: set the child's column to its parent's id."""
    table = registry.object_types[tag.child_type].table
    joined, child, parent = _link_ends()
    mine = wave.creating_links(tag.name)
    parent_of = (
        sa.select(parent.c.target_id).select_from(joined).where(mine, child.c.target_id == table.c.id)
    ).scalar_subquery()
    children = sa.select(child.c.target_id).select_from(joined).where(mine)
    wave.conn.execute(table.update().where(table.c.id.in_(children)).values({tag.column: parent_of}))
    child_id = sa.select(targets.c.target_id).where(targets.c.object_id == links.c.child_object_id).scalar_subquery()
    wave.conn.execute(links.update().where(mine).values(target_id=child_id))


def create_ci_responsibilities(wave: Wave, tag: LinkTag) -> None:
    """Independent CI-to-responsibility links: one CIR row per (CI, responsibility), never two."""
    cir = catalog.component_instance_responsibilities
    joined, child, parent = _link_ends()
    mine = wave.creating_links(tag.name)
    same_pair = sa.and_(cir.c.component_instance_id == child.c.target_id, cir.c.responsibility_id == parent.c.target_id)
    missing = (
        sa.select(child.c.target_id, parent.c.target_id, sa.literal(wave.created_by, sa.String))
        .select_from(joined)
        .where(mine, ~sa.exists().where(same_pair))
        .distinct()
    )
    wave.conn.execute(
        cir.insert().from_select(["component_instance_id", "responsibility_id", "created_by"], missing)
    )
    child_t, parent_t = targets.alias("c"), targets.alias("p")
    found = (
        sa.select(sa.func.min(cir.c.id))
        .select_from(
            cir.join(child_t, child_t.c.target_id == cir.c.component_instance_id).join(
                parent_t, parent_t.c.target_id == cir.c.responsibility_id
            )
        )
        .where(child_t.c.object_id == links.c.child_object_id, parent_t.c.object_id == links.c.parent_object_id)
        .scalar_subquery()
    )
    wave.conn.execute(links.update().where(mine).values(target_id=found))


class ImportCreators(dg.ConfigurableResource):
    """Creates the objects and links of import batches: one method per object type and link tag.

    The default writes the posture catalog. Subclass and override a method to send a type elsewhere;
    a method must create what `wave.creating_objects(type)` (or `creating_links(tag)`) selects,
    idempotently, and record the created ids (`record_target_ids` for objects, a link's `target_id`);
    statuses follow from the wave (nothing to mark).
    """

    created_by_prefix: str = Field(
        default=CREATED_BY_PREFIX,
        description="`created_by` of the rows created: '<prefix>:<batch_id>' (never 'lite-import-script').",
    )

    def wave(self, conn: Connection, batch_pk: int, batch_id: str, number: int) -> Wave:
        return Wave(conn, batch_pk, batch_id, number, self.created_by_prefix)

    @property
    def registry(self) -> Registry:
        return REGISTRY

    def find_existing(self, conn: Connection, batch_pk: int, object_type: str) -> int:
        return find_existing(conn, batch_pk, self.registry.object_types[object_type])

    def create_objects(self, wave: Wave, object_type: str) -> None:
        getattr(self, object_type)(wave)

    def create_links(self, wave: Wave, link_tag: str) -> None:
        getattr(self, link_tag)(wave)

    # Object types.
    def service(self, wave: Wave) -> None:
        create_objects(wave, self.registry.object_types["service"])

    def component(self, wave: Wave) -> None:
        create_objects(wave, self.registry.object_types["component"])

    def boundary(self, wave: Wave) -> None:
        create_objects(wave, self.registry.object_types["boundary"])

    def responsibility(self, wave: Wave) -> None:
        create_objects(wave, self.registry.object_types["responsibility"])

    def component_instance(self, wave: Wave) -> None:
        create_objects(wave, self.registry.object_types["component_instance"])

    # Link tags (a Dependent link that is not separate completes with its child: no call).
    def ci_service(self, wave: Wave) -> None:
        set_parent_column(wave, self.registry.link_tags["ci_service"])

    def ci_component(self, wave: Wave) -> None:
        set_parent_column(wave, self.registry.link_tags["ci_component"])

    def ci_boundary(self, wave: Wave) -> None:
        set_parent_column(wave, self.registry.link_tags["ci_boundary"])

    def ci_parent(self, wave: Wave) -> None:
        set_parent_column(wave, self.registry.link_tags["ci_parent"])

    def ci_responsibility(self, wave: Wave) -> None:
        create_ci_responsibilities(wave, self.registry.link_tags["ci_responsibility"])
