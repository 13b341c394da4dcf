"""The re-drive sensor: the object-store inbox (default) and a real SQS queue on moto's server."""

import json

import boto3
import dagster as dg
import pytest

from pipelines.core.resources import ObjectStoreResource
from pipelines.study_exports.assets import (
    study_exports_daily,
    study_exports_hourly,
    study_exports_on_request,
    study_exports_redrives,
)
from pipelines.study_exports.requests import ExportRequest
from pipelines.study_exports.resources import StudyExportsResource
from pipelines.study_exports.sensors import batch_run_key, study_exports_redrive_sensor
from pipelines.study_exports.watermarks import read_export_times
from pipelines_tests.study_exports.conftest import RECORDS, SEED_MESSAGE, at, exported_ids, seed



def tick(instance, resources, cursor=None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return study_exports_redrive_sensor(context), context


def launch(instance, run_request, resources):
    """What the daemon does with a RunRequest: a run tagged with its run key."""
    return dg.materialize(
        [study_exports_daily, study_exports_hourly, study_exports_on_request],
        selection=[study_exports_on_request],
        instance=instance,
        run_config=run_request.run_config,
        tags={**run_request.tags, "dagster/run_key": run_request.run_key},
        resources={"study_exports": StudyExportsResource(), **resources},
    )


@pytest.fixture
def inbox_resources(tmp_path):
    return {
        "object_store": ObjectStoreResource(root=str(tmp_path / "objects")),
        "study_exports": StudyExportsResource(),
    }


def test_an_inbox_message_starts_one_run_then_moves_to_done(inbox_resources, resources):
    store = inbox_resources["object_store"].get_store()
    store.put_bytes("redrive/inbox/m1.json", json.dumps(SEED_MESSAGE).encode())
    with dg.instance_for_test() as instance:
        result, context = tick(instance, inbox_resources)
        [run_request] = result.run_requests
        assert run_request.run_key == batch_run_key(["m1"])
        assert run_request.run_config["ops"] == {"study_exports_redrives": {"config": {"requests": [{
            "exportType": "DAILY", "endDateTime": "2016-10-04T00:00:00Z", "startDateTime": "2016-10-03T00:00:00Z",
            "ignoreLastExportTime": True, "tag": "test exporter", "redriveCount": 0}], "messageIds": ["m1"]}}}
        assert store.exists("redrive/inbox/m1.json")  # not acknowledged before its run exists

        launch_batch(instance, run_request, {**resources, "study_exports": StudyExportsResource()})
        second, _ = tick(instance, inbox_resources, cursor=result.cursor)
        assert second.run_requests == []
        assert not store.exists("redrive/inbox/m1.json")
        assert store.exists("redrive/done/m1.json")
        assert json.loads(second.cursor) == {"requested": 1, "acknowledged": 1, "rejected": 0, "pending": {}}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "message: not JSON"),
        (json.dumps({**SEED_MESSAGE, "exportType": "WEEKLY"}).encode(), "exportType: 'WEEKLY': is not one of DAILY, HOURLY, INSTANT"),
        (json.dumps({**SEED_MESSAGE, "endDateTime": "yesterday"}).encode(), "endDateTime: 'yesterday': is not an ISO 8601 date-time"),
        (
            json.dumps({**SEED_MESSAGE, "startDateTime": "2016-10-05T00:00:00Z"}).encode(),
            "startDateTime: 2016-10-05T00:00:00Z is not before endDateTime 2016-10-04T00:00:00Z",
        ),
    ],
    ids=["bad-json", "unknown-export-type", "unparsable-date", "end-before-start"],
)
def test_an_invalid_inbox_message_is_rejected_with_its_reason_and_the_sensor_goes_on(inbox_resources, body, reason):
    store = inbox_resources["object_store"].get_store()
    store.put_bytes("redrive/inbox/a-bad.json", body)
    store.put_bytes("redrive/inbox/b-good.json", json.dumps(SEED_MESSAGE).encode())
    with dg.instance_for_test() as instance:
        result, _ = tick(instance, inbox_resources)
    [run_request] = result.run_requests
    assert run_request.run_config["ops"]["study_exports_redrives"]["config"]["messageIds"] == ["b-good"]
    assert store.get_bytes("redrive/rejected/a-bad.json") == body
    assert reason in store.get_bytes("redrive/rejected/a-bad.json.reason.txt").decode()
    assert not store.exists("redrive/inbox/a-bad.json")


def test_an_empty_inbox_skips(inbox_resources):
    with dg.instance_for_test() as instance:
        result, _ = tick(instance, inbox_resources)
    assert result.run_requests == [] and "no new re-drive message" in result.skip_reason.skip_message


def _queues(moto_server):
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    dead = sqs.create_queue(QueueName=f"dlq-{id(sqs)}")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=f"redrive-{id(sqs)}",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": "5"})},
    )["QueueUrl"]
    return sqs, queue, dead


def test_an_sqs_message_starts_one_run_then_is_deleted_and_a_bad_one_goes_to_the_dlq(
    moto_server, monkeypatch, database, resources, tmp_path
):
    seed(database, RECORDS)
    sqs, queue, dead = _queues(moto_server)
    monkeypatch.setenv("PIPELINES_REDRIVE_QUEUE_URL", queue)
    monkeypatch.setenv("PIPELINES_SQS_ENDPOINT_URL", moto_server)
    sent = sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({**SEED_MESSAGE, "studyWhitelist": ["s2"]}))
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"exportType": "DAILY"}))
    sensor_resources = {
        "object_store": resources["object_store"],
        "study_exports": StudyExportsResource(visibility_timeout_seconds=0),
    }
    run_resources = {**resources, "study_exports": sensor_resources["study_exports"]}
    with dg.instance_for_test() as instance:
        result, context = tick(instance, sensor_resources)
        [run_request] = result.run_requests
        assert run_request.run_key == batch_run_key([sent["MessageId"]])
        [rejected] = sqs.receive_message(QueueUrl=dead, MessageAttributeNames=["All"])["Messages"]
        assert rejected["Body"] == '{"exportType": "DAILY"}'
        assert rejected["MessageAttributes"]["reason"]["StringValue"].endswith(
            "endDateTime: missing; a DAILY export needs the end of its window"
        )

        run = launch_batch(instance, run_request, run_resources)
        store = resources["object_store"].get_store()
        assert exported_ids(store, [i.key for i in store.list("study_exports/exports/")]) == ["r07", "r08"]
        assert read_export_times(database) == {}  # a re-export keeps the watermarks
        assert run.success

        # The message is visible again (timeout 0): its run exists, so it is deleted, not re-run.
        second, _ = tick(instance, sensor_resources, cursor=result.cursor)
        assert second.run_requests == []
        assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []
        assert json.loads(second.cursor) == {"requested": 1, "acknowledged": 1, "rejected": 1, "pending": {}}


def test_record_redrives_are_sent_to_the_sqs_queue(moto_server, monkeypatch, database, resources):
    from pipelines.study_exports.export import run_export
    from pipelines.study_exports.requests import ExportRequest

    seed(database, [("bad", "s1", at("10-03 01:00"), "survey", "text, not an object")], study_ids=("s1",))
    sqs, queue, _dead = _queues(moto_server)
    channel = StudyExportsResource(queue_url=queue, endpoint_url=moto_server).get_channel(
        resources["object_store"].get_store()
    )
    request = ExportRequest.parse({"exportType": "DAILY", "endDateTime": "2016-10-04T00:00:00Z", "tag": "nightly"})
    result = run_export(database, resources["object_store"].get_store(), request, channel=channel)
    [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert message["MessageId"] == result.redrive_message_ids[0]
    assert json.loads(message["Body"]) == {
        "exportType": "DAILY",
        "recordOverride": result.redrive_keys[0],
        "tag": "redrive export; original: nightly",
        "redriveCount": 1,
    }


def launch_batch(instance, run_request, resources):
    """What the daemon does with the re-drive sensor's RunRequest."""
    return dg.materialize(
        [study_exports_daily, study_exports_hourly, study_exports_on_request, study_exports_redrives],
        selection=[study_exports_redrives],
        instance=instance,
        run_config=run_request.run_config,
        tags={**run_request.tags, "dagster/run_key": run_request.run_key},
        resources=resources,
        raise_on_error=False,
    )


def test_fifty_sqs_messages_make_one_run_and_each_is_acknowledged_once(moto_server, monkeypatch, database, resources):
    seed(database, RECORDS)
    sqs, queue, _dead = _queues(moto_server)
    monkeypatch.setenv("PIPELINES_REDRIVE_QUEUE_URL", queue)
    monkeypatch.setenv("PIPELINES_SQS_ENDPOINT_URL", moto_server)
    for n in range(50):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({**SEED_MESSAGE, "tag": f"message {n}"}))
    settings = StudyExportsResource(visibility_timeout_seconds=60)
    sensor_resources = {"object_store": resources["object_store"], "study_exports": settings}
    with dg.instance_for_test() as instance:
        first, _ = tick(instance, sensor_resources)
        [run_request] = first.run_requests
        requests = run_request.run_config["ops"]["study_exports_redrives"]["config"]["requests"]
        assert sorted(r["tag"] for r in requests) == sorted(f"message {n}" for n in range(50))
        # Before its run exists: nothing acknowledged, nothing requested again.
        second, _ = tick(instance, sensor_resources, cursor=first.cursor)
        assert second.run_requests == []
        assert json.loads(second.cursor)["acknowledged"] == 0

        run = launch_batch(instance, run_request, {**resources, "study_exports": settings})
        assert run.success
        assert run.get_asset_materialization_events()[0].step_materialization_data.materialization.metadata[
            "windows"].value == 50
        third, _ = tick(instance, sensor_resources, cursor=second.cursor)
        fourth, _ = tick(instance, sensor_resources, cursor=third.cursor)
        assert len(instance.get_run_ids()) == 1  # one run for the 50 messages
    assert third.run_requests == fourth.run_requests == []
    assert json.loads(fourth.cursor) == {"requested": 50, "acknowledged": 50, "rejected": 0, "pending": {}}
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")


def test_a_record_that_always_fails_ends_dead_and_the_warn_check_names_it(database, resources):
    seed(database, [("bad", "s1", at("10-03 01:00"), "survey", ["never", "an", "object"]),
                    ("good", "s1", at("10-03 02:00"), "survey", {"q": 1})], study_ids=("s1",))
    settings = StudyExportsResource(max_redrive_count=1)
    run_resources = {**resources, "study_exports": settings}
    sensor_resources = {"object_store": resources["object_store"], "study_exports": settings}
    store = resources["object_store"].get_store()
    with dg.instance_for_test() as instance:
        first = launch(instance, dg.RunRequest(run_key="nightly", run_config=dg.RunConfig(ops={
            "study_exports_on_request": ExportRequest.parse(
                {"exportType": "DAILY", "endDateTime": "2016-10-04T00:00:00Z", "tag": "nightly"})
        })), run_resources)
        [check] = first.get_asset_check_evaluations()
        assert check.passed  # re-driven, not dead yet
        result, _ = tick(instance, sensor_resources)
        [run_request] = result.run_requests
        redrive = launch_batch(instance, run_request, run_resources)
    assert redrive.success  # a WARN check does not fail the run
    [check] = redrive.get_asset_check_evaluations()
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert check.description == "1 dead record(s): bad (study s1, 2016-10-03T01:00:00Z)"
    [dead_list] = [i.key for i in store.list("redrive/dead/")]
    assert json.loads(store.get_bytes(dead_list)) == [
        {"record_id": "bad", "study_id": "s1", "uploaded_on": "2016-10-03T01:00:00Z"}
    ]


def test_one_bad_message_of_a_batch_fails_the_run_naming_it_and_the_others_are_exported(
    inbox_resources, database, resources
):
    seed(database, RECORDS)
    store = inbox_resources["object_store"].get_store()
    store.put_bytes("redrive/inbox/a-good.json", json.dumps({**SEED_MESSAGE, "studyWhitelist": ["s2"]}).encode())
    store.put_bytes("redrive/inbox/b-gone.json", json.dumps({"exportType": "DAILY", "recordOverride": "gone.txt"}).encode())
    run_resources = {**resources, "object_store": inbox_resources["object_store"], "study_exports": StudyExportsResource()}
    with dg.instance_for_test() as instance:
        result, _ = tick(instance, inbox_resources)
        [run_request] = result.run_requests
        run = launch_batch(instance, run_request, run_resources)
    assert not run.success
    [failure] = [e for e in run.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "1 of 2 re-drive message(s) could not be exported (the others were): b-gone: recordOverride: no object " \
        "'gone.txt'" in failure.step_failure_data.error.cause.message
    [manifest] = [i.key for i in store.list("study_exports/manifests/")]
    assert exported_ids(store, [f["key"] for f in json.loads(store.get_bytes(manifest))["files"]]) == ["r07", "r08"]
