"""The code location: one Definitions built from the domains. Loading it does no I/O."""

import dagster as dg

from pipelines.core.resources import default_resources
from pipelines.study_exports import definitions as study_exports_definitions

defs = dg.Definitions.merge(
    dg.Definitions(resources=default_resources()),
    study_exports_definitions.defs,
)
