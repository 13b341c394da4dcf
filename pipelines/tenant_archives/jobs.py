"""`backup_jobs`: the seed's ArchiveJob. `pending` -> `running` -> `completed` (with the manifest key)
or `failed` (with the error). A tenant has at most one pending or running job at a time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.database import Database
from pipelines.core.locks import transaction_lock, try_transaction_lock
from pipelines.tenant_archives.entities import (
    DEFAULT_TENANT_COLUMN,
    check_tenant,
    discover_entities,
    tables_holding,
)
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
    manifest_sha256: str | None = None
    run_id: str | None = None

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
    return dt.datetime.now(dt.UTC)


def _job(row: sa.Row) -> BackupJob:
    return BackupJob(**row._mapping)


def parse_job_id(value: str | uuid.UUID, field: str = "job_id") -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise TenantArchiveError(f"{field} {value!r} is not a UUID") from None


def _lock_tenant(conn: Connection, tenant: str) -> None:
    """Serialize job creation per tenant. SQLite: BEGIN IMMEDIATE already serializes all writers."""
    transaction_lock(conn, f"tenant_archives.jobs:{tenant}")


def try_lock_tenant_restore(conn: Connection, tenant: str) -> bool:
    """Take the restore lock of `tenant` for this transaction, or False when another restore holds it.

    PostgreSQL: a second restore into the tenant gets a clear answer at once instead of waiting and
    then hitting the first one's keys. SQLite: BEGIN IMMEDIATE already serializes writers; the second
    restore then finds the tenant's rows.
    """
    return try_transaction_lock(conn, f"tenant_archives.restore:{tenant}")


def schedule_backup(
    database: Database, tenant: str, tenant_column: str = DEFAULT_TENANT_COLUMN, *, run_id: str | None = None
) -> BackupJob:
    """The seed's `POST /backup/schedule`: a new pending job, refused while one is pending or running.

    With `run_id` (a run that archives the tenant without a job scheduled before it, such as the
    nightly fan-out's), the job is created `running` for that run in the same transaction, so the
    backup-jobs sensor never sees it pending and starts a second run for it."""
    check_tenant(tenant)
    with database.begin() as conn:
        _lock_tenant(conn, tenant)
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
        job = BackupJob(uuid.uuid4(), tenant, "running" if run_id else "pending", now, now, run_id=run_id)
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


def latest_jobs(database: Database) -> list[BackupJob]:
    """The newest backup job of each tenant, by tenant."""
    latest: dict[str, BackupJob] = {}
    with database.begin() as conn:
        for row in conn.execute(sa.select(backup_jobs).order_by(backup_jobs.c.tenant, backup_jobs.c.created_at.desc())):
            latest.setdefault(row.tenant, _job(row))
    return list(latest.values())


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


def start_job(database: Database, job_id: str | uuid.UUID, run_id: str | None = None) -> BackupJob:
    return _transition(database, parse_job_id(job_id), "pending", "running", run_id=run_id)


def complete_job(
    database: Database, job_id: str | uuid.UUID, manifest_key: str, manifest_sha256: str | None = None
) -> BackupJob:
    return _transition(
        database, parse_job_id(job_id), "running", "completed", manifest_key=manifest_key, manifest_sha256=manifest_sha256
    )


def fail_job(database: Database, job_id: str | uuid.UUID, error: str) -> BackupJob:
    return _transition(database, parse_job_id(job_id), "running", "failed", error=error[:_MAX_ERROR])


def fail_stale_jobs(
    database: Database,
    run_status: Callable[[BackupJob], str | None],
    stale_after: dt.timedelta,
    now: dt.datetime | None = None,
) -> list[BackupJob]:
    """Mark failed, with the reason, each job that no run will finish, so the tenant can be scheduled again.

    `run_status(job)` is the status of the Dagster run carrying the job (`"QUEUED"`, `"STARTED"`,
    `"SUCCESS"`, `"FAILURE"`, ...), or None when the instance has no such run. A `pending` job older
    than `stale_after` with no run, and a `running` job whose run ended (or that has no run and has not
    moved for `stale_after`: a run of another instance, such as the CLI's, is given that long) fail.
    """
    now = now or _now()
    failed = []
    with database.begin() as conn:
        active = [_job(row) for row in conn.execute(sa.select(backup_jobs).where(backup_jobs.c.status.in_(ACTIVE)))]
    for job in active:
        status = run_status(job)
        old = now - job.updated_at > stale_after
        reason = None
        if job.status == "pending" and status is None and old:
            reason = f"pending for more than {_seconds(stale_after)} s without a run"
        elif job.status == "pending" and status in _ENDED:
            reason = f"its run ended {status} before the job started"
        elif job.status == "running" and status in _ENDED:
            reason = f"its run {job.run_id} ended {status} while the job was running"
        elif job.status == "running" and status is None and old:
            reason = f"running for more than {_seconds(stale_after)} s without a run (the run {job.run_id} is gone)"
        if reason is None:
            continue
        with database.begin() as conn:
            updated = conn.execute(
                backup_jobs.update()
                .where(backup_jobs.c.job_id == job.job_id, backup_jobs.c.status == job.status)
                .values(status="failed", updated_at=now, error=reason)
            ).rowcount
        if updated == 1:
            failed.append(get_job(database, job.job_id))
    return failed


_ENDED = ("SUCCESS", "FAILURE", "CANCELED")


def _seconds(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds():g}"


def expired_jobs(database: Database, keep_last: int) -> list[BackupJob]:
    """Per tenant, the completed jobs older than the newest `keep_last` that still have an archive."""
    with database.begin() as conn:
        rows = conn.execute(
            sa.select(backup_jobs)
            .where(backup_jobs.c.status == "completed", backup_jobs.c.manifest_key.is_not(None))
            .order_by(backup_jobs.c.tenant, backup_jobs.c.created_at.desc(), backup_jobs.c.job_id)
        )
        kept: dict[str, int] = {}
        expired = []
        for job in map(_job, rows):
            kept[job.tenant] = kept.get(job.tenant, 0) + 1
            if kept[job.tenant] > keep_last:
                expired.append(job)
    return expired


def mark_expired(database: Database, job_id: uuid.UUID, keep_last: int) -> None:
    """The job stays completed; its manifest key goes, with the reason in `error`."""
    with database.begin() as conn:
        conn.execute(
            backup_jobs.update()
            .where(backup_jobs.c.job_id == job_id)
            .values(manifest_key=None, updated_at=_now(), error=f"archive deleted by retention (keep the last {keep_last})")
        )
