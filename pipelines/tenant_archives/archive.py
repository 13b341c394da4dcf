"""Archive one tenant: one RFC-4180 CSV per entity table (split into parts past a size), then the manifest.

Rows stream from the database and are hashed while written; no table is ever held in memory.
PostgreSQL: `core.database.copy_out_csv` of `SELECT <archive text of each column> ...`, where the
server renders bytes, timestamps and booleans as the archive wants them (`values.pg_text`), so the
only change left is the record end: the server ends each row with LF, the archive with CRLF. Every
COPY data message of the server is exactly one row (PostgreSQL protocol, "COPY Operations"), so the
row's last byte is its terminator and LFs inside quoted fields are left alone. SQLite: a cursor
read in batches, formatted with `pipelines.core.rfc4180`.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.database import Database, copy_out_csv
from pipelines.core.progress import Progress
from pipelines.core.object_store import ObjectStore
from pipelines.core.rfc4180 import CRLF, format_field, format_row
from pipelines.tenant_archives.entities import (
    Entity,
    check_tenant,
    discover_entities,
    fingerprint,
    schema_of,
    tables_holding,
)
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.manifest import (
    MANIFEST_NAME,
    ArchivedFile,
    Manifest,
    archive_prefix,
)
from pipelines.tenant_archives.requests import ArchiveRequest
from pipelines.tenant_archives.values import encoder, pg_text

log = logging.getLogger(__name__)

BATCH_SIZE = 5000


def archive_tenant(
    database: Database,
    store: ObjectStore,
    tenant: str,
    job_id: str,
    request: ArchiveRequest = ArchiveRequest(),
    logger: Any = None,
    batch_size: int = BATCH_SIZE,
) -> tuple[str, Manifest]:
    """Write `archives/{tenant}/{job_id}/...`; returns the manifest's key and the manifest."""
    check_tenant(tenant)
    prefix = archive_prefix(tenant, str(job_id))
    created_at = dt.datetime.now(dt.timezone.utc).isoformat()
    files: list[ArchivedFile] = []
    with database.snapshot() as conn:
        entities = discover_entities(conn, request.tenant_column, request.tables or None)
        if not entities:
            raise TenantArchiveError(f"no table has the tenant column {request.tenant_column!r}: nothing to archive")
        if not tables_holding(conn, entities, tenant, request.tenant_column):
            raise TenantArchiveError(f"tenant {tenant!r} has no rows in any of {len(entities)} entity tables")
        progress = Progress(f"archive of tenant {tenant} (rows)", logger=logger or log)
        try:
            for entity in entities:
                if database.is_postgres:
                    records = _copy_records(conn, entity, tenant, request.tenant_column, batch_size)
                else:
                    records = _cursor_records(database, conn, entity, tenant, request.tenant_column, batch_size)
                files.extend(_write_parts(store, prefix, entity, records, request.part_size_bytes, progress))
        except BaseException:
            _remove_quietly(store, [prefix + f.name for f in files])  # no half archive is left behind
            raise
    schema = schema_of(entities)
    manifest = Manifest(
        tenant=tenant,
        job_id=str(job_id),
        created_at=created_at,
        tenant_column=request.tenant_column,
        schema=schema,
        schema_fingerprint=fingerprint(schema),
        files=files,
    )
    key = prefix + MANIFEST_NAME
    store.put_bytes(key, manifest.to_json().encode("utf-8"))
    return key, manifest


def _remove_quietly(store: ObjectStore, keys: list[str]) -> None:
    for key in keys:
        try:
            store.delete(key)
        except Exception:  # noqa: BLE001 - the archive's own error is the one to report
            log.warning("could not remove %s after a failed archive", key, exc_info=True)


def _tenant_rows(entity: Entity, columns: list[Any], tenant: str, tenant_column: str) -> sa.Select:
    # No ORDER BY: it would cost PostgreSQL a sort or an index scan, and rows have no order to keep.
    return sa.select(*columns).where(entity.table.c[tenant_column] == tenant)


@dataclasses.dataclass
class Batch:
    """Consecutive records, CRLF included, and where each one ends in `data`."""

    data: bytearray
    ends: list[int]


def _copy_records(conn: Connection, entity: Entity, tenant: str, tenant_column: str, batch_size: int) -> Iterator[Batch]:
    """Batches of archive records, straight from the server's COPY output."""
    columns = [pg_text(c.kind, entity.table.c[c.name]).label(c.name) for c in entity.columns]
    batch = Batch(bytearray(), [])
    # Each row is copied out at once, so libpq's buffer is freed right away.
    for row in copy_out_csv(conn, _tenant_rows(entity, columns, tenant, tenant_column)):
        batch.data += row
        batch.data.insert(-1, 13)  # one message is one row: its last byte is the LF that ends it; CR before
        batch.ends.append(len(batch.data))
        if len(batch.ends) >= batch_size:
            yield batch
            batch = Batch(bytearray(), [])
    if batch.ends:
        yield batch


def _cursor_records(
    database: Database, conn: Connection, entity: Entity, tenant: str, tenant_column: str, batch_size: int
) -> Iterator[Batch]:
    encoders = [encoder(c.kind) for c in entity.columns]
    select = _tenant_rows(entity, list(entity.table.c), tenant, tenant_column)
    for rows in database.stream(conn, select, batch_size):
        batch = Batch(bytearray(), [])
        for row in rows:
            fields = (format_field(None if v is None else enc(v)) for enc, v in zip(encoders, row))
            batch.data += (",".join(fields) + CRLF).encode("utf-8")
            batch.ends.append(len(batch.data))
        yield batch


def _write_parts(
    store: ObjectStore, prefix: str, entity: Entity, batches: Iterator[Batch], limit: int, progress: Progress
) -> list[ArchivedFile]:
    writer = _PartWriter(store, prefix, entity, limit)
    try:
        for batch in batches:
            writer.write(batch)
            progress.advance(len(batch.ends))
        return writer.close()
    except BaseException as exc:
        writer.abort(exc)
        raise


class _PartWriter:
    """`{entity}.csv`, or `{entity}.part-0001.csv`, ... once a part would pass `limit` bytes.

    Each part is a whole CSV document with the header row. Part 1 is written as `{entity}.csv` and
    renamed when a second part starts, so a table that fits keeps the plain name.
    """

    def __init__(self, store: ObjectStore, prefix: str, entity: Entity, limit: int):
        self.store, self.prefix, self.entity, self.limit = store, prefix, entity, limit
        self.header = format_row(entity.column_names).encode("utf-8")
        self.files: list[ArchivedFile] = []
        self._open(1)

    def _name(self, part: int) -> str:
        return f"{self.entity.name}.csv" if part == 1 else f"{self.entity.name}.part-{part:04d}.csv"

    def _open(self, part: int) -> None:
        self.part = part
        self._context: AbstractContextManager[IO[bytes]] | None = self.store.open_write(self.prefix + self._name(part))
        self._out = self._context.__enter__()
        self._sha = hashlib.sha256()
        self._size = self._rows = 0
        self._emit(self.header)

    def _emit(self, block: bytes | memoryview) -> None:
        self._sha.update(block)
        self._out.write(block)
        self._size += len(block)

    def write(self, batch: Batch) -> None:
        view = memoryview(batch.data)
        start, done = 0, 0  # bytes and records of the batch written so far
        while done < len(batch.ends):
            room = self.limit - self._size
            fitting = bisect.bisect_right(batch.ends, start + room, lo=done)
            if fitting == done:
                if self._rows:
                    self._next_part()
                    continue
                fitting = done + 1  # a record larger than a part gets a part of its own
            end = batch.ends[fitting - 1]
            self._emit(view[start:end])
            self._rows += fitting - done
            start, done = end, fitting

    def _next_part(self) -> None:
        self._finish()
        if self.part == 1:
            renamed = f"{self.entity.name}.part-0001.csv"
            self.store.move(self.prefix + self.files[0].name, self.prefix + renamed)
            self.files[0] = dataclasses.replace(self.files[0], name=renamed)
        self._open(self.part + 1)

    def _finish(self) -> None:
        context, self._context = self._context, None
        assert context is not None
        context.__exit__(None, None, None)
        self.files.append(
            ArchivedFile(
                name=self._name(self.part),
                entity=self.entity.name,
                part=self.part,
                columns=self.entity.column_names,
                rows=self._rows,
                bytes=self._size,
                sha256=self._sha.hexdigest(),
            )
        )

    def close(self) -> list[ArchivedFile]:
        self._finish()
        return self.files

    def abort(self, exc: BaseException) -> None:
        """Discard the part being written (the store never shows a partial object)."""
        context, self._context = self._context, None
        if context is not None:
            with contextlib.suppress(Exception):  # the original error is the one to report
                context.__exit__(type(exc), exc, exc.__traceback__)
