"""How fresh the daily and hourly exports must be: the daily schedule exports yesterday at 01:00 UTC,
so yesterday's partition is overdue at 03:00; the hourly one runs at :05, so the last hour's
partition is overdue at :30. WARN: a late export is worth a look, not a stop."""

import dagster as dg

DAILY = dg.AssetKey("study_exports_daily")
HOURLY = dg.AssetKey("study_exports_hourly")

study_exports_freshness_checks = [
    *dg.build_time_partition_freshness_checks(
        assets=[DAILY], deadline_cron="0 3 * * *", timezone="UTC", severity=dg.AssetCheckSeverity.WARN
    ),
    *dg.build_time_partition_freshness_checks(
        assets=[HOURLY], deadline_cron="30 * * * *", timezone="UTC", severity=dg.AssetCheckSeverity.WARN
    ),
]

study_exports_freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=study_exports_freshness_checks,
    name="study_exports_freshness_sensor",
    minimum_interval_seconds=600,
)
