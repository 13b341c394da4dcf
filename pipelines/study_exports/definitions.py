"""The study_exports Definitions (the shared `database` and `object_store` resources come from
`pipelines/definitions.py`)."""

import dagster as dg

from pipelines.study_exports.assets import (
    study_exports_daily,
    study_exports_hourly,
    study_exports_on_request,
    study_exports_redrives,
)
from pipelines.study_exports.resources import StudyExportsResource
from pipelines.study_exports.schedules import (
    study_exports_daily_job,
    study_exports_daily_schedule,
    study_exports_hourly_job,
    study_exports_hourly_schedule,
    study_exports_instant_job,
    study_exports_redrive_job,
)
from pipelines.study_exports.sensors import study_exports_redrive_sensor

defs = dg.Definitions(
    assets=[study_exports_daily, study_exports_hourly, study_exports_on_request, study_exports_redrives],
    jobs=[study_exports_daily_job, study_exports_hourly_job, study_exports_instant_job, study_exports_redrive_job],
    schedules=[study_exports_daily_schedule, study_exports_hourly_schedule],
    sensors=[study_exports_redrive_sensor],
    resources={"study_exports": StudyExportsResource()},
)
