"""Thin Dagster assets over `run_export`: daily and hourly partitions, explicit requests, re-drives.

A partition's window is the request window. A run of several partitions (a backfill, which runs as a
single run) exports each partition's window in turn, as its own export with its own manifest, and
records each partition's own counts and keys on that partition's materialization. Backfill runs (tag
`dagster/backfill`) and runs with `ignoreLastExportTime` re-export: they ignore and keep the watermarks.

No pool: exports of disjoint study sets run at once; two exports of the same studies are serialized
by the studies' watermark rows (see README: Study exports, "What runs in parallel").

Every export asset carries the WARN check `no_dead_records`: it fails while the dead-letter list holds
records of the run's windows (or records the run gave up on), naming them.

Retries: a bad request (`StudyExportError`) fails the step for good, and the jobs tell the instance's
run retries not to retry a failed step (`dagster/retry_on_asset_or_op_failure: false`); a lost
database connection or an object-store error is retried by the step itself (`dg.RetryRequested`), as a
new export beside whatever the failed attempt published.
"""


import datetime as dt
import time
import warnings
from collections.abc import Sequence

import dagster as dg
import psycopg
import sqlalchemy as sa

from pipelines.core.object_store import ObjectStore
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.study_exports.errors import StudyExportError
from pipelines.study_exports.export import ExportResult, run_export
from pipelines.study_exports.publication import dead_records
from pipelines.study_exports.requests import ExportRequest, ExportType, RedriveBatch, WindowExportOptions, parse_iso
from pipelines.study_exports.resources import StudyExportsResource

GROUP = "study_exports"
BACKFILL_TAG = "dagster/backfill"
DEAD_RECORDS_CHECK = "no_dead_records"
STEP_RETRIES = 2
STEP_RETRY_WAIT_SECONDS = 5
DAILY_PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-01-01")
HOURLY_PARTITIONS = dg.HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
_KINDS = {"postgres", "s3", "csv"}


def _check_specs(asset: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            DEAD_RECORDS_CHECK,
            asset=asset,
            description="WARN while the dead-letter list (redrive/dead/) holds records of the exported windows.",
        )
    ]


class _Exports:
    """The exports of one step: run in turn, each timed, on the run's resources."""

    def __init__(
        self,
        context: dg.AssetExecutionContext,
        database: DatabaseResource,
        object_store: ObjectStoreResource,
        study_exports: StudyExportsResource,
    ):
        self.context = context
        self.database, self.store = database.get_database(), object_store.get_store()
        self.channel = study_exports.get_channel(self.store)
        self.settings = study_exports

    def run(self, request: ExportRequest) -> tuple[ExportResult, float]:
        started = time.monotonic()
        try:
            result = run_export(
                self.database,
                self.store,
                request,
                channel=self.channel,
                max_redrives=self.settings.max_redrive_count,
                clock_skew=dt.timedelta(seconds=self.settings.clock_skew_seconds),
                logger=self.context.log,
            )
        except Exception as exc:
            if _transient(exc):
                raise dg.RetryRequested(max_retries=STEP_RETRIES, seconds_to_wait=STEP_RETRY_WAIT_SECONDS) from exc
            raise
        return result, time.monotonic() - started

    def check(
        self, asset: str, results: Sequence[ExportResult], windows: Sequence[tuple[dt.datetime, dt.datetime]]
    ) -> dg.AssetCheckResult:
        dead = dead_records(self.store, windows, (i for r in results for i in r.dead_record_ids))
        names = ", ".join(f"{d['record_id']} (study {d['study_id']}, {d['uploaded_on']})" for d in dead[:20])
        return dg.AssetCheckResult(
            asset_key=asset,
            check_name=DEAD_RECORDS_CHECK,
            passed=not dead,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{len(dead)} dead record(s): {names}" if dead else "no dead records",
            metadata={
                "dead_records": dg.MetadataValue.int(len(dead)),
                "dead_record_ids": dg.MetadataValue.json([d["record_id"] for d in dead[:1000]]),
            },
        )


def _transient(exc: BaseException) -> bool:
    """Errors a retry can get past: a lost database connection, an object store or network error."""
    if isinstance(exc, (sa.exc.OperationalError, psycopg.OperationalError, OSError, ConnectionError)):
        return True
    return type(exc).__module__.startswith(("botocore", "urllib3"))


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
        check_specs=_check_specs(name),
    )
    def _export(
        context: dg.AssetExecutionContext,
        config: WindowExportOptions,
        database: DatabaseResource,
        object_store: ObjectStoreResource,
        study_exports: StudyExportsResource,
    ) -> dg.MaterializeResult:
        exports = _Exports(context, database, object_store, study_exports)
        ignore = config.ignore_last_export_time or BACKFILL_TAG in context.run.tags
        results, windows = [], []
        for key in context.partition_keys:
            window = partitions_def.time_window_for_partition_key(key)
            result, seconds = exports.run(ExportRequest.for_window(config, export_type, window, ignore))
            # Each partition's materialization gets its own window's numbers (one run, many partitions).
            context.add_asset_metadata(export_metadata([result], seconds, exports.store), partition_key=key)
            results.append(result)
            windows.append((window.start, window.end))
        return dg.MaterializeResult(check_results=[exports.check(name, results, windows)])

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


def _request_windows(results: Sequence[ExportResult]) -> list[tuple[dt.datetime, dt.datetime]]:
    windows = {w for r in results for w in r.windows.values() if w is not None}
    return [(parse_iso(start), parse_iso(end)) for start, end in sorted(windows)]


@dg.asset(group_name=GROUP, kinds=_KINDS, check_specs=_check_specs("study_exports_on_request"))
def study_exports_on_request(
    context: dg.AssetExecutionContext,
    config: ExportRequest,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
    study_exports: StudyExportsResource,
) -> dg.MaterializeResult:
    """One explicit export request: an instant export (the default: INSTANT up to now), a re-export
    of a window, or a record re-drive."""
    exports = _Exports(context, database, object_store, study_exports)
    result, seconds = exports.run(config)
    return dg.MaterializeResult(
        metadata=export_metadata([result], seconds, exports.store),
        check_results=[exports.check("study_exports_on_request", [result], _request_windows([result]))],
    )


@dg.asset(group_name=GROUP, kinds=_KINDS, check_specs=_check_specs("study_exports_redrives"))
def study_exports_redrives(
    context: dg.AssetExecutionContext,
    config: RedriveBatch,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
    study_exports: StudyExportsResource,
) -> dg.MaterializeResult:
    """The re-drive messages of one sensor tick (up to 100), each exported in turn as its own export."""
    exports = _Exports(context, database, object_store, study_exports)
    started = time.monotonic()
    results, refused = [], []
    for number, request in enumerate(config.requests):
        try:
            results.append(exports.run(request)[0])
        except StudyExportError as exc:  # one bad message does not stop the others
            message_id = config.message_ids[number] if number < len(config.message_ids) else f"#{number + 1}"
            context.log.error(f"re-drive message {message_id}: {exc}")
            refused.append(f"{message_id}: {exc}")
    if refused:
        raise StudyExportError(
            f"{len(refused)} of {len(config.requests)} re-drive message(s) could not be exported "
            f"(the others were): {'; '.join(refused)[:2000]}"
        )
    return dg.MaterializeResult(
        metadata=export_metadata(results, time.monotonic() - started, exports.store),
        check_results=[exports.check("study_exports_redrives", results, _request_windows(results))],
    )


def export_metadata(results: list[ExportResult], seconds: float, store: ObjectStore) -> dict[str, dg.MetadataValue]:
    """Typed metadata: counts as ints, the duration rounded, the manifests and files as links."""
    per_study: dict[str, int] = {}
    for result in results:
        for study_id, counts in result.counts.items():
            per_study[study_id] = per_study.get(study_id, 0) + sum(counts.values())
    dead = [record_id for r in results for record_id in r.dead_record_ids]
    rows = "\n".join(f"| {study} | {count} |" for study, count in sorted(per_study.items())[:50])
    keys = [key for r in results for key in r.keys]
    files = "\n".join(f"| [{key}]({store.location(key)}) |" for key in keys[:50])
    metadata = {
        "records_exported": dg.MetadataValue.int(sum(r.records for r in results)),
        "files_written": dg.MetadataValue.int(len(keys)),
        "windows": dg.MetadataValue.int(len(results)),
        "studies": dg.MetadataValue.int(len({s for r in results for s in r.windows})),
        "records_redriven": dg.MetadataValue.int(sum(len(r.failed_record_ids) for r in results) - len(dead)),
        "records_dead": dg.MetadataValue.int(len(dead)),
        "watermarks_moved": dg.MetadataValue.int(sum(r.watermarks_moved for r in results)),
        "duration_seconds": dg.MetadataValue.float(round(seconds, 3)),
        "records_per_study": dg.MetadataValue.md("| study | records |\n|---|---|\n" + rows),
        "files": dg.MetadataValue.md("| file |\n|---|\n" + files),
        "dead_record_ids": dg.MetadataValue.json(dead[:1000]),
        # One export: its whole summary (the CLI prints it). Several: a line per export.
        "summary": dg.MetadataValue.json(
            [results[0].summary()]
            if len(results) == 1
            else [{"export_id": r.export_id, "records": r.records, "files": len(r.keys)} for r in results]
        ),
    }
    if len(results) == 1 and results[0].manifest_key:
        metadata["manifest"] = dg.MetadataValue.path(store.location(results[0].manifest_key))
    return metadata
