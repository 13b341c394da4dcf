"""The nightly fan-out: which tenants changed since their last completed archive.

A tenant changed when it has never been archived, when any of its rows carries a timestamp later than
the moment its last completed backup job was scheduled (rows added or touched: `created_at`,
`last_used_at`, `performed_at`, ...), or when an entity's row count differs from that archive's
manifest (rows deleted). A tenant with a backup job pending or running is left to that job. One
grouped query per entity table reads the whole database in one snapshot; nothing is held per row.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import ObjectStore
from pipelines.tenant_archives.entities import DEFAULT_TENANT_COLUMN, discover_entities
from pipelines.tenant_archives.jobs import ACTIVE, latest_jobs, list_jobs
from pipelines.tenant_archives.restore import read_manifest


def changed_tenants(database: Database, store: ObjectStore, tenant_column: str = DEFAULT_TENANT_COLUMN) -> list[str]:
    """The tenants to archive tonight, sorted."""
    newest: dict[str, dt.datetime | None] = {}
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    with database.snapshot() as conn:
        for entity in discover_entities(conn, tenant_column):
            table = entity.table
            stamps = [sa.func.max(table.c[c.name]) for c in entity.columns if c.kind == "timestamp"]
            query = sa.select(table.c[tenant_column], sa.func.count(), *stamps).group_by(table.c[tenant_column])
            for tenant, rows, *latest in conn.execute(query):
                counts[tenant][entity.name] = rows
                seen = [_aware(value) for value in latest if value is not None]
                newest[tenant] = max([*seen, *([newest[tenant]] if newest.get(tenant) else [])], default=None)
    latest = {job.tenant: job for job in latest_jobs(database)}
    changed = []
    for tenant in sorted(counts):
        job = latest.get(tenant)
        if job is not None and job.status in ACTIVE:
            continue
        completed = _last_completed(database, tenant) if job is None or job.status != "completed" else job
        if completed is None:
            changed.append(tenant)
            continue
        touched = newest.get(tenant)
        if touched is not None and touched > completed.created_at:
            changed.append(tenant)
            continue
        archived = read_manifest(store, completed.manifest_key).rows_per_entity() if completed.manifest_key else {}
        if {name: n for name, n in counts[tenant].items() if n} != {name: n for name, n in archived.items() if n}:
            changed.append(tenant)
    return changed


def _last_completed(database: Database, tenant: str):
    return next((job for job in list_jobs(database, tenant) if job.status == "completed"), None)


def _aware(value: object) -> dt.datetime:
    """A timestamp as an aware UTC datetime (SQLite's reflected columns may give text or naive values)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
