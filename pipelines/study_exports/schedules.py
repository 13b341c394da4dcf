"""The jobs and schedules: the daily export at 01:00 UTC for the day before, the hourly
export a few minutes past each hour for the hour before."""

import dagster as dg

from pipelines.core.requests import request_job
from pipelines.study_exports.assets import (
    study_exports_daily,
    study_exports_hourly,
    study_exports_on_request,
)
from pipelines.study_exports.requests import ExportRequest

# Partitioned jobs take no config mapping (Dagster refuses one beside partitions_def): their config
# is `WindowExportOptions` as the asset's config, whose schema Dagster checks before the launch.
study_exports_daily_job = dg.define_asset_job("study_exports_daily_job", selection=[study_exports_daily])
study_exports_hourly_job = dg.define_asset_job("study_exports_hourly_job", selection=[study_exports_hourly])
study_exports_instant_job = request_job(
    "study_exports_instant_job",
    selection=[study_exports_on_request],
    requests={"study_exports_on_request": ExportRequest},
    description="An INSTANT export up to now (set studyWhitelist), or any export request; re-drives run here.",
)

# The schedule of a partitioned job runs for the last complete partition: at 01:00 UTC, the day before
# (an hour after midnight, so that uploads still arriving for the day are in).
study_exports_daily_schedule = dg.build_schedule_from_partitioned_job(
    study_exports_daily_job, name="study_exports_daily_schedule", hour_of_day=1, minute_of_hour=0
)
study_exports_hourly_schedule = dg.build_schedule_from_partitioned_job(
    study_exports_hourly_job, name="study_exports_hourly_schedule", minute_of_hour=5
)
