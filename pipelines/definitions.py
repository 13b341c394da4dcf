"""The code location: one Definitions built from the domains (`pipelines.core.domains`).

Loading it does no I/O. `defs()` returns the Definitions (Dagster's tools call it the same way).
"""

import dagster as dg

from pipelines.core.alerts import run_failure_alert
from pipelines.core.domains import domain_modules
from pipelines.core.resources import default_resources


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.Definitions(resources=default_resources(), sensors=[run_failure_alert]),
        *(module.defs for module in domain_modules("definitions")),
    )
