"""VEX sensors: the inbox starts a landing run; newly landed documents start statement runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import dagster as dg
import sqlalchemy as sa

from pipelines.core.database import Database, TZDateTime
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.core.object_store import ObjectStore
from pipelines.vex.assets import vex_statements
from pipelines.vex.jobs import vex_landing_job
from pipelines.vex.ingest import SIGNATURE_SUFFIX
from pipelines.vex.partitions import START_DATE, partition_key_of, vex_daily_partitions
from pipelines.vex.requests import INBOX_PREFIX, BackfillRequest, LandingRequest
from pipelines.vex.tables import vex_raw_documents as raw_table

DOCUMENTS_PER_TICK = 5000
SENSOR_INTERVAL_SECONDS = 15


def inbox_fingerprint(store: ObjectStore, prefix: str = INBOX_PREFIX) -> str | None:
    """A digest of what the inbox holds (keys, sizes, times); None when it is empty."""
    entries = [
        f"{info.key}\t{info.size}\t{info.modified.isoformat()}"
        for info in store.list(prefix)
        if not info.key.endswith(SIGNATURE_SUFFIX)
    ]
    if not entries:
        return None
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:32]


@dg.sensor(
    target=vex_landing_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    description="Requests a vex_raw_documents run when documents wait under vex/inbox/.",
)
def vex_inbox_sensor(context: dg.SensorEvaluationContext, object_store: ObjectStoreResource):
    fingerprint = inbox_fingerprint(object_store.get_store())
    if fingerprint is None:
        return dg.SkipReason("vex/inbox/ is empty")
    if fingerprint == context.cursor:
        return dg.SkipReason("a landing run was already requested for what vex/inbox/ holds")
    return dg.SensorResult(run_requests=[dg.RunRequest(
        run_key=f"vex-inbox-{fingerprint}",
        run_config=dg.RunConfig(ops={"vex_raw_documents": LandingRequest()}),
    )], cursor=fingerprint)


def encode_cursor(retrieved_at: dt.datetime, digest: str) -> str:
    return json.dumps({"retrieved_at": retrieved_at.isoformat(), "digest": digest})


def decode_cursor(cursor: str | None) -> tuple[dt.datetime, str] | None:
    if not cursor:
        return None
    value = json.loads(cursor)
    return dt.datetime.fromisoformat(value["retrieved_at"]), value["digest"]


def new_document_partitions(
    database: Database, after: tuple[dt.datetime, str] | None, limit: int = DOCUMENTS_PER_TICK
) -> tuple[dict[str, tuple[dt.datetime, str]], tuple[dt.datetime, str] | None]:
    """Partitions of the raw documents after the cursor: partition -> its last (retrieved_at, digest),
    and the new cursor (None when nothing is new). At most `limit` documents per call."""
    query = sa.select(raw_table.c.retrieved_at, raw_table.c.digest)
    if after is not None:
        query = query.where(
            sa.tuple_(raw_table.c.retrieved_at, raw_table.c.digest)
            > sa.tuple_(sa.literal(after[0], TZDateTime()), sa.literal(after[1], sa.String()))
        )
    query = query.order_by(raw_table.c.retrieved_at, raw_table.c.digest).limit(limit)
    partitions: dict[str, tuple[dt.datetime, str]] = {}
    last = None
    with database.begin() as conn:
        for retrieved_at, digest in conn.execute(query):
            last = (retrieved_at, digest)
            partitions[partition_key_of(retrieved_at)] = last
    return partitions, last


@dg.sensor(
    target=vex_statements,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    description="Requests vex_statements runs for the days of newly landed raw documents.",
)
def vex_raw_documents_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
    partitions, last = new_document_partitions(database.get_database(), decode_cursor(context.cursor))
    if last is None:
        return dg.SkipReason("no raw VEX documents landed since the cursor")
    requests = []
    for key, (retrieved_at, digest) in sorted(partitions.items()):
        if key < START_DATE or not vex_daily_partitions.has_partition_key(key):
            context.log.warning(f"raw documents retrieved on {key} fall in no vex_statements partition")
            continue
        # The last document of the partition names the run: a repeated tick asks for the same run.
        run_key = f"vex_statements:{key}:{retrieved_at.isoformat()}:{digest.removeprefix('sha256:')[:16]}"
        requests.append(
            dg.RunRequest(
                run_key=run_key,
                partition_key=key,
                run_config=dg.RunConfig(ops={"vex_statements": BackfillRequest()}),
            )
        )
    return dg.SensorResult(run_requests=requests, cursor=encode_cursor(*last))
