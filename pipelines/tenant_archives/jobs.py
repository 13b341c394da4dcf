"""`backup_jobs`: the seed's ArchiveJob. `pending` -> `running` -> `completed` (with the manifest key)
or `failed` (with the error). A tenant has at most one pending or running job at a time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.database import Database
from pipelines.tenant_archives.entities import DEFAULT_TENANT_COLUMN, check_tenant, discover_entities, tables_holding
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.tables import backup_jobs

ACTIVE = ("pending", "running")
_MAX_ERROR = 4000


@dataclass(frozen=True)
class BackupJob:
    job_id: uuid.UUID
    tenant: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    error: str | None = None
    manifest_key: str | None = None

    def to_seed(self) -> dict[str, str]:
        """The seed's `GET /backup/jobs` item."""
        return {
            "jobId": str(self.job_id),
            "status": self.status,
            "createdAt": self.created_at.isoformat(),
            "lastUpdatedAt": self.updated_at.isoformat(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.to_seed(), "tenant": self.tenant, "error": self.error, "manifestKey": self.manifest_key}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _job(row: sa.Row) -> BackupJob:
    return BackupJob(**row._mapping)


def parse_job_id(value: str | uuid.UUID, field: str = "job_id") -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise TenantArchiveError(f"{field} {value!r} is not a UUID") from None


def _lock_tenant(conn: Connection, database: Database, tenant: str) -> None:
    """Serialize job creation per tenant. SQLite: BEGIN IMMEDIATE already serializes all writers."""
    if database.is_postgres:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(tenant, 0))))


def schedule_backup(database: Database, tenant: str, tenant_column: str = DEFAULT_TENANT_COLUMN) -> BackupJob:
    """The seed's `POST /backup/schedule`: a new pending job, refused while one is pending or running."""
    check_tenant(tenant)
    with database.begin() as conn:
        _lock_tenant(conn, database, tenant)
        active = conn.execute(
            sa.select(backup_jobs)
            .where(backup_jobs.c.tenant == tenant, backup_jobs.c.status.in_(ACTIVE))
            .order_by(backup_jobs.c.created_at)
        ).first()
        if active is not None:
            raise TenantArchiveError(
                f"tenant {tenant!r} already has a {active.status} backup job {active.job_id} "
                f"(created {active.created_at.isoformat()}): wait for it to finish before scheduling another"
            )
        if not tables_holding(conn, discover_entities(conn, tenant_column), tenant, tenant_column):
            raise TenantArchiveError(f"tenant {tenant!r} has no data to back up: no entity table has a row of it")
        now = _now()
        job = BackupJob(uuid.uuid4(), tenant, "pending", now, now)
        conn.execute(backup_jobs.insert().values(**job.__dict__))
    return job


def get_job(database: Database, job_id: str | uuid.UUID) -> BackupJob:
    job_id = parse_job_id(job_id)
    with database.begin() as conn:
        row = conn.execute(sa.select(backup_jobs).where(backup_jobs.c.job_id == job_id)).first()
    if row is None:
        raise TenantArchiveError(f"backup job {job_id} does not exist")
    return _job(row)


def list_jobs(database: Database, tenant: str | None = None) -> list[BackupJob]:
    """The seed's `GET /backup/jobs`: newest first, optionally of one tenant."""
    select = sa.select(backup_jobs).order_by(backup_jobs.c.created_at.desc(), backup_jobs.c.job_id)
    if tenant is not None:
        select = select.where(backup_jobs.c.tenant == check_tenant(tenant))
    with database.begin() as conn:
        return [_job(row) for row in conn.execute(select)]


def pending_jobs(database: Database, since: dt.datetime | None = None, limit: int = 100) -> list[BackupJob]:
    """Pending jobs created at or after `since`, oldest first."""
    select = (
        sa.select(backup_jobs)
        .where(backup_jobs.c.status == "pending")
        .order_by(backup_jobs.c.created_at, backup_jobs.c.job_id)
        .limit(limit)
    )
    if since is not None:
        select = select.where(backup_jobs.c.created_at >= since)
    with database.begin() as conn:
        return [_job(row) for row in conn.execute(select)]


def _transition(database: Database, job_id: uuid.UUID, source: str, target: str, **values: Any) -> BackupJob:
    with database.begin() as conn:
        updated = conn.execute(
            backup_jobs.update()
            .where(backup_jobs.c.job_id == job_id, backup_jobs.c.status == source)
            .values(status=target, updated_at=_now(), **values)
        ).rowcount
    if updated != 1:
        job = get_job(database, job_id)
        raise TenantArchiveError(f"backup job {job_id} is {job.status}, not {source}: it cannot become {target}")
    return get_job(database, job_id)


def start_job(database: Database, job_id: str | uuid.UUID) -> BackupJob:
    return _transition(database, parse_job_id(job_id), "pending", "running")


def complete_job(database: Database, job_id: str | uuid.UUID, manifest_key: str) -> BackupJob:
    return _transition(database, parse_job_id(job_id), "running", "completed", manifest_key=manifest_key)


def fail_job(database: Database, job_id: str | uuid.UUID, error: str) -> BackupJob:
    return _transition(database, parse_job_id(job_id), "running", "failed", error=error[:_MAX_ERROR])
