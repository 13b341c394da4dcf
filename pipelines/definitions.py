"""The code location: one Definitions built from the domains. Loading it does no I/O.

Domains are imported as modules: Dagster loads the one `Definitions` found at module scope here.
"""

import dagster as dg

from pipelines.core.resources import default_resources
from pipelines.import_batches import definitions as import_batches
from pipelines.posture import definitions as posture
from pipelines.study_exports import definitions as study_exports
from pipelines.tenant_archives import definitions as tenant_archives
from pipelines.vex import definitions as vex

defs = dg.Definitions.merge(
    dg.Definitions(resources=default_resources()),
    posture.defs,
    study_exports.defs,
    vex.defs,
    tenant_archives.defs,
    import_batches.defs,
)
