"""The `import_batches` asset: one partition per batch, run to `complete` or `error`; re-running resumes."""

import dagster as dg
import sqlalchemy as sa

from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.import_batches.creators import ImportCreators
from pipelines.import_batches.errors import ImportBatchError
from pipelines.import_batches.partitions import import_batch_partitions
from pipelines.import_batches.processing import BatchState, process_batch
from pipelines.import_batches.tables import import_batches as batches_table

ERRORS_LISTED = 20


@dg.asset(
    group_name="import_batches",
    kinds={"postgres", "s3"},
    partitions_def=import_batch_partitions,
    pool="import_batches",
)
def import_batches(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
    import_creators: ImportCreators,
) -> dg.MaterializeResult:
    """The batch's pending objects and links (from `imports/inbox/{batch_id}/`), created in dependency
    order in waves by the import creators (the posture catalog by default). Fails, listing the batch's
    errors, when the batch ends in `error`; materializing it again resumes an interrupted batch."""
    batch_id = context.partition_key
    state = process_batch(
        database.get_database(),
        object_store.get_store(),
        batch_id,
        import_creators,
        on_wave=lambda wave, count: context.log.info(f"batch {batch_id}: wave {wave} created {count} objects"),
    )
    if state.status == "error":
        listed = state.errors[:ERRORS_LISTED]
        more = f" (and {len(state.errors) - len(listed)} more)" if len(state.errors) > len(listed) else ""
        raise ImportBatchError(
            f"batch {batch_id} ended in error with {len(state.errors)} errors{more}: " + " | ".join(listed)
        )
    return dg.MaterializeResult(metadata=batch_metadata(state))


def batch_metadata(state: BatchState) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue] = {
        "status": dg.MetadataValue.text(state.status),
        "objects": dg.MetadataValue.int(state.object_count),
        "links": dg.MetadataValue.int(state.link_count),
        "waves": dg.MetadataValue.int(state.waves),
        "existing_objects": dg.MetadataValue.int(state.existing_objects),
        "seconds": dg.MetadataValue.float(round(state.seconds, 3)),
    }
    for kind, counts in (("objects", state.objects), ("links", state.links)):
        for status, count in counts.items():
            metadata[f"{kind}_{status}"] = dg.MetadataValue.int(count)
    return metadata


BATCHES_NAMED = 20


@dg.asset_check(
    asset=import_batches,
    blocking=False,
    description="WARN while import batches are in `error` (a silent failure once the run is forgotten): names them.",
)
def import_batches_not_in_error(database: DatabaseResource) -> dg.AssetCheckResult:
    in_error = (
        sa.select(batches_table.c.batch_id)
        .where(batches_table.c.status == "error")
        .order_by(batches_table.c.batch_id)
    )
    with database.get_database().begin() as conn:
        count = conn.scalar(sa.select(sa.func.count()).select_from(in_error.subquery())) or 0
        named = list(conn.scalars(in_error.limit(BATCHES_NAMED)))
    more = f" and {count - len(named)} more" if count > len(named) else ""
    return dg.AssetCheckResult(
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"batches in error: {', '.join(named)}{more}" if count else "no batch in error",
        metadata={
            "batches_in_error": dg.MetadataValue.int(count),
            "batch_ids": dg.MetadataValue.text(", ".join(named) + more),
        },
    )
