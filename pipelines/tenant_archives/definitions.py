import dagster as dg

from pipelines.tenant_archives.assets import tenant_archive_job, tenant_archives, tenant_restore, tenant_restore_job
from pipelines.tenant_archives.sensors import backup_jobs_sensor

defs = dg.Definitions(
    assets=[tenant_archives, tenant_restore],
    jobs=[tenant_archive_job, tenant_restore_job],
    sensors=[backup_jobs_sensor],
)
