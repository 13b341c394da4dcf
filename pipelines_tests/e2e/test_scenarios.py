"""What a user meets in a deployed instance: sensors and schedules ticking in the daemon, backfills
launched like the UI launches them. Every wait has a timeout and fails with the daemon's log."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import boto3
import sqlalchemy as sa

from pipelines_tests.e2e.conftest import Deployment

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "vex"

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
    document = (CORPUS / "openvex" / "v0.2.0.json").read_bytes()
    start_sensor(deployment, "vex_inbox_sensor")
    start_sensor(deployment, "vex_raw_documents_sensor")
    deployment.store.put_bytes("vex/inbox/e2e/v0.2.0.json", document)

    def statements() -> int:
        with deployment.database.begin() as conn:
            return conn.scalar(sa.text("SELECT count(*) FROM vex_statements"))

    deployment.wait_for("statements written by a vex_statements run", statements, timeout=150)
    runs = deployment.wait_for(
        "the vex_statements run to finish",
        lambda: [r for r in finished(deployment, {}) if ["vex_statements"] in [a["path"] for a in r["assetSelection"] or []]],
    )
    assert {run["status"] for run in runs} == {"SUCCESS"}


def test_a_redrive_message_on_sqs_starts_one_export_run(deployment: Deployment):
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
    runs = deployment.wait_for(
        "the re-drive run", lambda: finished(deployment, {"dagster/sensor_name": "study_exports_redrive_sensor"})
    )
    assert len(runs) == 1
    run = runs[0]
    assert run["status"] == "SUCCESS"
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["dagster/run_key"] == sent["MessageId"]
    assert sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"
    ]["ApproximateNumberOfMessages"] == "0"


def test_a_seven_day_backfill_runs_as_one_run(deployment: Deployment):
    partitions = [(dt.date(2024, 3, 1) + dt.timedelta(days=i)).isoformat() for i in range(7)]
    data = deployment.graphql(
        """mutation Backfill($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
             __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        {"params": {"partitionNames": partitions, "assetSelection": [{"path": ["study_exports_daily"]}]}},
    )
    result = data["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    backfill_id = result["backfillId"]
    runs = deployment.wait_for(
        "the backfill's run to finish", lambda: finished(deployment, {"dagster/backfill": backfill_id}), timeout=180
    )
    assert [run["status"] for run in runs] == ["SUCCESS"]

    def materialized() -> int:
        stats = deployment.graphql(
            """{ assetNodeOrError(assetKey: {path: ["study_exports_daily"]}) {
                 ... on AssetNode { partitionStats { numMaterialized } } } }"""
        )
        count = stats["assetNodeOrError"]["partitionStats"]["numMaterialized"]
        return count if count >= 7 else 0

    assert deployment.wait_for("7 materialized partitions", materialized, timeout=30) == 7


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
