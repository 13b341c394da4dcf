"""The backup-jobs sensor: every pending job becomes a run of its tenant's partition (run key = job id)."""

import datetime as dt

import dagster as dg

from pipelines.core.resources import DatabaseResource
from pipelines.tenant_archives.assets import tenant_archive_job
from pipelines.tenant_archives.jobs import pending_jobs
from pipelines.tenant_archives.partitions import tenants
from pipelines.tenant_archives.requests import ArchiveRequest, archive_run_config


@dg.sensor(
    job=tenant_archive_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Turns pending backup_jobs into archive runs, adding the tenant partition when it is new.",
)
def backup_jobs_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SensorResult | dg.SkipReason:
    # The cursor is the creation time of the newest job already requested; the run key (the job id)
    # keeps a job that is seen twice from running twice.
    since = dt.datetime.fromisoformat(context.cursor) if context.cursor else None
    found = pending_jobs(database.get_database(), since=since)
    if not found:
        return dg.SkipReason("no pending backup job")
    known = set(context.instance.get_dynamic_partitions(tenants.name))
    new_tenants = sorted({job.tenant for job in found} - known)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=str(job.job_id),
                partition_key=job.tenant,
                run_config=archive_run_config(ArchiveRequest(job_id=str(job.job_id))),
                tags={"backup_job_id": str(job.job_id), "tenant": job.tenant},
            )
            for job in found
        ],
        dynamic_partitions_requests=[tenants.build_add_request(new_tenants)] if new_tenants else [],
        cursor=max(job.created_at for job in found).isoformat(),
    )
