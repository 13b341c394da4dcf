"""Thin Dagster assets over `archive.py`, `restore.py` and `jobs.py`."""

import time

import dagster as dg

from pipelines.core.requests import request_job
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.tenant_archives import jobs
from pipelines.tenant_archives.archive import archive_tenant
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.partitions import tenants
from pipelines.tenant_archives.requests import ARCHIVE_ASSET, RESTORE_ASSET, ArchiveRequest, RestoreRequest
from pipelines.tenant_archives.restore import restore_archive


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
        job = jobs.schedule_backup(db, tenant, config.tenant_column)
        context.log.info(f"backup job {job.job_id} created for tenant {tenant}")
    else:
        job = jobs.get_job(db, config.job_id)
        if job.tenant != tenant:
            raise TenantArchiveError(f"backup job {job.job_id} is of tenant {job.tenant!r}, not of partition {tenant!r}")
    jobs.start_job(db, job.job_id)
    started = time.monotonic()
    try:
        key, manifest = archive_tenant(db, object_store.get_store(), tenant, str(job.job_id), config, context.log)
    except Exception as exc:
        jobs.fail_job(db, job.job_id, f"{type(exc).__name__}: {exc}")
        raise
    jobs.complete_job(db, job.job_id, key)
    return dg.MaterializeResult(
        metadata={
            "job_id": dg.MetadataValue.text(str(job.job_id)),
            "manifest_key": dg.MetadataValue.path(key),
            "rows": dg.MetadataValue.int(manifest.total_rows),
            "bytes": dg.MetadataValue.int(manifest.total_bytes),
            "files": dg.MetadataValue.int(len(manifest.files)),
            "seconds": dg.MetadataValue.float(time.monotonic() - started),
            "schema_fingerprint": dg.MetadataValue.text(manifest.schema_fingerprint),
            "rows_per_entity": dg.MetadataValue.json(manifest.rows_per_entity()),
        }
    )


@dg.asset(group_name="tenant_archives", kinds={"postgres", "csv", "s3"}, pool="tenant_archives")
def tenant_restore(
    context: dg.AssetExecutionContext,
    config: RestoreRequest,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Restores an archive as a new tenant: checks the manifest, every file's size and sha256 and the
    schema fingerprint before writing anything, then loads every file in one transaction."""
    result = restore_archive(
        database.get_database(), object_store.get_store(), config.manifest_key, config.tenant, context.log
    )
    context.instance.add_dynamic_partitions(tenants.name, [config.tenant])
    return dg.MaterializeResult(
        metadata={
            "tenant": dg.MetadataValue.text(result.tenant),
            "source_tenant": dg.MetadataValue.text(result.source_tenant),
            "manifest_key": dg.MetadataValue.path(result.manifest_key),
            "rows": dg.MetadataValue.int(result.total_rows),
            "seconds": dg.MetadataValue.float(result.seconds),
            "rows_per_entity": dg.MetadataValue.json(result.rows_per_entity),
        }
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
