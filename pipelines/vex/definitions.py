"""The vex domain's Definitions: assets, checks and sensors (resources come from the code location)."""

import dagster as dg

from pipelines.vex.assets import vex_raw_documents, vex_statements, vex_statements_have_documents
from pipelines.vex.jobs import vex_landing_job
from pipelines.vex.sensors import vex_inbox_sensor, vex_raw_documents_sensor

defs = dg.Definitions(
    assets=[vex_raw_documents, vex_statements],
    asset_checks=[vex_statements_have_documents],
    jobs=[vex_landing_job],
    sensors=[vex_inbox_sensor, vex_raw_documents_sensor],
)
