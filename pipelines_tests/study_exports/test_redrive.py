"""The re-drive channels on their own: the object-store inbox, and SQS without a dead-letter queue."""

import json

import boto3

from pipelines.study_exports.redrive import SqsQueue, StoreInbox


def test_the_inbox_sends_receives_acknowledges_and_rejects(local_store):
    inbox = StoreInbox(local_store)
    first = inbox.send({"exportType": "DAILY", "endDateTime": "2016-10-04T00:00:00Z"})
    second = inbox.send({"exportType": "HOURLY"})
    received = inbox.receive(10)
    assert sorted(m.message_id for m in received) == sorted([first, second])
    by_id = {m.message_id: m for m in received}
    inbox.ack(by_id[first])
    assert inbox.reject(by_id[second], "endDateTime: missing") == f"redrive/rejected/{second}.json"
    assert inbox.receive(10) == []
    assert json.loads(local_store.get_bytes(f"redrive/done/{first}.json"))["exportType"] == "DAILY"
    assert local_store.get_bytes(f"redrive/rejected/{second}.json.reason.txt") == b"endDateTime: missing\n"


def test_sqs_without_a_dead_letter_queue_rejects_into_the_object_store(moto_server, local_store):
    client = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    url = client.create_queue(QueueName="redrive-no-dlq")["QueueUrl"]
    queue = SqsQueue(client, url, local_store, visibility_timeout=0)
    message_id = queue.send({"exportType": "WEEKLY"})
    [message] = queue.receive(10)
    assert message.message_id == message_id
    assert queue.reject(message, "exportType: 'WEEKLY' is not one of DAILY, HOURLY, INSTANT") == (
        f"redrive/rejected/{message_id}.json"
    )
    assert json.loads(local_store.get_bytes(f"redrive/rejected/{message_id}.json")) == {"exportType": "WEEKLY"}
    assert queue.receive(10) == []
