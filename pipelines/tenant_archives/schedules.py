"""The daily retention of tenant archives, and the nightly fan-out of their backups."""

import datetime as dt

import dagster as dg

from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.tenant_archives.assets import tenant_archive_job, tenant_archive_retention_job
from pipelines.tenant_archives.fan_out import changed_tenants
from pipelines.tenant_archives.partitions import tenants
from pipelines.tenant_archives.requests import (
    ArchiveRequest,
    RetentionRequest,
    archive_run_config,
    retention_run_config,
)

tenant_archive_retention_schedule = dg.ScheduleDefinition(
    name="tenant_archive_retention_schedule",
    job=tenant_archive_retention_job,
    cron_schedule="30 3 * * *",
    run_config=retention_run_config(RetentionRequest()),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 03:30 UTC: keep the last 7 completed archives per tenant (keepLast), delete the rest.",
)


@dg.schedule(
    name="tenant_archive_nightly_schedule",
    job=tenant_archive_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Every night at 02:00 UTC: one archive run per tenant whose data changed since its last "
    "completed archive (run key: tenant and day), so N workers archive N tenants at once.",
)
def tenant_archive_nightly_schedule(
    context: dg.ScheduleEvaluationContext, database: DatabaseResource, object_store: ObjectStoreResource
) -> list[dg.RunRequest] | dg.SkipReason:
    day = context.scheduled_execution_time.astimezone(dt.timezone.utc).date().isoformat()
    changed = changed_tenants(database.get_database(), object_store.get_store())
    if not changed:
        return dg.SkipReason("no tenant changed since its last completed archive")
    known = set(context.instance.get_dynamic_partitions(tenants.name))
    new = [tenant for tenant in changed if tenant not in known]
    if new:
        context.instance.add_dynamic_partitions(tenants.name, new)
    return [
        dg.RunRequest(
            run_key=f"{tenant}:{day}",
            partition_key=tenant,
            run_config=archive_run_config(ArchiveRequest()),
            tags={"tenant": tenant, "nightly": day},
        )
        for tenant in changed
    ]
