"""The daily retention of tenant archives."""

import dagster as dg

from pipelines.tenant_archives.assets import tenant_archive_retention_job
from pipelines.tenant_archives.requests import RetentionRequest, retention_run_config

tenant_archive_retention_schedule = dg.ScheduleDefinition(
    name="tenant_archive_retention_schedule",
    job=tenant_archive_retention_job,
    cron_schedule="30 3 * * *",
    run_config=retention_run_config(RetentionRequest()),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 03:30 UTC: keep the last 7 completed archives per tenant (keepLast), delete the rest.",
)
