"""The vex jobs: each takes its request as run config, checked when the run's plan is built (a bad
`prefix` is refused by the launchpad before a run exists).

`vex_statements` has no such job: Dagster refuses a config mapping on a partitioned job, so its
request (`BackfillRequest`) is checked by Dagster's config schema at launch (types, unknown fields)
and by the model when the step starts (bounds: a `batchSize` of 0 fails the run with one line)."""

from pipelines.core.requests import request_job
from pipelines.vex.assets import vex_raw_documents
from pipelines.vex.requests import LandingRequest

vex_landing_job = request_job(
    "vex_landing_job",
    selection=[vex_raw_documents],
    requests={"vex_raw_documents": LandingRequest},
    description="Land raw VEX documents from the inbox (or local paths).",
)
