"""Archive one tenant: one RFC-4180 CSV per entity table (split into parts past a size), then the manifest.

Rows stream from the database and are hashed while written; no table is ever held in memory.
PostgreSQL: `COPY (SELECT <archive text of each column> ...) TO STDOUT WITH (FORMAT csv)`, where the
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

from pipelines.core.database import Database
from pipelines.core.progress import Progress
from pipelines.core.object_store import ObjectStore
from pipelines.core.rfc4180 import CRLF, format_field, format_row
from pipelines.tenant_archives.entities import (
    DEFAULT_TENANT_COLUMN,
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
from pipelines.tenant_archives.values import encoder, pg_text

log = logging.getLogger(__name__)

DEFAULT_PART_SIZE = 100 * 1024 * 1024
MIN_PART_SIZE = 4 * 1024


@dataclasses.dataclass(frozen=True)
class ArchiveOptions:
    part_size_bytes: int = DEFAULT_PART_SIZE
    tenant_column: str = DEFAULT_TENANT_COLUMN
    tables: tuple[str, ...] = ()
    batch_size: int = 5000

    def __post_init__(self) -> None:
        if self.part_size_bytes < MIN_PART_SIZE:
            raise TenantArchiveError(
                f"part_size_bytes {self.part_size_bytes} is too small: use at least {MIN_PART_SIZE}"
            )
        if not self.tenant_column:
            raise TenantArchiveError("tenant_column is empty: name the column that holds the tenant")
        if self.batch_size < 1:
            raise TenantArchiveError(f"batch_size {self.batch_size} must be at least 1")


def archive_tenant(
    database: Database,
    store: ObjectStore,
    tenant: str,
    job_id: str,
    options: ArchiveOptions = ArchiveOptions(),
    logger: Any = None,
) -> tuple[str, Manifest]:
    """Write `archives/{tenant}/{job_id}/...`; returns the manifest's key and the manifest."""
    check_tenant(tenant)
    prefix = archive_prefix(tenant, str(job_id))
    created_at = dt.datetime.now(dt.timezone.utc).isoformat()
    files: list[ArchivedFile] = []
    with _snapshot(database) as conn:
        entities = discover_entities(conn, options.tenant_column, options.tables or None)
        if not entities:
            raise TenantArchiveError(f"no table has the tenant column {options.tenant_column!r}: nothing to archive")
        if not tables_holding(conn, entities, tenant, options.tenant_column):
            raise TenantArchiveError(f"tenant {tenant!r} has no rows in any of {len(entities)} entity tables")
        progress = Progress(f"archive of tenant {tenant} (rows)", logger=logger or log)
        try:
            for entity in entities:
                if database.is_postgres:
                    records = _copy_records(conn, entity, tenant, options.tenant_column, options.batch_size)
                else:
                    records = _cursor_records(database, conn, entity, tenant, options)
                files.extend(_write_parts(store, prefix, entity, records, options.part_size_bytes, progress))
        except BaseException:
            _remove_quietly(store, [prefix + f.name for f in files])  # no half archive is left behind
            raise
    schema = schema_of(entities)
    manifest = Manifest(
        tenant=tenant,
        job_id=str(job_id),
        created_at=created_at,
        tenant_column=options.tenant_column,
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


@contextlib.contextmanager
def _snapshot(database: Database) -> Iterator[Connection]:
    """One consistent read of every table that does not stop writers (job updates) meanwhile."""
    if database.is_postgres:
        with database.begin() as conn:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn
        return
    # SQLite: `Database.begin()` is BEGIN IMMEDIATE, a write lock held for the whole archive. A
    # deferred transaction reads one snapshot (WAL mode) and lets writers go on.
    engine = sa.create_engine(database.url, poolclass=sa.pool.NullPool, connect_args={"timeout": 60})
    sa.event.listen(engine, "connect", _driver_autocommit)
    sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN DEFERRED"))
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    finally:
        engine.dispose()


def _driver_autocommit(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy, not pysqlite, decides where transactions begin


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
    compiled = _tenant_rows(entity, columns, tenant, tenant_column).compile(dialect=conn.dialect)
    statement = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)"
    batch = Batch(bytearray(), [])
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(statement, compiled.params) as copy:
        # Each row is copied out at once, so libpq's buffer is freed right away.
        for row in copy:
            batch.data += row
            batch.data.insert(-1, 13)  # one message is one row: its last byte is the LF that ends it; CR before
            batch.ends.append(len(batch.data))
            if len(batch.ends) >= batch_size:
                yield batch
                batch = Batch(bytearray(), [])
    if batch.ends:
        yield batch


def _cursor_records(
    database: Database, conn: Connection, entity: Entity, tenant: str, options: ArchiveOptions
) -> Iterator[Batch]:
    encoders = [encoder(c.kind) for c in entity.columns]
    select = _tenant_rows(entity, list(entity.table.c), tenant, options.tenant_column)
    for rows in database.stream(conn, select, options.batch_size):
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
