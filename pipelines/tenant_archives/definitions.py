import dagster as dg

from pipelines.tenant_archives.assets import (
    backup_jobs_not_failed_or_stuck,
    tenant_archive_job,
    tenant_archive_retention,
    tenant_archive_retention_job,
    tenant_archives,
    tenant_restore,
    tenant_restore_job,
)
from pipelines.tenant_archives.schedules import tenant_archive_nightly_schedule, tenant_archive_retention_schedule
from pipelines.tenant_archives.sensors import backup_jobs_sensor

defs = dg.Definitions(
    assets=[tenant_archives, tenant_restore, tenant_archive_retention],
    asset_checks=[backup_jobs_not_failed_or_stuck],
    jobs=[tenant_archive_job, tenant_restore_job, tenant_archive_retention_job],
    schedules=[tenant_archive_retention_schedule, tenant_archive_nightly_schedule],
    sensors=[backup_jobs_sensor],
)
