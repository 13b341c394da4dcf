"""The backup-jobs sensor: every pending job becomes a run of its tenant's partition (run key = job id),
and a job no run will finish is marked failed with the reason (the stuck-job rule, `jobs.fail_stale_jobs`)."""

import datetime as dt

import dagster as dg

from pipelines.core.resources import DatabaseResource
from pipelines.tenant_archives import settings
from pipelines.tenant_archives.assets import tenant_archive_job
from pipelines.tenant_archives.jobs import BackupJob, fail_stale_jobs, pending_jobs
from pipelines.tenant_archives.partitions import tenants
from pipelines.tenant_archives.requests import ArchiveRequest, archive_run_config
from pipelines.tenant_archives.tables import backup_jobs

JOB_TAG = "backup_job_id"


def run_status_of(instance: dg.DagsterInstance):
    """`job -> status` of the run carrying it in `instance` (its recorded run, else one tagged with it)."""

    def status(job: BackupJob) -> str | None:
        if job.run_id:
            run = instance.get_run_by_id(job.run_id)
            return run.status.value if run else None
        runs = instance.get_runs(filters=dg.RunsFilter(tags={JOB_TAG: str(job.job_id)}), limit=1)
        return runs[0].status.value if runs else None

    return status


@dg.sensor(
    job=tenant_archive_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Turns pending backup_jobs into archive runs, adding the tenant partition when it is new; "
    "marks failed a job pending without a run, or running whose run is gone, for longer than "
    "PIPELINES_ARCHIVE_STALE_SECONDS.",
)
def backup_jobs_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SensorResult | dg.SkipReason:
    db = database.get_database()
    if not db.has_table(backup_jobs.name):
        return dg.SkipReason("the application database has no backup_jobs table yet: run `pipelines db upgrade`")
    stale_after = dt.timedelta(seconds=settings.stale_seconds())
    for job in fail_stale_jobs(db, run_status_of(context.instance), stale_after):
        context.log.warning(f"backup job {job.job_id} of tenant {job.tenant} failed: {job.error}")
    # The cursor is the creation time of the newest job already requested; the run key (the job id)
    # keeps a job that is seen twice from running twice.
    since = dt.datetime.fromisoformat(context.cursor) if context.cursor else None
    found = pending_jobs(db, since=since)
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
                tags={JOB_TAG: str(job.job_id), "tenant": job.tenant},
            )
            for job in found
        ],
        dynamic_partitions_requests=[tenants.build_add_request(new_tenants)] if new_tenants else [],
        cursor=max(job.created_at for job in found).isoformat(),
    )
