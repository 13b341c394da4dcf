"""`import_batches_inbox_sensor`: one run per new batch under `imports/inbox/` (run key = batch id).

A batch is new when its `objects` file is there and its id is not a partition yet. `pipelines imports
submit` writes the `links` file first and the `objects` file last, so a batch is whole when seen. The
cursor is the newest modification time of an `objects` file already handled.
"""

import dagster as dg

from pipelines.core.object_store import ObjectStore
from pipelines.core.resources import ObjectStoreResource
from pipelines.import_batches.assets import import_batches
from pipelines.import_batches.batch_files import FORMATS, INBOX
from pipelines.import_batches.partitions import import_batch_partitions
from pipelines.import_batches.requests import BATCH_ID


def inbox_batches(store: ObjectStore, since: str) -> list[tuple[str, str]]:
    """(batch id, modified) of the inbox's `objects` files modified at or after `since` (ISO)."""
    found = []
    for info in store.list(INBOX):
        batch_id, _, name = info.key[len(INBOX) :].partition("/")
        if name in {f"objects.{fmt}" for fmt in FORMATS} and BATCH_ID.match(batch_id):
            modified = info.modified.isoformat()
            if modified >= since:
                found.append((batch_id, modified))
    return sorted(found, key=lambda item: (item[1], item[0]))


@dg.sensor(
    name="import_batches_inbox_sensor",
    asset_selection=[import_batches],
    minimum_interval_seconds=30,
    description="Starts one import_batches run per new batch folder under imports/inbox/.",
)
def import_batches_inbox_sensor(
    context: dg.SensorEvaluationContext, object_store: ObjectStoreResource
) -> dg.SensorResult | dg.SkipReason:
    since = context.cursor or ""
    found = inbox_batches(object_store.get_store(), since)
    known = set(context.instance.get_dynamic_partitions(import_batch_partitions.name))
    new = [batch_id for batch_id, _ in found if batch_id not in known]
    cursor = max([since, *(modified for _, modified in found)])
    if not new:
        return dg.SkipReason(f"no new batch under {INBOX}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=batch_id, partition_key=batch_id) for batch_id in new],
        dynamic_partitions_requests=[import_batch_partitions.build_add_request(new)],
        cursor=cursor,
    )
