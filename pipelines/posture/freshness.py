"""How fresh the aggregate view must be: the seed's most common problem is "Export Returns Empty
Results: materialized view not refreshed". The daily schedule refreshes it at 04:00 UTC, so a view not
refreshed for 26 hours is overdue (WARN: an export of it still runs, and says in its metadata how old
the view is)."""

import datetime as dt

import dagster as dg

AGGREGATE = dg.AssetKey("responsive_responsibility_aggregate")
AGGREGATE_MAX_AGE = dt.timedelta(hours=26)

posture_freshness_checks = dg.build_last_update_freshness_checks(
    assets=[AGGREGATE], lower_bound_delta=AGGREGATE_MAX_AGE, severity=dg.AssetCheckSeverity.WARN
)

posture_freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=posture_freshness_checks, name="posture_freshness_sensor", minimum_interval_seconds=600
)
