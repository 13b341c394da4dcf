"""Re-drive messages: where they come from and where they go.

Two channels with one interface: an SQS queue (`PIPELINES_REDRIVE_QUEUE_URL`), or, by default, JSON
files in the object store under `redrive/inbox/`. A message that has started its run is acknowledged
(deleted from the queue / moved to `redrive/done/`); an invalid one is rejected (sent to the queue's
dead-letter queue when it has one, else moved to `redrive/rejected/` with a `.reason.txt` beside it).
The export sends its record re-drives through the same channel.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from pipelines.core.object_store import ObjectStore

log = logging.getLogger(__name__)

INBOX = "redrive/inbox/"
DONE = "redrive/done/"
REJECTED = "redrive/rejected/"
RECORD_LISTS = "redrive/records/"


@dataclass(frozen=True)
class RedriveMessage:
    message_id: str
    body: str
    handle: str  # the SQS receipt handle, or the inbox object key


class RedriveChannel(ABC):
    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    def send(self, message: dict[str, Any]) -> str:
        """Queue a message; returns its id."""

    @abstractmethod
    def receive(self, limit: int) -> list[RedriveMessage]:
        """Up to `limit` waiting messages, each once."""

    @abstractmethod
    def ack(self, message: RedriveMessage) -> None:
        """The message's run was requested: remove it from the inbox."""

    @abstractmethod
    def reject(self, message: RedriveMessage, reason: str) -> str:
        """Put an invalid message in the dead-letter place; returns where."""


class StoreInbox(RedriveChannel):
    """JSON files in the object store: `redrive/inbox/<id>.json`."""

    def __init__(self, store: ObjectStore):
        self.store = store

    def describe(self) -> str:
        return f"{self.store.describe().rstrip('/')}/{INBOX}"

    def send(self, message: dict[str, Any]) -> str:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        message_id = f"{stamp}-{uuid.uuid4().hex[:12]}"
        self.store.put_bytes(f"{INBOX}{message_id}.json", json.dumps(message, indent=2).encode())
        return message_id

    def receive(self, limit: int) -> list[RedriveMessage]:
        messages = []
        for info in self.store.list(INBOX):
            if len(messages) >= limit:
                break
            name = info.key[len(INBOX) :]
            message_id = name.removesuffix(".json")
            body = self.store.get_bytes(info.key).decode("utf-8", errors="replace")
            messages.append(RedriveMessage(message_id, body, info.key))
        return messages

    def ack(self, message: RedriveMessage) -> None:
        self.store.move(message.handle, DONE + message.handle[len(INBOX) :])

    def reject(self, message: RedriveMessage, reason: str) -> str:
        name = message.handle[len(INBOX) :]
        self.store.put_bytes(f"{REJECTED}{name}.reason.txt", (reason + "\n").encode())
        self.store.move(message.handle, REJECTED + name)
        return REJECTED + name


class SqsQueue(RedriveChannel):
    """An SQS queue. Invalid messages go to the queue's dead-letter queue (its RedrivePolicy) when it
    has one, else to `redrive/rejected/` in the object store."""

    def __init__(self, client: Any, queue_url: str, store: ObjectStore, visibility_timeout: int = 30):
        self.client, self.queue_url, self.visibility_timeout = client, queue_url, visibility_timeout
        self.store = store
        self._dead_letter_url: str | None = None
        self._dead_letter_looked_up = False

    def describe(self) -> str:
        return self.queue_url

    def send(self, message: dict[str, Any]) -> str:
        response = self.client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(message))
        return response["MessageId"]

    def receive(self, limit: int) -> list[RedriveMessage]:
        seen: dict[str, RedriveMessage] = {}
        while len(seen) < limit:
            response = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, limit - len(seen)),
                VisibilityTimeout=self.visibility_timeout,
                WaitTimeSeconds=0,
            )
            batch = response.get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            for item in fresh:
                seen[item["MessageId"]] = RedriveMessage(item["MessageId"], item["Body"], item["ReceiptHandle"])
        return list(seen.values())

    def ack(self, message: RedriveMessage) -> None:
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.handle)

    def reject(self, message: RedriveMessage, reason: str) -> str:
        dead_letter = self.dead_letter_queue_url()
        if dead_letter is not None:
            self.client.send_message(
                QueueUrl=dead_letter,
                MessageBody=message.body,
                MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000]}},
            )
            where = dead_letter
        else:
            self.store.put_bytes(f"{REJECTED}{message.message_id}.json", message.body.encode())
            self.store.put_bytes(f"{REJECTED}{message.message_id}.json.reason.txt", (reason + "\n").encode())
            where = f"{REJECTED}{message.message_id}.json"
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.handle)
        return where

    def dead_letter_queue_url(self) -> str | None:
        """The URL of the queue's dead-letter queue, from its RedrivePolicy (looked up once)."""
        if not self._dead_letter_looked_up:
            attributes = self.client.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["RedrivePolicy"]
            ).get("Attributes", {})
            policy = attributes.get("RedrivePolicy")
            if policy:
                arn = json.loads(policy)["deadLetterTargetArn"]
                _arn, _aws, _sqs, _region, account, name = arn.split(":", 5)
                self._dead_letter_url = self.client.get_queue_url(
                    QueueName=name, QueueOwnerAWSAccountId=account
                )["QueueUrl"]
            self._dead_letter_looked_up = True
        return self._dead_letter_url
