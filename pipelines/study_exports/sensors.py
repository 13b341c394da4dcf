"""The re-drive sensor: one run of `study_exports_instant_job` per valid re-drive message.

Each message is handled in two ticks, so that none is lost: the first tick requests a run whose run
key is the message id; a later tick sees that run and acknowledges the message (deleted from SQS /
moved to `redrive/done/`). A redelivered message therefore never starts a second run. An invalid
message (bad JSON, unknown exportType, unparsable dates, end before start...) is rejected at once
(the queue's dead-letter queue, or `redrive/rejected/` with the reason) and the sensor goes on.
"""


import json

import dagster as dg

from pipelines.core.resources import ObjectStoreResource
from pipelines.study_exports.errors import StudyExportError
from pipelines.study_exports.requests import ExportRequest
from pipelines.study_exports.resources import StudyExportsResource
from pipelines.study_exports.schedules import study_exports_instant_job

MESSAGES_PER_TICK = 50
RUN_KEY_TAG = "dagster/run_key"
MESSAGE_TAG = "study_exports/redrive_message"


def parse_message(body: str) -> ExportRequest:
    """A re-drive message body as a request; `StudyExportError` says what is wrong with it."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError as exc:
        raise StudyExportError(f"message: not JSON ({exc})") from None
    return ExportRequest.parse(message, source="message")


def _run_exists(instance: dg.DagsterInstance, run_key: str) -> bool:
    return bool(instance.get_run_ids(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1))


@dg.sensor(
    job=study_exports_instant_job,
    minimum_interval_seconds=30,
    description="Starts one export run per re-drive message (SQS or redrive/inbox/ in the object store).",
)
def study_exports_redrive_sensor(
    context: dg.SensorEvaluationContext,
    object_store: ObjectStoreResource,
    study_exports: StudyExportsResource,
) -> dg.SensorResult:
    channel = study_exports.get_channel(object_store.get_store())
    cursor = json.loads(context.cursor) if context.cursor else {"requested": 0, "acknowledged": 0, "rejected": 0}
    run_requests = []
    for message in channel.receive(MESSAGES_PER_TICK):
        if _run_exists(context.instance, message.message_id):
            channel.ack(message)
            cursor["acknowledged"] += 1
            continue
        try:
            request = parse_message(message.body)
        except StudyExportError as exc:
            where = channel.reject(message, f"invalid re-drive message {message.message_id}: {exc}")
            context.log.warning(f"rejected re-drive message {message.message_id} to {where}: {exc}")
            cursor["rejected"] += 1
            continue
        run_requests.append(
            dg.RunRequest(
                run_key=message.message_id,
                run_config=dg.RunConfig(ops={"study_exports_on_request": request}),
                tags={MESSAGE_TAG: message.message_id},
            )
        )
        cursor["requested"] += 1
    if not run_requests:
        return dg.SensorResult(skip_reason=f"no new re-drive message in {channel.describe()}", cursor=json.dumps(cursor))
    return dg.SensorResult(run_requests=run_requests, cursor=json.dumps(cursor))
