"""The vex assets run in-process with the code location's definitions (the CLI's path): the partition
range of `vex_statements` is derived from the raw documents, so one run covers them all."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.resources import DatabaseResource
from pipelines.core.runner import cli_instance, run_assets
from pipelines.vex.backfill import BackfillSummary, retrieved_bounds
from pipelines.vex.errors import VexError
from pipelines.vex.ingest import files_to_land
from pipelines.vex.partitions import START_DATE, partition_key_of
from pipelines.vex.requests import BackfillRequest, ConsensusPolicy, LandingRequest, RollbackRequest
from pipelines.vex.rollback import rollback
from pipelines.vex.tables import vex_raw_documents

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def ready_database() -> Database:
    """The configured database, checked, with the vex tables present."""
    database = DatabaseResource().get_database()
    database.check()
    with database.begin() as conn:
        if not sa.inspect(conn).has_table(vex_raw_documents.name):
            raise VexError(f"the vex tables are missing in {database!r}: run `pipelines db upgrade` first")
    return database


def run_backfill(request: BackfillRequest, *, instance: dg.DagsterInstance | None = None) -> BackfillSummary:
    """Materialize `vex_statements` over every partition holding raw documents (retrieved on or after
    `retrievedSince`) in one run; the summary comes back from the run's metadata."""
    from pipelines.definitions import defs

    bounds = retrieved_bounds(ready_database(), request.since)
    if bounds is None:
        return BackfillSummary()
    first, last = (max(partition_key_of(b), START_DATE) for b in bounds)
    result = run_assets(
        defs(),
        ["vex_statements", "vex_consensus"],
        instance=instance or cli_instance(),
        run_config=dg.RunConfig(ops={"vex_statements": request, "vex_consensus": ConsensusPolicy()}),
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
    )
    return summary_of(result)


def summary_of(result: dg.ExecuteInProcessResult) -> BackfillSummary:
    """The backfill counters of a run's (first) vex_statements materialization."""
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key == dg.AssetKey("vex_statements"):
            values = {name: entry.value for name, entry in materialization.metadata.items()}
            return BackfillSummary(
                evaluated=values["evaluated"],
                backfilled=values["backfilled"],
                claims_written=values["claims_written"],
                skipped=values["skipped"],
                failures=values["failures"],
                statements_skipped=values["statements_skipped"],
                seconds=values["duration_seconds"],
            )
    raise VexError("the vex_statements run materialized nothing")


def run_ingest(request: LandingRequest, *, instance: dg.DagsterInstance | None = None) -> str:
    """Materialize `vex_raw_documents` on the request's local paths; returns the landing summary line."""
    from pipelines.definitions import defs

    list(files_to_land(request.paths))  # a missing path is refused before a run starts
    ready_database()
    result = run_assets(
        defs(),
        ["vex_raw_documents"],
        instance=instance or cli_instance(),
        run_config=dg.RunConfig(ops={"vex_raw_documents": request}),
    )
    for event in result.get_asset_materialization_events():
        return event.step_materialization_data.materialization.metadata["summary"].value
    raise VexError("the vex_raw_documents run materialized nothing")


def run_rollback(request: RollbackRequest, *, instance: dg.DagsterInstance | None = None) -> dict:
    """A dry run counts in-process and writes nothing; a rollback runs `vex_rollback` (the same as
    `vex_rollback_job`), so it is recorded beside the backfill it undoes. Returns the report."""
    from pipelines.definitions import defs

    database = ready_database()
    if request.dry_run:
        return rollback(database, request).as_json(request)
    result = run_assets(
        defs(),
        ["vex_rollback"],
        instance=instance or cli_instance(),
        run_config=dg.RunConfig(ops={"vex_rollback": request}),
    )
    for event in result.get_asset_materialization_events():
        return event.step_materialization_data.materialization.metadata["report"].value
    raise VexError("the vex_rollback run materialized nothing")
