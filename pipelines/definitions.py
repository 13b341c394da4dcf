"""The code location: one Definitions built from the domains (`pipelines.core.domains`).

Loading it does no I/O. `defs()` returns the Definitions (Dagster's tools call it the same way).
Every asset links to its source (code references in the UI) and names its owner.
Every job runs on `pipelines_executor`: Dagster's default, or Celery workers when
`PIPELINES_EXECUTOR=celery` where the run starts.
"""

import dagster as dg

from pipelines.core.alerts import run_failure_alert
from pipelines.core.domains import domain_modules
from pipelines.core.executor import pipelines_executor
from pipelines.core.resources import default_resources

OWNER = "team:platform-data"


@dg.definitions
def defs() -> dg.Definitions:
    merged = dg.Definitions.merge(
        dg.Definitions(resources=default_resources(), sensors=[run_failure_alert], executor=pipelines_executor),
        *(module.defs for module in domain_modules("definitions")),
    )
    return dg.Definitions(
        assets=dg.with_source_code_references(list(merged.assets or [])),
        asset_checks=merged.asset_checks,
        jobs=merged.jobs,
        schedules=merged.schedules,
        sensors=merged.sensors,
        resources=merged.resources,
        executor=merged.executor,
        loggers=merged.loggers,
    ).map_asset_specs(func=lambda spec: spec.replace_attributes(owners=spec.owners or [OWNER]))
