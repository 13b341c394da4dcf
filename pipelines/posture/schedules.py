"""The posture job (refresh, export, import) and its daily schedule."""

from __future__ import annotations

import dagster as dg

from pipelines.core.requests import request_job
from pipelines.posture.assets import GROUP
from pipelines.posture.requests import ExportRequest, ImportRequest

posture_job = request_job(
    "posture_refresh_export_import",
    selection=dg.AssetSelection.groups(GROUP),
    requests={"lite_dynamic_state_export": ExportRequest, "lite_dynamic_state_import": ImportRequest},
    description="Refreshes responsive_responsibility_aggregate, exports the lite dynamic state, imports it.",
)

posture_daily_schedule = dg.ScheduleDefinition(
    name="posture_daily",
    job=posture_job,
    cron_schedule="0 4 * * *",
    execution_timezone="UTC",
    description="Every day at 04:00 UTC: refresh, export, import (REPLACE_ALL).",
)
