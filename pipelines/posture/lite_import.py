"""`lite_dynamic_state_import`: an export document as the minimal CI / CIR / CIRF, INSERT or REPLACE_ALL.

Per object: one CI named `{componentSlug}-{serviceName}-{hash}`, one CIR to the responsibility, one
CIRF with the status, all `created_by = 'lite-import-script'`. A non-SERVICE CI gets as parent the
service's SERVICE CI in the same boundary: an existing one (the oldest), else the CI of the document's
first SERVICE object for that service and boundary (created early if it comes later), else a SERVICE
CI created once for that purpose (counted in componentInstancesInserted).

The whole import is one transaction: the document is read twice as a stream (validation of every
object first, then the writes), ids are taken in blocks (PostgreSQL: `nextval` over
`generate_series`; SQLite: from max(id) under the write lock), rows are written in batches with
`Database.bulk_insert` (binary COPY on PostgreSQL), and REPLACE_ALL deletes the previous script-created
set in bulk, in foreign-key order, in the same transaction. A failure or a kill leaves the previous set.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from pipelines.core.database import Database
from pipelines.core.locks import transaction_lock
from pipelines.core.progress import Progress
from pipelines.core.requests import shorten
from pipelines.core.object_store import ObjectStore
from pipelines.posture.documents import DocumentReader, DocumentSource, ErrorCollector, check_object_shape
from pipelines.posture.backup import PARENTS_KEY, write_backup
from pipelines.posture.errors import PostureError
from pipelines.posture.requests import ImportConfig, ImportRequest
from pipelines.posture.tables import (
    LITE_IMPORT_CREATED_BY,
    boundaries,
    component_instance_responsibilities as cir_table,
    component_instance_responsibility_fulfillments as cirf_table,
    component_instances as ci_table,
    components,
    responsibilities,
    services,
)

log = logging.getLogger(__name__)

SERVICE_COMPONENT = "SERVICE"
CI_COLUMNS = ("id", "name", "service_id", "component_id", "boundary_id", "parent_id", "created_by")
CIR_COLUMNS = ("id", "component_instance_id", "responsibility_id", "created_by")
CIRF_COLUMNS = ("id", "component_instance_responsibility_id", "status", "created_by")
# Rows are written (one COPY per table) once this many objects are pending, whatever batchSize is.
WRITE_ROWS = 5000
# Odd, so that id -> id * multiplier mod 2**32 is a bijection: the "random" hash of a CI name is
# unique for every id below 2**32, and no name can collide with another import's.
_NAME_HASH_MULTIPLIER = 0x9E3779B1


@dataclass
class ImportResult:
    """The seed's response counts (plus skipped), and what the run reports besides."""

    componentInstancesInserted: int = 0
    componentInstanceResponsibilitiesInserted: int = 0
    componentInstanceResponsibilityFulfillmentsInserted: int = 0
    totalRecordsProcessed: int = 0
    componentInstancesDeleted: int = 0
    componentInstanceResponsibilitiesDeleted: int = 0
    componentInstanceResponsibilityFulfillmentsDeleted: int = 0
    recordsSkipped: int = 0
    config: str = "REPLACE_ALL"
    parent_instances_inserted: int = 0
    failing_imported: int = 0
    delete_seconds: float = 0.0
    insert_seconds: float = 0.0
    seconds: float = 0.0
    backup_key: str | None = None  # REPLACE_ALL: the previous set, as `pipelines.posture.backup` wrote it
    # Script-created FAILING fulfillments per service name the database must hold after the import.
    expected_failing_by_service: dict[str, int] = field(default_factory=dict)

    def response(self) -> dict[str, int]:
        """The seed's response body (its seven counts) plus `recordsSkipped`."""
        keys = list(ImportResult.__dataclass_fields__)[:8]
        values = asdict(self)
        return {key: values[key] for key in keys}


@dataclass(frozen=True)
class Catalog:
    """Names and slugs to ids; small (one row per service, component, boundary, responsibility)."""

    services: dict[str, int]
    responsibilities: dict[str, int]
    boundaries: dict[str, int]
    components: dict[str, int]

    @classmethod
    def load(cls, conn: Connection) -> Catalog:
        def pairs(column: sa.Column, id_column: sa.Column) -> dict[str, int]:
            return {name: id_ for name, id_ in conn.execute(sa.select(column, id_column))}

        return cls(
            services=pairs(services.c.name, services.c.id),
            responsibilities=pairs(responsibilities.c.slug, responsibilities.c.id),
            boundaries=pairs(boundaries.c.slug, boundaries.c.id),
            components=pairs(components.c.slug, components.c.id),
        )

    @property
    def service_component_id(self) -> int | None:
        return self.components.get(SERVICE_COMPONENT)

    def check(self, index: int, obj: dict[str, Any], errors: ErrorCollector) -> bool:
        ok = True
        for field_name, known, what in (
            ("serviceName", self.services, "service"),
            ("responsibilitySlug", self.responsibilities, "responsibility"),
            ("boundarySlug", self.boundaries, "boundary"),
            ("componentSlug", self.components, "component"),
        ):
            if obj[field_name] not in known:
                errors.add(index, field_name, obj[field_name], f"is not a known {what}")
                ok = False
        return ok


@dataclass
class _Plan:
    """What the validation pass learns: the object count, and the first SERVICE object per
    (service, boundary) as (index, responsibility id, status), so that a CI needing a parent can
    write that object early instead of creating an extra SERVICE CI."""

    total: int = 0
    first_service_object: dict[tuple[int, int], tuple[int, int, str]] = field(default_factory=dict)
    # A backup (`pipelines.posture.backup`): its CIs without a CIR; None for any other document.
    parent_instances: list[dict[str, Any]] | None = None


class IdAllocator:
    """Primary keys taken in bulk inside the write transaction (the dialect-specific part)."""

    def __init__(self, conn: Connection, table: sa.Table, block: int):
        self.conn, self.block = conn, max(block, 1)
        self._buffer: list[int] = []
        self._at = 0
        if conn.dialect.name == "postgresql":
            self.sequence = conn.scalar(
                sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name}
            )
            self._next = 0
        else:
            # SQLite: BEGIN IMMEDIATE holds the write lock, so nobody else takes ids meanwhile.
            self.sequence = None
            self._next = int(conn.scalar(sa.select(sa.func.max(table.c.id))) or 0) + 1

    def next(self) -> int:
        if self.sequence is None:
            self._next += 1
            return self._next - 1
        if self._at == len(self._buffer):
            self._buffer = self.conn.scalar(
                sa.text("SELECT array_agg(nextval(CAST(:seq AS regclass))) FROM generate_series(1, :n)"),
                {"seq": self.sequence, "n": self.block},
            )
            self._at = 0
        self._at += 1
        return self._buffer[self._at - 1]


def instance_name(component_slug: str, service_name: str, ci_id: int) -> str:
    return f"{component_slug}-{service_name}-{(ci_id * _NAME_HASH_MULTIPLIER) & 0xFFFFFFFF:08x}"


def import_lite_dynamic_state(
    database: Database,
    store: ObjectStore,
    source: DocumentSource,
    options: ImportRequest,
    *,
    on_batch: Callable[[ImportResult], None] | None = None,
    logger: Any = None,
    dry_run: bool = False,
) -> ImportResult:
    """Validate the whole document, then write it (REPLACE_ALL: after deleting the previous set).

    `dry_run`: the same work, in a transaction that is rolled back: the counts are exactly what the
    import would report, and nothing is written (ids taken from the sequences are skipped)."""
    logger = logger or log
    started = time.monotonic()
    result = ImportResult(config=str(options.config))
    with database.begin() as conn:
        _lock(conn)
        catalog = Catalog.load(conn)
        plan = _validate(store, source, catalog)
        result.totalRecordsProcessed = plan.total
        logger.info(f"Importing {plan.total} lite dynamic objects with config: {options.config}")
        if options.config is ImportConfig.REPLACE_ALL:
            if not dry_run:
                result.backup_key, backed_up = write_backup(conn, database, store)
                logger.info(f"Backed up the {backed_up} script-created objects to {result.backup_key}")
            _replace_all_delete(conn, result, logger)
            failing_before: Counter[str] = Counter()
        else:
            failing_before = script_failing_by_service(conn)
        inserted_started = time.monotonic()
        if plan.parent_instances is not None and options.config is ImportConfig.REPLACE_ALL:
            failing_imported = _restore(conn, database, store, source, catalog, plan, result)
        else:
            failing_imported = _insert(conn, database, store, source, options, catalog, plan, result, on_batch, logger)
        result.insert_seconds = time.monotonic() - inserted_started
        result.failing_imported = sum(failing_imported.values())
        result.expected_failing_by_service = dict(failing_before + failing_imported)
        if dry_run:
            conn.get_transaction().rollback()
            logger.info("Dry run: rolled back, nothing was written")
    result.seconds = time.monotonic() - started
    logger.info(
        f"Successfully imported {result.componentInstancesInserted} component instances, "
        f"{result.componentInstanceResponsibilitiesInserted} responsibilities, "
        f"{result.componentInstanceResponsibilityFulfillmentsInserted} fulfillments"
        f" ({result.recordsSkipped} skipped)"
    )
    logger.info(
        f"Deletion summary - {result.componentInstancesDeleted} component instances, "
        f"{result.componentInstanceResponsibilitiesDeleted} responsibilities, "
        f"{result.componentInstanceResponsibilityFulfillmentsDeleted} fulfillments deleted"
    )
    return result


def _lock(conn: Connection) -> None:
    """One import at a time (PostgreSQL: an advisory lock; SQLite's BEGIN IMMEDIATE already is one)."""
    transaction_lock(conn, "posture.lite_dynamic_state_import")


def _validate(store: ObjectStore, source: DocumentSource, catalog: Catalog) -> _Plan:
    plan = _Plan()
    errors = ErrorCollector()
    service_component = catalog.service_component_id
    with source.open(store) as text:
        reader = DocumentReader(text, source=source.describe())
        for index, obj in enumerate(reader.objects()):
            plan.total += 1
            if not check_object_shape(index, obj, errors) or not catalog.check(index, obj, errors):
                continue
            if catalog.components[obj["componentSlug"]] == service_component:
                key = (catalog.services[obj["serviceName"]], catalog.boundaries[obj["boundarySlug"]])
                plan.first_service_object.setdefault(
                    key, (index, catalog.responsibilities[obj["responsibilitySlug"]], obj["status"])
                )
    if PARENTS_KEY in reader.extra:
        plan.parent_instances = _check_parent_instances(reader.extra[PARENTS_KEY], catalog, errors)
    errors.raise_if_any(f"import of {source.describe()}")
    return plan


def _check_parent_instances(value: Any, catalog: Catalog, errors: ErrorCollector) -> list[dict[str, Any]]:
    """A backup's CIs without a CIR: each names the CI, its service, boundary and component."""
    if not isinstance(value, list):
        errors.add(None, PARENTS_KEY, value, "is not a list")
        return []
    for index, parent in enumerate(value):
        where = f"{PARENTS_KEY}[{index}]"
        if not isinstance(parent, dict) or not isinstance(parent.get("componentInstanceName"), str):
            errors.add(None, where, parent, "is not a component instance with a componentInstanceName")
            continue
        for field_name, known in (("serviceName", catalog.services), ("boundarySlug", catalog.boundaries),
                                  ("componentSlug", catalog.components)):
            if not isinstance(parent.get(field_name), str) or parent[field_name] not in known:
                errors.add(None, f"{where}.{field_name}", parent.get(field_name), "is not known")
    return value


def delete_script_records(conn: Connection) -> tuple[int, int, int]:
    """Delete every script-created CIRF, CIR and CI, in that (foreign-key) order, one statement each."""
    counts = []
    for table in (cirf_table, cir_table, ci_table):
        try:
            deleted = conn.execute(sa.delete(table).where(table.c.created_by == LITE_IMPORT_CREATED_BY))
        except IntegrityError as exc:
            raise PostureError(
                f"REPLACE_ALL cannot delete the script-created {table.name}: records not created by the "
                f"lite import still reference them ({str(exc.orig).splitlines()[0]}); nothing was changed"
            ) from None
        counts.append(deleted.rowcount)
    return counts[0], counts[1], counts[2]


def _replace_all_delete(conn: Connection, result: ImportResult, logger: Any) -> None:
    started = time.monotonic()
    cirfs, cirs, cis = delete_script_records(conn)
    result.componentInstanceResponsibilityFulfillmentsDeleted = cirfs
    result.componentInstanceResponsibilitiesDeleted = cirs
    result.componentInstancesDeleted = cis
    result.delete_seconds = time.monotonic() - started
    logger.info(f"Deleted {cirfs} ComponentInstanceResponsibilityFulfillment records")
    logger.info(f"Deleted {cirs} ComponentInstanceResponsibility records")
    logger.info(f"Deleted {cis} ComponentInstance records")


def script_failing_by_service(conn: Connection) -> Counter[str]:
    """Script-created FAILING fulfillments per service name."""
    query = (
        sa.select(services.c.name, sa.func.count())
        .select_from(cirf_table)
        .join(cir_table, cir_table.c.id == cirf_table.c.component_instance_responsibility_id)
        .join(ci_table, ci_table.c.id == cir_table.c.component_instance_id)
        .join(services, services.c.id == ci_table.c.service_id)
        .where(cirf_table.c.created_by == LITE_IMPORT_CREATED_BY, cirf_table.c.status == "FAILING")
        .group_by(services.c.name)
    )
    return Counter({name: int(count) for name, count in conn.execute(query)})


def _existing_parents(conn: Connection, service_component: int | None) -> dict[tuple[int, int], int]:
    """The oldest SERVICE CI per (service, boundary), whoever created it."""
    if service_component is None:
        return {}
    query = (
        sa.select(ci_table.c.service_id, ci_table.c.boundary_id, sa.func.min(ci_table.c.id))
        .where(ci_table.c.component_id == service_component)
        .group_by(ci_table.c.service_id, ci_table.c.boundary_id)
    )
    return {(s, b): ci for s, b, ci in conn.execute(query)}


# (index, service_id, responsibility_id, boundary_id, component_id, status, service name, component slug)
_Resolved = tuple[int, int, int, int, int, str, str, str]


def _resolved_objects(store: ObjectStore, source: DocumentSource, catalog: Catalog) -> Iterator[_Resolved]:
    with source.open(store) as text:
        for index, obj in enumerate(DocumentReader(text, source=source.describe()).objects()):
            yield _resolve(index, obj, catalog)


def _resolve(index: int, obj: dict[str, Any], catalog: Catalog) -> _Resolved:
    return (
        index,
        catalog.services[obj["serviceName"]],
        catalog.responsibilities[obj["responsibilitySlug"]],
        catalog.boundaries[obj["boundarySlug"]],
        catalog.components[obj["componentSlug"]],
        obj["status"],
        obj["serviceName"],
        obj["componentSlug"],
    )


def _existing_script_keys(conn: Connection, batch: list[_Resolved]) -> set[tuple[int, int, int, int]]:
    """Which (service, responsibility, boundary, component) of the batch already have a script record."""
    keys = list({(o[1], o[2], o[3], o[4]) for o in batch})
    key = sa.tuple_(ci_table.c.service_id, cir_table.c.responsibility_id, ci_table.c.boundary_id, ci_table.c.component_id)
    query = (
        sa.select(ci_table.c.service_id, cir_table.c.responsibility_id, ci_table.c.boundary_id, ci_table.c.component_id)
        .select_from(cir_table)
        .join(ci_table, ci_table.c.id == cir_table.c.component_instance_id)
        .where(cir_table.c.created_by == LITE_IMPORT_CREATED_BY, key.in_(keys))
    )
    return {tuple(row) for row in conn.execute(query)}  # type: ignore[misc]


class _BatchWriter:
    """Builds the CI / CIR / CIRF rows of one batch, with ids from the allocators."""

    def __init__(self, conn: Connection, catalog: Catalog, block: int, parents: dict[tuple[int, int], int]):
        self.ci_ids = IdAllocator(conn, ci_table, block)
        self.cir_ids = IdAllocator(conn, cir_table, block)
        self.cirf_ids = IdAllocator(conn, cirf_table, block)
        self.service_component = catalog.service_component_id
        self.parents = parents
        self.ci_rows: list[tuple] = []
        self.cir_rows: list[tuple] = []
        self.cirf_rows: list[tuple] = []
        self.parent_instances = 0

    def add_instance(self, service_id: int, component_id: int, boundary_id: int, parent_id: int | None,
                     service_name: str, component_slug: str, name: str | None = None) -> int:
        ci_id = self.ci_ids.next()
        name = name or instance_name(component_slug, service_name, ci_id)
        self.ci_rows.append((ci_id, name, service_id, component_id, boundary_id, parent_id, LITE_IMPORT_CREATED_BY))
        if component_id == self.service_component:
            self.parents.setdefault((service_id, boundary_id), ci_id)
        return ci_id

    def add_object(self, obj: _Resolved, parent_id: int | None, name: str | None = None) -> int:
        _, service_id, responsibility_id, boundary_id, component_id, status, service_name, component_slug = obj
        ci_id = self.add_instance(service_id, component_id, boundary_id, parent_id, service_name, component_slug, name)
        cir_id = self.cir_ids.next()
        self.cir_rows.append((cir_id, ci_id, responsibility_id, LITE_IMPORT_CREATED_BY))
        self.cirf_rows.append((self.cirf_ids.next(), cir_id, status, LITE_IMPORT_CREATED_BY))
        return ci_id

    def flush(self, database: Database, conn: Connection, result: ImportResult) -> None:
        # Parents precede their children within the CI rows, CIs precede CIRs precede CIRFs.
        result.componentInstancesInserted += database.bulk_insert(conn, ci_table, self.ci_rows, columns=CI_COLUMNS)
        result.componentInstanceResponsibilitiesInserted += database.bulk_insert(
            conn, cir_table, self.cir_rows, columns=CIR_COLUMNS
        )
        result.componentInstanceResponsibilityFulfillmentsInserted += database.bulk_insert(
            conn, cirf_table, self.cirf_rows, columns=CIRF_COLUMNS
        )
        self.ci_rows, self.cir_rows, self.cirf_rows = [], [], []


def _insert(
    conn: Connection,
    database: Database,
    store: ObjectStore,
    source: DocumentSource,
    options: ImportRequest,
    catalog: Catalog,
    plan: _Plan,
    result: ImportResult,
    on_batch: Callable[[ImportResult], None] | None,
    logger: Any,
) -> Counter[str]:
    """Write the objects batch by batch; returns the FAILING objects written per service name."""
    service_component = catalog.service_component_id
    parents = _existing_parents(conn, service_component)
    writer = _BatchWriter(conn, catalog, max(options.batch_size, 1000), parents)
    pending_service = dict(plan.first_service_object)
    pulled_forward: set[int] = set()
    failing: Counter[str] = Counter()
    progress = Progress("lite dynamic objects", plan.total, logger=logger)
    objects = _resolved_objects(store, source, catalog)
    while batch := list(islice(objects, options.batch_size)):
        skip = _existing_script_keys(conn, batch) if options.config is ImportConfig.INSERT else set()
        for obj in batch:
            index, service_id, responsibility_id, boundary_id, component_id, status, service_name, _ = obj
            if index in pulled_forward:
                continue
            key = (service_id, responsibility_id, boundary_id, component_id)
            if key in skip:
                result.recordsSkipped += 1
                continue
            if options.config is ImportConfig.INSERT:
                skip.add(key)  # a later duplicate in the same document is skipped too
            parent_id = None
            if service_component is not None and component_id != service_component:
                parent_id = parents.get((service_id, boundary_id))
                if parent_id is None:
                    dedupe = skip if options.config is ImportConfig.INSERT else set()
                    parent_id = _create_parent(writer, obj, pending_service, pulled_forward, dedupe, failing)
            elif pending_service.get((service_id, boundary_id), (-1,))[0] == index:
                del pending_service[(service_id, boundary_id)]
            writer.add_object(obj, parent_id)
            if status == "FAILING":
                failing[service_name] += 1
        # Each COPY costs a statement's setup on the server: small batches are bundled.
        # INSERT flushes every batch: the next batch's existence check must see these rows.
        if options.config is ImportConfig.INSERT or len(writer.cir_rows) >= WRITE_ROWS:
            writer.flush(database, conn, result)
        progress.advance(len(batch))
        if on_batch is not None:
            on_batch(result)
    writer.flush(database, conn, result)
    result.parent_instances_inserted = writer.parent_instances
    return failing


def _create_parent(
    writer: _BatchWriter,
    obj: _Resolved,
    pending_service: dict[tuple[int, int], tuple[int, int, str]],
    pulled_forward: set[int],
    skip: set[tuple[int, int, int, int]],
    failing: Counter[str],
) -> int:
    """The SERVICE CI a CI needs as parent: the document's own SERVICE object for that service and
    boundary when it comes later (written now, and skipped when reached), else one made for it."""
    index, service_id, _, boundary_id, _, _, service_name, _ = obj
    later = pending_service.pop((service_id, boundary_id), None)
    service_component = writer.service_component
    assert service_component is not None
    if later is not None and later[0] > index:
        later_index, responsibility_id, status = later
        pulled_forward.add(later_index)
        skip.add((service_id, responsibility_id, boundary_id, service_component))
        writer.add_object(
            (later_index, service_id, responsibility_id, boundary_id, service_component, status, service_name,
             SERVICE_COMPONENT),
            None,
        )
        if status == "FAILING":
            failing[service_name] += 1
    else:
        writer.parent_instances += 1
        writer.add_instance(service_id, service_component, boundary_id, None, service_name, SERVICE_COMPONENT)
    return writer.parents[(service_id, boundary_id)]


def _restore(
    conn: Connection,
    database: Database,
    store: ObjectStore,
    source: DocumentSource,
    catalog: Catalog,
    plan: _Plan,
    result: ImportResult,
) -> Counter[str]:
    """REPLACE_ALL of a backup: every CI keeps its name and its parent (named in the backup, parents
    first); returns the FAILING objects written per service name."""
    writer = _BatchWriter(conn, catalog, WRITE_ROWS, parents={})
    ids_by_name: dict[str, int] = {}  # the SERVICE CIs written here (the parents) and the ones looked up
    failing: Counter[str] = Counter()

    def parent_id(name: str | None) -> int | None:
        if name is None:
            return None
        if name not in ids_by_name:
            found = conn.scalar(sa.select(ci_table.c.id).where(ci_table.c.name == name))
            if found is None:
                raise PostureError(
                    f"restore of {source.describe()}: parent component instance {shorten(name)} does not exist; "
                    "nothing was written"
                )
            ids_by_name[name] = found
        return ids_by_name[name]

    for parent in plan.parent_instances or ():
        name = parent["componentInstanceName"]
        ids_by_name[name] = writer.add_instance(
            catalog.services[parent["serviceName"]], catalog.components[parent["componentSlug"]],
            catalog.boundaries[parent["boundarySlug"]], parent_id(parent.get("parentComponentInstanceName")),
            parent["serviceName"], parent["componentSlug"], name,
        )
        writer.parent_instances += 1
    with source.open(store) as text:
        for index, obj in enumerate(DocumentReader(text, source=source.describe()).objects()):
            resolved = _resolve(index, obj, catalog)
            ci_id = writer.add_object(resolved, parent_id(obj.get("parentComponentInstanceName")),
                                      obj.get("componentInstanceName"))
            if resolved[4] == writer.service_component and obj.get("componentInstanceName"):
                ids_by_name[obj["componentInstanceName"]] = ci_id
            if resolved[5] == "FAILING":
                failing[resolved[6]] += 1
            if len(writer.cir_rows) >= WRITE_ROWS:
                writer.flush(database, conn, result)
    writer.flush(database, conn, result)
    result.parent_instances_inserted = writer.parent_instances
    return failing
