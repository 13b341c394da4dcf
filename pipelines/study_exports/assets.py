"""Thin Dagster assets over `run_export`: daily and hourly partitions, and one asset for explicit requests.

A partition's window is the request window. A run of several partitions (a backfill, which runs as a
single run) exports each partition's window in turn. Backfill runs (tag `dagster/backfill`) and runs
with `ignore_last_export_time` re-export: they ignore and keep the watermarks.
"""


import datetime as dt
import time
import warnings

import dagster as dg

from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.study_exports.export import ExportResult, run_export
from pipelines.study_exports.requests import ExportRequest, ExportType, WindowExportOptions
from pipelines.study_exports.resources import StudyExportsResource

GROUP = "study_exports"
POOL = "study_exports"
BACKFILL_TAG = "dagster/backfill"
DAILY_PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-01-01")
HOURLY_PARTITIONS = dg.HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
_KINDS = {"postgres", "s3", "csv"}


def _export_partitions(
    context: dg.AssetExecutionContext,
    export_type: ExportType,
    partitions_def: dg.TimeWindowPartitionsDefinition,
    config: WindowExportOptions,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
    study_exports: StudyExportsResource,
) -> dg.MaterializeResult:
    ignore = config.ignore_last_export_time or BACKFILL_TAG in context.run.tags
    requests = [
        ExportRequest.for_window(config, export_type, partitions_def.time_window_for_partition_key(key), ignore)
        for key in context.partition_keys
    ]
    return _run(context, requests, database, object_store, study_exports)


def _run(
    context: dg.AssetExecutionContext,
    requests: list[ExportRequest],
    database: DatabaseResource,
    object_store: ObjectStoreResource,
    study_exports: StudyExportsResource,
) -> dg.MaterializeResult:
    started = time.monotonic()
    db, store = database.get_database(), object_store.get_store()
    channel = study_exports.get_channel(store)
    results = []
    for request in requests:
        result = run_export(
            db,
            store,
            request,
            channel=channel,
            max_redrives=study_exports.max_redrive_count,
            clock_skew=dt.timedelta(seconds=study_exports.clock_skew_seconds),
            logger=context.log,
        )
        results.append(result)
    return dg.MaterializeResult(metadata=export_metadata(results, time.monotonic() - started))


def export_metadata(results: list[ExportResult], seconds: float) -> dict[str, dg.MetadataValue]:
    """Typed run metadata: counts as ints, the duration as a float, previews as markdown / JSON."""
    per_study: dict[str, int] = {}
    for result in results:
        for study_id, counts in result.counts.items():
            per_study[study_id] = per_study.get(study_id, 0) + sum(counts.values())
    dead = [record_id for r in results for record_id in r.dead_record_ids]
    rows = "\n".join(f"| {study} | {count} |" for study, count in sorted(per_study.items())[:50])
    return {
        "records_exported": dg.MetadataValue.int(sum(r.records for r in results)),
        "files_written": dg.MetadataValue.int(sum(len(r.keys) for r in results)),
        "windows": dg.MetadataValue.int(len(results)),
        "studies": dg.MetadataValue.int(len({s for r in results for s in r.windows})),
        "records_redriven": dg.MetadataValue.int(sum(len(r.failed_record_ids) for r in results) - len(dead)),
        "records_dead": dg.MetadataValue.int(len(dead)),
        "watermarks_moved": dg.MetadataValue.int(sum(r.watermarks_moved for r in results)),
        "seconds": dg.MetadataValue.float(round(seconds, 3)),
        "records_per_study": dg.MetadataValue.md("| study | records |\n|---|---|\n" + rows),
        "dead_record_ids": dg.MetadataValue.json(dead[:1000]),
        # One export: its whole summary (the CLI prints it). A backfill: a line per window.
        "summary": dg.MetadataValue.json(
            [results[0].summary()]
            if len(results) == 1
            else [{"export_id": r.export_id, "records": r.records, "files": len(r.keys)} for r in results]
        ),
    }


def _window_export_asset(
    name: str, export_type: ExportType, partitions_def: dg.TimeWindowPartitionsDefinition, description: str
) -> dg.AssetsDefinition:
    # backfill_policy is still marked beta; the warning would print on every load of the code location.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _window_export_asset_definition(name, export_type, partitions_def, description)


def _window_export_asset_definition(
    name: str, export_type: ExportType, partitions_def: dg.TimeWindowPartitionsDefinition, description: str
) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        description=description,
        group_name=GROUP,
        kinds=_KINDS,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=POOL,
    )
    def _export(
        context: dg.AssetExecutionContext,
        config: WindowExportOptions,
        database: DatabaseResource,
        object_store: ObjectStoreResource,
        study_exports: StudyExportsResource,
    ) -> dg.MaterializeResult:
        return _export_partitions(
            context, export_type, partitions_def, config, database, object_store, study_exports
        )

    return _export


study_exports_daily = _window_export_asset(
    "study_exports_daily",
    ExportType.DAILY,
    DAILY_PARTITIONS,
    "Daily record export (exportType DAILY): per study, records from its last_export_date_time (or the "
    "partition's start) to the partition's end, one CSV per study and schema; backfills re-export.",
)
study_exports_hourly = _window_export_asset(
    "study_exports_hourly",
    ExportType.HOURLY,
    HOURLY_PARTITIONS,
    "Hourly record export (exportType HOURLY): per study, records from its last_export_date_time (or the "
    "partition's start) to the partition's end, one CSV per study and schema; backfills re-export.",
)


@dg.asset(group_name=GROUP, kinds=_KINDS, pool=POOL)
def study_exports_on_request(
    context: dg.AssetExecutionContext,
    config: ExportRequest,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
    study_exports: StudyExportsResource,
) -> dg.MaterializeResult:
    """One explicit export request: an instant export (the default: INSTANT up to now), a re-export
    of a window, or a record re-drive from the re-drive sensor."""
    return _run(context, [config], database, object_store, study_exports)
