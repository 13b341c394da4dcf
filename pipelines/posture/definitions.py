"""The posture domain's Definitions (the resources come from `pipelines.definitions`)."""

import dagster as dg

from pipelines.posture.assets import (
    lite_dynamic_state_export,
    lite_dynamic_state_import,
    responsive_responsibility_aggregate,
)
from pipelines.posture.schedules import posture_daily_schedule, posture_job

defs = dg.Definitions(
    assets=[responsive_responsibility_aggregate, lite_dynamic_state_export, lite_dynamic_state_import],
    jobs=[posture_job],
    schedules=[posture_daily_schedule],
)
