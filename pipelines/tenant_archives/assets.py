"""Thin Dagster assets over `archive.py`, `restore.py` and `jobs.py`."""

import datetime as dt
import time
from pathlib import Path

import dagster as dg

from pipelines.core.database import Database
from pipelines.core.requests import request_job
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.tenant_archives import jobs, settings
from pipelines.tenant_archives.archive import archive_tenant
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.integrity import manifest_digest
from pipelines.tenant_archives.partitions import tenants
from pipelines.tenant_archives.requests import (
    RESTORE_ASSET,
    RETENTION_ASSET,
    ArchiveRequest,
    RestoreRequest,
    RetentionRequest,
)
from pipelines.tenant_archives.restore import restore_archive
from pipelines.tenant_archives.retention import apply_retention
from pipelines.tenant_archives.transport import upload_archive


@dg.asset(
    group_name="tenant_archives",
    kinds={"postgres", "csv", "s3"},
    partitions_def=tenants,
    pool="tenant_archives",
)
def tenant_archives(
    context: dg.AssetExecutionContext,
    config: ArchiveRequest,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """One RFC-4180 CSV per entity table of the tenant (split into parts past the part size) and a
    manifest.json, under archives/{tenant}/{job_id}/; the run carries out one backup job, which
    goes running -> completed with the manifest key, or failed with the error."""
    tenant = context.partition_key
    db = database.get_database()
    if config.job_id is None:
        job = jobs.schedule_backup(db, tenant, config.tenant_column, run_id=context.run.run_id)
        context.log.info(f"backup job {job.job_id} created for tenant {tenant}")
    else:
        job = jobs.get_job(db, config.job_id)
        if job.tenant != tenant:
            raise TenantArchiveError(f"backup job {job.job_id} is of tenant {job.tenant!r}, not of partition {tenant!r}")
        jobs.start_job(db, job.job_id, context.run.run_id)
    started = time.monotonic()
    try:
        key, manifest = archive_tenant(db, object_store.get_store(), tenant, str(job.job_id), config, context.log)
    except Exception as exc:
        jobs.fail_job(db, job.job_id, f"{type(exc).__name__}: {exc}")
        raise
    jobs.complete_job(db, job.job_id, key, manifest_digest(manifest.to_bytes()))
    return dg.MaterializeResult(
        metadata={
            "job_id": dg.MetadataValue.text(str(job.job_id)),
            "manifest_key": dg.MetadataValue.path(key),
            "manifest_sha256": dg.MetadataValue.text(manifest_digest(manifest.to_bytes())),
            "rows": dg.MetadataValue.int(manifest.total_rows),
            "bytes": dg.MetadataValue.int(manifest.total_bytes),
            "files": dg.MetadataValue.int(len(manifest.files)),
            "duration_seconds": dg.MetadataValue.float(round(time.monotonic() - started, 3)),
            "encrypted": dg.MetadataValue.bool(manifest.encryption is not None),
            "schema_fingerprint": dg.MetadataValue.text(manifest.schema_fingerprint),
            "rows_per_entity": dg.MetadataValue.json(manifest.rows_per_entity()),
        }
    )


@dg.asset(
    group_name="tenant_archives",
    kinds={"postgres", "csv", "s3"},
    pool="tenant_archives",
    # A restore reads an archive that tenant_archives wrote (or the same files brought in from elsewhere).
    deps=[tenant_archives],
)
def tenant_restore(
    context: dg.AssetExecutionContext,
    config: RestoreRequest,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Restores an archive as a new tenant: from the object store (`manifestKey`), or from a downloaded
    archive on disk (`fromPath`, a folder or a .zip: every file checked, uploaded, then restored).
    Checks the manifest (signature, recorded digest, completeness), every file's size and sha256 and
    the logical schema fingerprint before writing anything, then loads every file in one transaction."""
    store = object_store.get_store()
    manifest_key = config.manifest_key
    if config.from_path is not None:
        manifest_key = upload_archive(store, Path(config.from_path), config.tenant)
        context.log.info(f"archive {config.from_path} checked and uploaded as {manifest_key}")
    assert manifest_key is not None
    result = restore_archive(database.get_database(), store, manifest_key, config.tenant, context.log)
    context.instance.add_dynamic_partitions(tenants.name, [config.tenant])
    return dg.MaterializeResult(
        metadata={
            "tenant": dg.MetadataValue.text(result.tenant),
            "source_tenant": dg.MetadataValue.text(result.source_tenant),
            "manifest_key": dg.MetadataValue.path(result.manifest_key),
            "rows": dg.MetadataValue.int(result.total_rows),
            "duration_seconds": dg.MetadataValue.float(round(result.seconds, 3)),
            "signature_checked": dg.MetadataValue.bool(result.signature_checked),
            "recorded_digest_checked": dg.MetadataValue.bool(result.digest_checked),
            "rows_per_entity": dg.MetadataValue.json(result.rows_per_entity),
        }
    )


@dg.asset(group_name="tenant_archives", kinds={"postgres", "s3"}, pool="tenant_archives")
def tenant_archive_retention(
    context: dg.AssetExecutionContext,
    config: RetentionRequest,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Keeps the newest `keepLast` completed archives of each tenant and deletes the objects of older
    ones (their backup jobs stay, with the reason); the metadata lists every tenant's latest backup job."""
    db = database.get_database()
    removed = apply_retention(db, object_store.get_store(), config.keep_last)
    for job in removed:
        context.log.info(f"retention: deleted the archive of backup job {job.job_id} (tenant {job.tenant})")
    latest = jobs.latest_jobs(db)
    return dg.MaterializeResult(
        metadata={
            "archives_deleted": dg.MetadataValue.int(len(removed)),
            "keep_last": dg.MetadataValue.int(config.keep_last),
            "tenants": dg.MetadataValue.int(len(latest)),
            "tenants_failed": dg.MetadataValue.int(sum(job.status == "failed" for job in latest)),
            "backup_jobs": backup_jobs_table(latest),
        }
    )


def backup_jobs_table(latest: list[jobs.BackupJob]) -> dg.TableMetadataValue:
    """The latest backup job of each tenant, as a table the UI shows."""
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord(
                {
                    "tenant": job.tenant,
                    "job_id": str(job.job_id),
                    "status": job.status,
                    "updated_at": job.updated_at.isoformat(),
                    "error": job.error or "",
                    "manifest_key": job.manifest_key or "",
                }
            )
            for job in latest
        ],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn(name, "string")
                for name in ("tenant", "job_id", "status", "updated_at", "error", "manifest_key")
            ]
        ),
    )


@dg.asset_check(
    asset=tenant_archives,
    name="backup_jobs_not_failed_or_stuck",
    description="WARN while a tenant's latest backup job is failed, or pending / running for longer than "
    "PIPELINES_ARCHIVE_STALE_SECONDS; lists every tenant's latest job.",
)
def backup_jobs_not_failed_or_stuck(database: DatabaseResource) -> dg.AssetCheckResult:
    return backup_jobs_health(database.get_database())


def backup_jobs_health(db: Database) -> dg.AssetCheckResult:
    """The check's result: WARN naming each tenant whose latest backup job failed or is stuck."""
    latest = jobs.latest_jobs(db)
    stale_before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=settings.stale_seconds())
    bad = [
        job for job in latest
        if job.status == "failed" or (job.status in jobs.ACTIVE and job.updated_at < stale_before)
    ]
    return dg.AssetCheckResult(
        passed=not bad,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(f"{job.tenant}: {job.status} {job.job_id}" for job in bad[:20]) or "no failed or stuck job",
        metadata={
            "failed_or_stuck": dg.MetadataValue.int(len(bad)),
            "backup_jobs": backup_jobs_table(latest),
        },
    )


# Dagster refuses a config mapping on a partitioned job, so this one is not a `request_job`: its
# `ArchiveRequest` is checked by Dagster's config schema at launch (types, unknown fields), by the
# model where the sensor and the CLI build it, and by the model when the step starts (the bounds).
tenant_archive_job = dg.define_asset_job(
    "tenant_archive_job", selection=[tenant_archives], description="Carries out one backup job: archives one tenant."
)
tenant_restore_job = request_job(
    "tenant_restore_job",
    selection=[tenant_restore],
    requests={RESTORE_ASSET: RestoreRequest},
    description="Restores an archive as a new tenant.",
)
tenant_archive_retention_job = request_job(
    "tenant_archive_retention_job",
    selection=[tenant_archive_retention],
    requests={RETENTION_ASSET: RetentionRequest},
    description="Applies the retention of tenant archives (keep the last N completed per tenant).",
)
