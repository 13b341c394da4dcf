"""The code location: one Definitions built from the domains. Loading it does no I/O."""

import dagster as dg

from pipelines.core.resources import default_resources
from pipelines.vex.definitions import defs as vex_defs

defs = dg.Definitions.merge(
    dg.Definitions(resources=default_resources()),
    vex_defs,
)
# Dagster refuses a module holding more than one Definitions: keep only the merged one.
del vex_defs
