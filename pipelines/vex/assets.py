"""VEX assets: raw documents landed from the inbox, statements backfilled per day of retrieval."""


import dagster as dg
import sqlalchemy as sa

from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.vex.backfill import Window, backfill_statements
from pipelines.vex.ingest import land_inbox, land_paths
from pipelines.vex.consensus import conflicts, recompute_pending
from pipelines.vex.requests import BackfillRequest, ConsensusPolicy, LandingRequest, RollbackRequest
from pipelines.vex.rollback import rollback
from pipelines.vex.partitions import vex_daily_partitions
from pipelines.vex.tables import vex_raw_documents as raw_table
from pipelines.vex.tables import vex_statements as statements_table

FAILURES_CHECK = "vex_statements_without_failures"
CONFLICTS_CHECK = "vex_consensus_without_conflicts"


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
            "documents_landed": dg.MetadataValue.md(_landed_table(summary.documents, summary.landed)),
        }
    )


def _landed_table(documents: list[tuple[str, str, str, str]], landed: int) -> str:
    if not documents:
        return "(nothing new landed)"
    lines = ["| digest | provider | format | source |", "|---|---|---|---|"]
    lines += [f"| `{digest}` | {provider} | {fmt} | {source} |" for digest, provider, fmt, source in documents]
    if landed > len(documents):
        lines.append(f"| ... and {landed - len(documents)} more | | | |")
    return "\n".join(lines)


def _vex_statements(
    context: dg.AssetExecutionContext, config: BackfillRequest, database: DatabaseResource
) -> dg.MaterializeResult:
    """Statements (vulnerability, product, status, justification) normalized from the raw documents
    retrieved in the partitions' days; documents that already have statements are skipped unless
    `force`. Ends with the runbook's `Backfill completed: ...` line."""
    partitions = context.partition_time_window
    window = Window(partitions.start, partitions.end)
    summary = backfill_statements(
        database.get_database(), config, window=window, run_id=context.run.run_id, logger=context.log
    )
    context.log.info(summary.line())
    return dg.MaterializeResult(
        metadata={
            "evaluated": dg.MetadataValue.int(summary.evaluated),
            "backfilled": dg.MetadataValue.int(summary.backfilled),
            "claims_written": dg.MetadataValue.int(summary.claims_written),
            "skipped": dg.MetadataValue.int(summary.skipped),
            "failures": dg.MetadataValue.int(summary.failures),
            "statements_skipped": dg.MetadataValue.int(summary.statements_skipped),
            "duration_seconds": dg.MetadataValue.float(round(summary.seconds, 3)),
            "summary": dg.MetadataValue.text(summary.line()),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=FAILURES_CHECK,
                passed=summary.failures == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    # A check result has no partition of its own: it names the run's days.
                    "partitions": dg.MetadataValue.text(
                        f"{context.partition_key_range.start}..{context.partition_key_range.end}"
                    ),
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


@dg.asset(
    group_name="vex",
    kinds={"postgres"},
    deps=[vex_statements],
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=[
        dg.AssetCheckSpec(
            CONFLICTS_CHECK,
            asset="vex_consensus",
            description="WARN listing the (vulnerability, product) pairs whose deciding providers conflict.",
        )
    ],
)
def vex_consensus(
    context: dg.AssetExecutionContext, config: ConsensusPolicy, database: DatabaseResource
) -> dg.MaterializeResult:
    """One row per (vulnerability, product): the effective status across providers and documents, the
    statements that decided it, and whether they conflict (policy: README "Consensus"). Recomputes
    only the pairs that backfills and rollbacks changed since the last materialization."""
    db = database.get_database()
    summary = recompute_pending(db, config, logger=context.log)
    conflict_count, listed = conflicts(db)
    return dg.MaterializeResult(
        metadata={
            "pairs_recomputed": dg.MetadataValue.int(summary.pairs),
            "conflicts_recomputed": dg.MetadataValue.int(summary.conflicts),
            "duration_seconds": dg.MetadataValue.float(round(summary.seconds, 3)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CONFLICTS_CHECK,
                passed=conflict_count == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "conflicts": dg.MetadataValue.int(conflict_count),
                    "first_conflicts": dg.MetadataValue.json(listed),
                },
            )
        ],
    )


@dg.asset(group_name="vex", kinds={"postgres"})
def vex_rollback(
    context: dg.AssetExecutionContext, config: RollbackRequest, database: DatabaseResource
) -> dg.MaterializeResult:
    """A rollback of backfilled statements (the runbook's): deletes the statements of one run, or those
    inserted in a window, and their documents' done-marks (raw documents stay, so a rerun brings
    them back), then recomputes the consensus of the pairs they named. Each materialization
    records what it removed."""
    summary = rollback(database.get_database(), config)
    report = summary.as_json(config)
    context.log.info(f"vex rollback: {report}")
    return dg.MaterializeResult(
        metadata={
            "statements_removed": dg.MetadataValue.int(0 if summary.dry_run else summary.statements),
            "documents": dg.MetadataValue.int(len(summary.documents)),
            "pairs_recomputed": dg.MetadataValue.int(summary.consensus.pairs if summary.consensus else 0),
            "report": dg.MetadataValue.json(report),
        }
    )
