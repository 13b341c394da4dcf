"""The code location: one Definitions built from the domains (`pipelines.core.domains`).

Loading it does no I/O. `defs()` returns the Definitions (Dagster's tools call it the same way).
Every job runs on `pipelines_executor`: Dagster's default, or Celery workers when
`PIPELINES_EXECUTOR=celery` where the run starts.
"""

import dagster as dg

from pipelines.core.domains import domain_modules
from pipelines.core.executor import pipelines_executor
from pipelines.core.resources import default_resources


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.Definitions(resources=default_resources(), executor=pipelines_executor),
        *(module.defs for module in domain_modules("definitions")),
    )
