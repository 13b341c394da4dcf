"""What a user meets in a deployed instance: sensors and schedules ticking in the daemon, backfills
launched like the UI launches them. Every wait has a timeout and fails with the daemon's log."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import sqlalchemy as sa

from pipelines.study_exports.sensors import batch_run_key
from pipelines_tests.e2e.conftest import Deployment
from pipelines_tests.support.corpus import corpus_bytes

START_SENSOR = """mutation Start($selector: SensorSelector!) { startSensor(sensorSelector: $selector) {
  __typename ... on Sensor { sensorState { status } } ... on PythonError { message } } }"""


def start_sensor(deployment: Deployment, name: str) -> None:
    data = deployment.graphql(START_SENSOR, {"selector": deployment.selector("sensorName", name)})
    result = data["startSensor"]
    assert result["__typename"] == "Sensor", f"could not start sensor {name}: {result}"
    assert result["sensorState"]["status"] == "RUNNING"


def finished(deployment: Deployment, tags: dict[str, str]) -> list[dict]:
    runs = deployment.runs(tags)
    if runs and all(run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for run in runs):
        return runs
    return []


def test_a_landed_vex_document_becomes_statements_through_the_sensors(deployment: Deployment):
    document = corpus_bytes("openvex/v0.2.0.json")
    start_sensor(deployment, "vex_inbox_sensor")
    start_sensor(deployment, "vex_raw_documents_sensor")
    deployment.store.put_bytes("vex/inbox/e2e/v0.2.0.json", document)

    def statements() -> int:
        with deployment.database.begin() as conn:
            return conn.scalar(sa.text("SELECT count(*) FROM vex_statements"))

    deployment.wait_for("statements written by a vex_statements run", statements, timeout=150)
    runs = deployment.wait_for(
        "the sensor's vex_statements run to finish",
        lambda: finished(deployment, {"dagster/sensor_name": "vex_raw_documents_sensor"}),
    )
    assert {run["status"] for run in runs} == {"SUCCESS"}


def test_a_redrive_message_on_sqs_starts_one_run_even_when_delivered_twice(deployment: Deployment):
    sqs = boto3.client("sqs", endpoint_url=deployment.moto_endpoint, region_name="us-east-1")
    queue_url = deployment.env["PIPELINES_REDRIVE_QUEUE_URL"]
    message = {
        "endDateTime": "2016-10-04T23:59:59Z",
        "startDateTime": "2016-10-03T23:59:59Z",
        "exportType": "DAILY",
        "ignoreLastExportTime": "true",
        "tag": "e2e re-export",
    }
    sent = sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
    start_sensor(deployment, "study_exports_redrive_sensor")
    sensor_tags = {"dagster/sensor_name": "study_exports_redrive_sensor"}
    runs = deployment.wait_for("the re-drive run", lambda: finished(deployment, sensor_tags))
    assert [run["status"] for run in runs] == ["SUCCESS"]
    tags = {t["key"]: t["value"] for t in runs[0]["tags"]}
    # One run per tick for the tick's valid messages; its run key names them.
    assert tags["dagster/run_key"] == batch_run_key([sent["MessageId"]])
    config = deployment.graphql(
        "query Run($id: ID!) { runOrError(runId: $id) { ... on Run { runConfigYaml } } }", {"id": runs[0]["runId"]}
    )["runOrError"]["runConfigYaml"]
    for expected in ("2016-10-03T23:59:59", "2016-10-04T23:59:59", "ignoreLastExportTime: true"):
        assert expected in config, f"{expected!r} not in the run's config:\n{config}"

    # The message is hidden for 2 s, then delivered again; that delivery finds the run and deletes it.
    def acknowledged() -> dict:
        data = deployment.graphql(
            """query Sensor($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
                 ... on Sensor { sensorState { typeSpecificData { ... on SensorData { lastCursor } } } } } }""",
            {"selector": deployment.selector("sensorName", "study_exports_redrive_sensor")},
        )
        cursor = json.loads(data["sensorOrError"]["sensorState"]["typeSpecificData"]["lastCursor"] or "{}")
        return cursor if cursor.get("acknowledged") else {}

    cursor = deployment.wait_for("the second delivery to be acknowledged", acknowledged, timeout=120)
    assert (cursor["requested"], cursor["acknowledged"]) == (1, 1)
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    assert len(deployment.runs(sensor_tags)) == 1


def test_the_daily_schedule_requests_the_previous_day(deployment: Deployment):
    evaluated_at = dt.datetime(2024, 3, 15, 0, 30, tzinfo=dt.timezone.utc).timestamp()
    data = deployment.graphql(
        """mutation DryRun($selector: ScheduleSelector!, $timestamp: Float) {
             scheduleDryRun(selectorData: $selector, timestamp: $timestamp) {
               __typename ... on DryRunInstigationTick { evaluationResult {
                 runRequests { runKey tags { key value } } skipReason error { message } } }
               ... on PythonError { message } } }""",
        {"selector": deployment.selector("scheduleName", "study_exports_daily_schedule"), "timestamp": evaluated_at},
    )
    evaluation = data["scheduleDryRun"]["evaluationResult"]
    assert evaluation["error"] is None, evaluation["error"]
    requests = evaluation["runRequests"]
    assert len(requests) == 1
    tags = {t["key"]: t["value"] for t in requests[0]["tags"]}
    assert tags["dagster/partition"] == "2024-03-14"
