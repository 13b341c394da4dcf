"""The posture job (refresh, export, import) and its daily schedule."""

from __future__ import annotations

import dagster as dg

from pipelines.posture.assets import GROUP

posture_job = dg.define_asset_job(
    "posture_refresh_export_import",
    selection=dg.AssetSelection.groups(GROUP),
    description="Refreshes responsive_responsibility_aggregate, exports the lite dynamic state, imports it.",
)

posture_daily_schedule = dg.ScheduleDefinition(
    name="posture_daily",
    job=posture_job,
    cron_schedule="0 4 * * *",
    execution_timezone="UTC",
    description="Every day at 04:00 UTC: refresh, export, import (REPLACE_ALL).",
)
