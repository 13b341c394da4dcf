"""The study-export resource: where re-drive messages go and come from, and the export's limits."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from pipelines.core import settings
from pipelines.core.errors import ConfigurationError
from pipelines.core.object_store import ObjectStore
from pipelines.study_exports.export import DEFAULT_MAX_REDRIVES
from pipelines.study_exports.redrive import RedriveChannel, SqsQueue, StoreInbox


class StudyExportsResource(dg.ConfigurableResource):
    """Re-drive channel (SQS when a queue URL is set, else `redrive/inbox/` in the object store),
    the maximum re-drive count, and the clock-skew margin of INSTANT exports."""

    queue_url: str | None = Field(default=None, description="SQS queue URL; unset: $PIPELINES_REDRIVE_QUEUE_URL.")
    endpoint_url: str | None = Field(
        default=None, description="SQS endpoint (moto, LocalStack); unset: $PIPELINES_SQS_ENDPOINT_URL."
    )
    region_name: str | None = Field(default=None, description="AWS region; unset: AWS_REGION / AWS_DEFAULT_REGION.")
    max_attempts: int = Field(default=5, description="Retries of each SQS call.")
    visibility_timeout_seconds: int | None = Field(
        default=None,
        description="How long a received message stays hidden: its run is requested, and a later tick "
        "deletes it; unset: $PIPELINES_REDRIVE_VISIBILITY_SECONDS (120).",
    )
    max_redrive_count: int = Field(
        default=DEFAULT_MAX_REDRIVES, description="Re-drives of a failed record before it is listed as dead."
    )
    clock_skew_seconds: int = Field(
        default=60, description="An INSTANT export without an end ends this long before now."
    )

    def get_channel(self, store: ObjectStore) -> RedriveChannel:
        queue_url = self.queue_url or settings.PIPELINES_REDRIVE_QUEUE_URL.get()
        if not queue_url:
            return StoreInbox(store)
        import boto3
        from dagster_aws.utils import construct_boto_client_retry_config

        region = (
            self.region_name
            or dg.EnvVar("AWS_REGION").get_value()
            or dg.EnvVar("AWS_DEFAULT_REGION").get_value()
        )
        client = boto3.client(
            "sqs",
            region_name=region,
            endpoint_url=self.endpoint_url or settings.PIPELINES_SQS_ENDPOINT_URL.get(),
            config=construct_boto_client_retry_config(self.max_attempts),
        )
        return SqsQueue(client, queue_url, store, visibility_timeout=self._visibility_timeout())

    def _visibility_timeout(self) -> int:
        if self.visibility_timeout_seconds is not None:
            return self.visibility_timeout_seconds
        raw = settings.PIPELINES_REDRIVE_VISIBILITY_SECONDS.get() or "120"
        try:
            return int(raw)
        except ValueError:
            raise ConfigurationError(
                settings.PIPELINES_REDRIVE_VISIBILITY_SECONDS.name, f"expected whole seconds, got {raw!r}"
            ) from None
