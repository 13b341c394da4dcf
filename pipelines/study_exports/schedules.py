"""The jobs and schedules: the daily export at 01:00 UTC for the day before, the hourly
export a few minutes past each hour for the hour before."""

import dagster as dg

from pipelines.core.requests import request_job
from pipelines.study_exports.assets import (
    study_exports_daily,
    study_exports_hourly,
    study_exports_on_request,
    study_exports_redrives,
)
from pipelines.study_exports.requests import ExportRequest, RedriveBatch

# A failed step is not retried by the instance's run retries (deploy/dagster.yaml): a bad request
# fails the same way again, and what a retry can get past the step retries itself (see assets.py).
# A run whose process died (no step failure) is still retried by the instance.
NO_RETRY_OF_FAILED_STEPS = {"dagster/retry_on_asset_or_op_failure": "false"}

# Partitioned jobs take no config mapping (Dagster refuses one beside partitions_def): their config
# is `WindowExportOptions` as the asset's config, whose schema Dagster checks before the launch.
study_exports_daily_job = dg.define_asset_job(
    "study_exports_daily_job", selection=[study_exports_daily], tags=NO_RETRY_OF_FAILED_STEPS
)
study_exports_hourly_job = dg.define_asset_job(
    "study_exports_hourly_job", selection=[study_exports_hourly], tags=NO_RETRY_OF_FAILED_STEPS
)
study_exports_instant_job = request_job(
    "study_exports_instant_job",
    selection=[study_exports_on_request],
    requests={"study_exports_on_request": ExportRequest},
    tags=NO_RETRY_OF_FAILED_STEPS,
    description="An INSTANT export up to now (set studyWhitelist), or any export request; re-drives run here.",
)

study_exports_redrive_job = request_job(
    "study_exports_redrive_job",
    selection=[study_exports_redrives],
    requests={"study_exports_redrives": RedriveBatch},
    description="The re-drive messages of one sensor tick, exported in one run.",
    tags=NO_RETRY_OF_FAILED_STEPS,
)

# The schedule of a partitioned job runs for the last complete partition: at 01:00 UTC, the day before
# (an hour after midnight, so that uploads still arriving for the day are in).
study_exports_daily_schedule = dg.build_schedule_from_partitioned_job(
    study_exports_daily_job, name="study_exports_daily_schedule", hour_of_day=1, minute_of_hour=0
)
study_exports_hourly_schedule = dg.build_schedule_from_partitioned_job(
    study_exports_hourly_job, name="study_exports_hourly_schedule", minute_of_hour=5
)
