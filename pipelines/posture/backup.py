"""The backup a REPLACE_ALL import writes before it deletes the script-created set, and what restores it.

A backup is an export document (`posture/backups/<UTC timestamp>.json`) streamed from the database in
the import's transaction, before its delete. Each object is one script-created CIRF with its CIR and
CI, and also names the CI (`componentInstanceName`) and its parent (`parentComponentInstanceName`);
objects without a parent come first, so a restore writes parents before their children. The
script-created CIs without a CIR (SERVICE parents made for other objects) are listed after the array
(`parentComponentInstances`, one per service and boundary at most). `pipelines posture rollback`
imports a backup by the same REPLACE_ALL path, which keeps those names and parents.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.database import Database
from pipelines.core.object_store import ObjectStore
from pipelines.posture.documents import write_document
from pipelines.posture.errors import PostureError
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

BACKUP_PREFIX = "posture/backups/"
PARENTS_KEY = "parentComponentInstances"
_parent = ci_table.alias("parent")


def new_backup_key(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{BACKUP_PREFIX}{now.strftime('%Y%m%dT%H%M%S.%fZ')}.json"


def latest_backup_key(store: ObjectStore) -> str:
    keys = [info.key for info in store.list(BACKUP_PREFIX)]
    if not keys:
        raise PostureError(f"no backup under {BACKUP_PREFIX}: a REPLACE_ALL import writes one before it deletes")
    return max(keys)  # the keys are UTC timestamps


def _objects_query() -> sa.Select:
    return (
        sa.select(
            responsibilities.c.slug, services.c.name, cirf_table.c.status, boundaries.c.slug, components.c.slug,
            ci_table.c.name, _parent.c.name,
        )
        .select_from(cirf_table)
        .join(cir_table, cir_table.c.id == cirf_table.c.component_instance_responsibility_id)
        .join(ci_table, ci_table.c.id == cir_table.c.component_instance_id)
        .join(services, services.c.id == ci_table.c.service_id)
        .join(responsibilities, responsibilities.c.id == cir_table.c.responsibility_id)
        .join(boundaries, boundaries.c.id == ci_table.c.boundary_id)
        .join(components, components.c.id == ci_table.c.component_id)
        .outerjoin(_parent, _parent.c.id == ci_table.c.parent_id)
        .where(cirf_table.c.created_by == LITE_IMPORT_CREATED_BY)
        .order_by(ci_table.c.parent_id.is_not(None), ci_table.c.id, cirf_table.c.id)
    )


def _parents_only(conn: Connection) -> list[dict[str, str | None]]:
    has_cir = sa.exists().where(cir_table.c.component_instance_id == ci_table.c.id)
    query = (
        sa.select(ci_table.c.name, services.c.name, boundaries.c.slug, components.c.slug, _parent.c.name)
        .join(services, services.c.id == ci_table.c.service_id)
        .join(boundaries, boundaries.c.id == ci_table.c.boundary_id)
        .join(components, components.c.id == ci_table.c.component_id)
        .outerjoin(_parent, _parent.c.id == ci_table.c.parent_id)
        .where(ci_table.c.created_by == LITE_IMPORT_CREATED_BY, ~has_cir)
        .order_by(ci_table.c.parent_id.is_not(None), ci_table.c.id)
    )
    fields = ("componentInstanceName", "serviceName", "boundarySlug", "componentSlug", "parentComponentInstanceName")
    return [dict(zip(fields, row)) for row in conn.execute(query)]


def write_backup(conn: Connection, database: Database, store: ObjectStore) -> tuple[str, int]:
    """Stream the script-created set, as `conn` sees it, to a new backup; returns (key, objects)."""
    key = new_backup_key()

    def objects() -> Iterator[dict[str, str | None]]:
        for batch in database.stream(conn, _objects_query()):
            for responsibility, service, status, boundary, component, name, parent in batch:
                yield {
                    "responsibilitySlug": responsibility, "serviceName": service, "status": status,
                    "boundarySlug": boundary, "componentSlug": component,
                    "componentInstanceName": name, "parentComponentInstanceName": parent,
                }

    parents = _parents_only(conn)
    with store.open_write(key) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        count = write_document(text, objects(), after={PARENTS_KEY: parents})
        text.flush()
        text.detach()  # the store closes (and uploads) the binary stream itself
    return key, count
