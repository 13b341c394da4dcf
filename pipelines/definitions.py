"""The code location: one Definitions built from the domains. Loading it does no I/O."""

import dagster as dg

from pipelines.core.resources import default_resources
from pipelines.import_batches.definitions import defs as import_batches_defs

defs = dg.Definitions.merge(
    dg.Definitions(resources=default_resources()),
    import_batches_defs,
)
