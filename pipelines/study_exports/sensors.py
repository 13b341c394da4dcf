"""The re-drive sensor: the valid re-drive messages of a tick (up to 100) become one run of
`study_exports_redrive_job`.

No message is lost and none runs twice: a tick requests the run (its run key names its messages) and
keeps the messages' receipt handles in its cursor, as pending; a later tick that finds the run
acknowledges each of them once (deleted from SQS / moved to `redrive/done/`). A message still pending
is not requested again when it is redelivered. An invalid message (bad JSON, unknown exportType,
unparsable dates, end before start...) is rejected at once (the queue's dead-letter queue, or
`redrive/rejected/` with the reason) and the sensor goes on.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import dagster as dg

from pipelines.core.resources import ObjectStoreResource
from pipelines.study_exports.errors import StudyExportError
from pipelines.study_exports.redrive import RedriveChannel, RedriveMessage
from pipelines.study_exports.requests import MAX_REDRIVES_PER_RUN, ExportRequest, RedriveBatch
from pipelines.study_exports.resources import StudyExportsResource
from pipelines.study_exports.schedules import study_exports_redrive_job

RUN_KEY_TAG = "dagster/run_key"
MESSAGES_TAG = "study_exports/redrive_messages"


def parse_message(body: str) -> ExportRequest:
    """A re-drive message body as a request; `StudyExportError` says what is wrong with it."""
    return ExportRequest.parse_json(body, source="message")


def batch_run_key(message_ids: list[str]) -> str:
    """The same messages always give the same run key."""
    return "redrive-" + hashlib.sha256("\n".join(sorted(message_ids)).encode()).hexdigest()[:24]


def _run_exists(instance: dg.DagsterInstance, run_key: str) -> bool:
    return bool(instance.get_run_ids(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1))


def _acknowledge_started(
    context: dg.SensorEvaluationContext, channel: RedriveChannel, cursor: dict[str, Any]
) -> None:
    for run_key, messages in list(cursor["pending"].items()):
        if not _run_exists(context.instance, run_key):
            continue
        for message_id, handle in messages:
            channel.ack(RedriveMessage(message_id, "", handle))
            cursor["acknowledged"] += 1
        del cursor["pending"][run_key]


@dg.sensor(
    job=study_exports_redrive_job,
    minimum_interval_seconds=30,
    description="Turns the re-drive messages of a tick (SQS or redrive/inbox/ in the object store) into one run.",
)
def study_exports_redrive_sensor(
    context: dg.SensorEvaluationContext,
    object_store: ObjectStoreResource,
    study_exports: StudyExportsResource,
) -> dg.SensorResult:
    channel = study_exports.get_channel(object_store.get_store())
    cursor = {"requested": 0, "acknowledged": 0, "rejected": 0, "pending": {}}
    cursor.update(json.loads(context.cursor) if context.cursor else {})
    _acknowledge_started(context, channel, cursor)
    pending = {message_id for messages in cursor["pending"].values() for message_id, _ in messages}
    batch: list[tuple[RedriveMessage, ExportRequest]] = []
    for message in channel.receive(MAX_REDRIVES_PER_RUN):
        if message.message_id in pending:
            continue  # redelivered while its run is being started
        try:
            request = parse_message(message.body)
        except StudyExportError as exc:
            where = channel.reject(message, f"invalid re-drive message {message.message_id}: {exc}")
            context.log.warning(f"rejected re-drive message {message.message_id} to {where}: {exc}")
            cursor["rejected"] += 1
            continue
        batch.append((message, request))
    if not batch:
        return dg.SensorResult(
            skip_reason=f"no new re-drive message in {channel.describe()}", cursor=json.dumps(cursor)
        )
    message_ids = [message.message_id for message, _ in batch]
    run_key = batch_run_key(message_ids)
    cursor["pending"][run_key] = [[message.message_id, message.handle] for message, _ in batch]
    cursor["requested"] += len(batch)
    config = RedriveBatch(requests=[request for _, request in batch], message_ids=message_ids)
    run_request = dg.RunRequest(
        run_key=run_key,
        run_config=dg.RunConfig(ops={"study_exports_redrives": config}),
        tags={MESSAGES_TAG: str(len(batch))},
    )
    return dg.SensorResult(run_requests=[run_request], cursor=json.dumps(cursor))
