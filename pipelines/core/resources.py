"""The Dagster resources: one per external system (the application database, the object store).

Every field is optional: an unset field falls back to its environment variable (read at run time
through `dg.EnvVar`), then to the embedded default under `PIPELINES_HOME`.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field, PrivateAttr

from pipelines.core import settings
from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore, ObjectStore, S3ObjectStore


class DatabaseResource(dg.ConfigurableResource):
    """The application database (PostgreSQL in production, a SQLite file by default)."""

    url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset: $PIPELINES_DATABASE_URL, else SQLite."
    )
    home: str | None = Field(default=None, description="Local data folder; unset: $PIPELINES_HOME.")

    def get_database(self) -> Database:
        return Database(self.url, home=self.home)


class ObjectStoreResource(dg.ConfigurableResource):
    """Where files go: S3 (through dagster-aws) when a bucket is set, else a local folder."""

    bucket: str | None = Field(default=None, description="S3 bucket; unset: $PIPELINES_S3_BUCKET.")
    prefix: str | None = Field(default=None, description="Key prefix; unset: $PIPELINES_S3_PREFIX.")
    endpoint_url: str | None = Field(
        default=None, description="S3 endpoint (MinIO, moto); unset: $PIPELINES_S3_ENDPOINT_URL."
    )
    region_name: str | None = Field(default=None, description="AWS region; unset: $PIPELINES_S3_REGION.")
    root: str | None = Field(
        default=None, description="Local folder when no bucket is set; unset: $PIPELINES_HOME/objects."
    )
    max_attempts: int = Field(default=5, description="Retries of each S3 call.")

    _store: ObjectStore | None = PrivateAttr(default=None)

    def get_store(self) -> ObjectStore:
        if self._store is None:
            self._store = self._build()
        return self._store

    def _build(self) -> ObjectStore:
        bucket = self.bucket or settings.PIPELINES_S3_BUCKET.get()
        if not bucket:
            return LocalObjectStore(self.root or settings.home_dir() / "objects")
        from dagster_aws.s3.utils import construct_s3_client

        endpoint = self.endpoint_url or settings.PIPELINES_S3_ENDPOINT_URL.get()
        region = self.region_name or settings.PIPELINES_S3_REGION.get() or dg.EnvVar("AWS_REGION").get_value()
        client = construct_s3_client(
            max_attempts=self.max_attempts, region_name=region, endpoint_url=endpoint
        )
        prefix = self.prefix if self.prefix is not None else (settings.PIPELINES_S3_PREFIX.get() or "")
        return S3ObjectStore(client, bucket, prefix, endpoint_url=endpoint)


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """The resources every domain's assets use, configured from the environment at run time."""
    return {"database": DatabaseResource(), "object_store": ObjectStoreResource()}
