"""VEX assets: raw documents landed from the inbox, statements backfilled per day of retrieval."""


import dagster as dg
import sqlalchemy as sa

from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.vex.backfill import Window, backfill_statements
from pipelines.vex.ingest import land_inbox, land_paths
from pipelines.vex.requests import BackfillRequest, LandingRequest
from pipelines.vex.partitions import vex_daily_partitions
from pipelines.vex.tables import vex_raw_documents as raw_table
from pipelines.vex.tables import vex_statements as statements_table

FAILURES_CHECK = "vex_statements_without_failures"


@dg.asset(group_name="vex", kinds={"postgres", "s3"})
def vex_raw_documents(
    context: dg.AssetExecutionContext,
    config: LandingRequest,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Raw CSAF, CycloneDX and OpenVEX documents, exact bytes keyed by `sha256:` digest. Lands every
    object under `vex/inbox/` (then moves it to `vex/landed/`) or the local `paths` of the config;
    digests already known are skipped."""
    db = database.get_database()
    if config.paths:
        summary = land_paths(db, config.paths, provider=config.provider)
    else:
        summary = land_inbox(db, object_store.get_store(), prefix=config.prefix, provider=config.provider)
    context.log.info(summary.line())
    return dg.MaterializeResult(
        metadata={
            "landed": dg.MetadataValue.int(summary.landed),
            "duplicates": dg.MetadataValue.int(summary.duplicates),
            "unrecognized": dg.MetadataValue.int(summary.unrecognized),
            "summary": dg.MetadataValue.text(summary.line()),
        }
    )


def _vex_statements(
    context: dg.AssetExecutionContext, config: BackfillRequest, database: DatabaseResource
) -> dg.MaterializeResult:
    """Statements (vulnerability, product, status, justification) normalized from the raw documents
    retrieved in the partitions' days; documents that already have statements are skipped unless
    `force`. Ends with the runbook's `Backfill completed: ...` line."""
    partitions = context.partition_time_window
    window = Window(partitions.start, partitions.end)
    summary = backfill_statements(database.get_database(), config, window=window, logger=context.log)
    context.log.info(summary.line())
    return dg.MaterializeResult(
        metadata={
            "evaluated": dg.MetadataValue.int(summary.evaluated),
            "backfilled": dg.MetadataValue.int(summary.backfilled),
            "claims_written": dg.MetadataValue.int(summary.claims_written),
            "skipped": dg.MetadataValue.int(summary.skipped),
            "failures": dg.MetadataValue.int(summary.failures),
            "statements_skipped": dg.MetadataValue.int(summary.statements_skipped),
            "seconds": dg.MetadataValue.float(summary.seconds),
            "summary": dg.MetadataValue.text(summary.line()),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=FAILURES_CHECK,
                passed=summary.failures == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "failures": dg.MetadataValue.int(summary.failures),
                    "failed_digests": dg.MetadataValue.json(summary.failed_digests),
                },
            )
        ],
    )


vex_statements = dg.asset(
    name="vex_statements",
    group_name="vex",
    kinds={"postgres"},
    deps=[vex_raw_documents],
    partitions_def=vex_daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="vex_statements",
    check_specs=[
        dg.AssetCheckSpec(
            FAILURES_CHECK,
            asset="vex_statements",
            description="WARN when raw documents of the run failed to parse or normalize.",
        )
    ],
)(_vex_statements)


@dg.asset_check(asset=vex_statements, description="Statements whose raw document is missing: must be 0.")
def vex_statements_have_documents(database: DatabaseResource) -> dg.AssetCheckResult:
    orphans = sa.select(sa.func.count()).select_from(statements_table).where(
        ~sa.exists().where(raw_table.c.digest == statements_table.c.document_digest)
    )
    with database.get_database().begin() as conn:
        count = conn.scalar(orphans) or 0
    return dg.AssetCheckResult(passed=count == 0, metadata={"orphan_statements": dg.MetadataValue.int(count)})
