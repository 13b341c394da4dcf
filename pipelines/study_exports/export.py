"""One export: every entry point (daily / hourly / instant assets, re-drives, the CLI) calls `run_export`.

Per study, the window is `[start, endDateTime)`: start is the study's `last_export_date_time` when it
has one and the request does not ignore it, else the request's `startDateTime`, else the start its
type gives (DAILY: end - 1 day, HOURLY: end - 1 hour, INSTANT: start of the end's day, UTC).

Everything happens in one transaction that holds the studies' watermark rows locked (PostgreSQL
`SELECT ... FOR UPDATE`; SQLite's write lock): the records stream, ordered by study_id and schema_key
in byte order (`_order`: the same file order on both backends, whatever PostgreSQL's collation), then
uploaded_on and record_id, into one RFC 4180 CSV per (study, schema_key); then the watermarks move
to `endDateTime` (never backwards, never for a request that ignores them or overrides the records)
and an export log row is written.
If anything raises, the transaction rolls back: no watermark moves, and the files already written
are removed, so the next run of any type covers the gap.

A record that cannot be exported (its `data` is not a JSON object, or its file could not be written)
does not fail the others: its id goes to a re-drive list in the object store and a re-drive message
(`redriveCount` + 1, tag `redrive export; original: ...`) is queued, up to `max_redrives`; past it the
records are dead and listed in the result.

PostgreSQL: the rows are PostgreSQL's own `COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)` output, the
server rendering each value as the Python path does (`_pg_columns`); Python only splits the ordered
stream into files where (study_id, schema_key) changes and turns each row's final LF into CRLF.
SQLite: a cursor read in batches, formatted with `pipelines.core.rfc4180`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import itertools
import logging
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core import rfc4180
from pipelines.core.database import Database
from pipelines.core.progress import Progress
from pipelines.core.object_store import ObjectNotFoundError, ObjectStore
from pipelines.study_exports.errors import StudyExportError
from pipelines.study_exports.redrive import RECORD_LISTS, RedriveChannel, StoreInbox
from pipelines.study_exports.request import UTC, ExportRequest, ExportType, window_start
from pipelines.study_exports.tables import records, studies, study_export_log
from pipelines.study_exports.watermarks import advance_export_times, ensure_export_time_rows, lock_export_times

log = logging.getLogger(__name__)

CSV_HEADER = ("record_id", "study_id", "schema_key", "uploaded_on", "data")
_HEADER = rfc4180.format_row(CSV_HEADER).encode("utf-8")
DEFAULT_MAX_REDRIVES = 2
DEFAULT_CLOCK_SKEW = dt.timedelta(minutes=1)
# A re-drive list holds at most this many record ids (one message each), so that an override
# query stays within every backend's limit of bound parameters.
MAX_OVERRIDE_RECORDS = 10_000
_BATCH = 5_000
_STUDIES_PER_QUERY = 1_000
# COPY rows are gathered into blocks of about this size before they are written.
_BLOCK = 256 * 1024
_QUOTE = 34


@dataclass
class ExportResult:
    export_id: str
    export_type: str
    tag: str | None
    records: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    windows: dict[str, tuple[str, str] | None] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    failed_record_ids: list[str] = field(default_factory=list)
    redrive_keys: list[str] = field(default_factory=list)
    redrive_message_ids: list[str] = field(default_factory=list)
    dead_record_ids: list[str] = field(default_factory=list)
    watermarks_moved: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (what the CLI prints and the assets show)."""
        return {
            "export_id": self.export_id,
            "export_type": self.export_type,
            "tag": self.tag,
            "records": self.records,
            "files": len(self.keys),
            "studies": len(self.windows),
            "counts": self.counts,
            "windows": {k: list(v) if v else None for k, v in self.windows.items()},
            "keys": self.keys,
            "redriven": 0 if self.dead_record_ids else len(self.failed_record_ids),
            "redrive_keys": self.redrive_keys,
            "redrive_message_ids": self.redrive_message_ids,
            "dead_record_ids": self.dead_record_ids,
            "watermarks_moved": self.watermarks_moved,
            "seconds": round(self.seconds, 3),
        }


def run_export(
    database: Database,
    store: ObjectStore,
    request: ExportRequest,
    *,
    channel: RedriveChannel | None = None,
    max_redrives: int = DEFAULT_MAX_REDRIVES,
    clock_skew: dt.timedelta = DEFAULT_CLOCK_SKEW,
    now: dt.datetime | None = None,
    logger: Any = None,
) -> ExportResult:
    """Export what `request` asks for; see the module docstring for the rules."""
    started = time.monotonic()
    logger = logger or log
    now = (now or dt.datetime.now(UTC)).astimezone(UTC)
    if request.recordOverride is None and request.endDateTime is None:
        request = request.with_end(now - clock_skew)
    if request.uses_watermark and request.endDateTime > now - clock_skew:  # type: ignore[operator]
        # A watermark in the future would skip the records still to be uploaded before it.
        raise StudyExportError(
            f"endDateTime: {_iso(request.endDateTime)} is later than now minus the clock skew "  # type: ignore[arg-type]
            f"({_iso(now - clock_skew)}); an export that moves last_export_date_time must end in the past"
        )
    study_ids = resolve_studies(database, request)
    override_ids = _read_override(store, request.recordOverride) if request.recordOverride else None
    if request.uses_watermark:
        ensure_export_time_rows(database, study_ids)

    result = ExportResult(export_id=str(uuid.uuid4()), export_type=str(request.exportType), tag=request.tag)
    writer = _CsvWriter(store, result, logger)
    try:
        with database.begin() as conn:
            watermarks = lock_export_times(database, conn, study_ids) if request.uses_watermark else {}
            if override_ids is not None:
                prefix = f"study_exports/{request.exportType.lower()}/override-{result.export_id}"
                _override_records(database, conn, override_ids, request.studyWhitelist, writer, prefix)
                result.windows = {s: None for s in study_ids}
            else:
                _export_windows(database, conn, request, study_ids, watermarks, writer, logger)
            _queue_redrives(store, channel or StoreInbox(store), request, result, max_redrives)
            if request.uses_watermark:
                result.watermarks_moved = advance_export_times(
                    conn, {s: request.endDateTime for s in study_ids}  # type: ignore[misc]
                )
            result.seconds = time.monotonic() - started
            _write_log(conn, request, result, now)
    except BaseException:
        writer.remove_written()
        raise
    logger.info(
        f"export {result.export_id}: {result.records} records in {len(result.keys)} files, "
        f"{len(result.failed_record_ids)} failed, {result.seconds:.2f} s"
    )
    return result


def resolve_studies(database: Database, request: ExportRequest) -> list[str]:
    """The whitelist (every id must exist), else every study."""
    with database.begin() as conn:
        if request.studyWhitelist is None:
            # Sorted here, not by the database: code point order whatever its collation (see `_order`).
            return sorted(conn.scalars(sa.select(studies.c.study_id)))
        found = set(
            conn.scalars(sa.select(studies.c.study_id).where(studies.c.study_id.in_(request.studyWhitelist)))
        )
    missing = [s for s in request.studyWhitelist if s not in found]
    if missing:
        raise StudyExportError(
            f"studyWhitelist: unknown study id(s) {', '.join(map(repr, missing))}; list only existing studies"
        )
    return sorted(request.studyWhitelist)


def _read_override(store: ObjectStore, key: str) -> list[str]:
    """The record ids of a record-override file: one id per line."""
    try:
        with store.open_read(key) as raw:
            ids = [line.strip() for line in io.TextIOWrapper(raw, encoding="utf-8") if line.strip()]
    except ObjectNotFoundError:
        raise StudyExportError(f"recordOverride: no object {key!r} in {store.describe()}") from None
    except UnicodeDecodeError:
        raise StudyExportError(f"recordOverride: {key!r} is not UTF-8 text with one record id per line") from None
    if len(ids) > MAX_OVERRIDE_RECORDS:
        raise StudyExportError(
            f"recordOverride: {key!r} lists {len(ids)} record ids, more than {MAX_OVERRIDE_RECORDS}; split it"
        )
    return list(dict.fromkeys(ids))


def _columns() -> list[sa.ColumnElement]:
    # `data` as its JSON text: no decode / re-encode per record, the same text COPY would write.
    return [
        records.c.record_id,
        records.c.study_id,
        records.c.schema_key,
        records.c.uploaded_on,
        sa.cast(records.c.data, sa.Text).label("data"),
    ]


def _export_windows(
    database: Database,
    conn: Connection,
    request: ExportRequest,
    study_ids: Sequence[str],
    watermarks: dict[str, dt.datetime | None],
    writer: _CsvWriter,
    logger: Any,
) -> None:
    end = request.endDateTime
    assert end is not None
    # Studies whose windows start together are read by one query (usually all of them: their
    # watermarks are the previous run's end), one table scan instead of one index walk per study.
    by_start: dict[dt.datetime, list[str]] = {}
    for study_id in study_ids:
        start = study_window_start(request, watermarks.get(study_id))
        if start >= end:
            # The end is before the watermark: nothing new for this study, and the watermark stays.
            writer.result.windows[study_id] = None
        else:
            writer.result.windows[study_id] = (_iso(start), _iso(end))
            by_start.setdefault(start, []).append(study_id)
    progress = Progress("studies exported", len(study_ids), logger=logger)
    for start, starting in sorted(by_start.items()):
        prefix = f"study_exports/{request.exportType.lower()}/{_stamp(start)}--{_stamp(end)}"
        for chunk in _batched(starting, _STUDIES_PER_QUERY):

            def window(columns: list[sa.ColumnElement], chunk: tuple[str, ...] = chunk) -> sa.Select:
                return (
                    sa.select(*columns)
                    .where(records.c.study_id.in_(chunk))
                    .where(records.c.uploaded_on >= start, records.c.uploaded_on < end)
                    .order_by(*_order(database))
                )

            _write_records(database, conn, window, writer, prefix)
            progress.advance(len(chunk))


def study_window_start(request: ExportRequest, watermark: dt.datetime | None) -> dt.datetime:
    """Where one study's window starts (the seed's RecordIdSourceFactory rule)."""
    if request.uses_watermark and watermark is not None:
        return watermark
    if request.startDateTime is not None:
        return request.startDateTime
    assert request.endDateTime is not None
    return window_start(request.exportType, request.endDateTime)


def _override_records(
    database: Database,
    conn: Connection,
    record_ids: list[str],
    whitelist: Sequence[str] | None,
    writer: _CsvWriter,
    prefix: str,
) -> None:
    def listed(columns: list[sa.ColumnElement]) -> sa.Select:
        query = sa.select(*columns).where(records.c.record_id.in_(record_ids))
        if whitelist is not None:
            query = query.where(records.c.study_id.in_(whitelist))
        return query.order_by(*_order(database))

    _write_records(database, conn, listed, writer, prefix)


def _order(database: Database) -> tuple[sa.ColumnElement, ...]:
    """The order records are read in: by file, (study_id, schema_key), then uploaded_on, record_id.

    Text in byte order on both backends, so that files come in the same order: SQLite compares
    bytes (BINARY); PostgreSQL compares in the database's collation unless told `COLLATE "C"`, which
    is also its cheapest comparison (memcmp, where any other collation calls strcoll).
    """
    if database.is_postgres:
        return (
            records.c.study_id.collate("C"),
            records.c.schema_key.collate("C"),
            records.c.uploaded_on,
            records.c.record_id.collate("C"),
        )
    return (records.c.study_id, records.c.schema_key, records.c.uploaded_on, records.c.record_id)


def _write_records(
    database: Database,
    conn: Connection,
    query: Callable[[list[sa.ColumnElement]], sa.Select],
    writer: _CsvWriter,
    prefix: str,
) -> None:
    """The records `query(columns)` selects, ordered by (study_id, schema_key), into their files:
    PostgreSQL's COPY output when the connection speaks UTF-8, else rows formatted in Python."""
    if _uses_copy(database, conn):
        raw = conn.connection.driver_connection
        writer.write_copy(_copy_rows(raw, conn.dialect, query(_pg_columns())), prefix)
    else:
        rows = itertools.chain.from_iterable(database.stream(conn, query(_columns()), batch_size=_BATCH))
        writer.write_groups(rows, prefix)


def _uses_copy(database: Database, conn: Connection) -> bool:
    # COPY's bytes are written as they come: they must be UTF-8 like the files.
    return database.is_postgres and conn.connection.driver_connection.info.encoding == "utf-8"


def _pg_columns() -> list[sa.ColumnElement]:
    """`_columns()` as PostgreSQL renders them to the text the Python path writes.

    `uploaded_on`: `datetime.isoformat()` of the UTC value (microseconds only when not zero).
    `data`: its JSON text when the record is exportable, else NULL (re-driven). The Python check is
    "the text starts with '{'"; JSONB's text starts with '{' exactly when it is an object, so
    `jsonb_typeof(data) = 'object'` is the same test, and a NULL last field (a row ending in ",\n")
    marks every record the Python path would re-drive.
    """
    utc = sa.func.timezone("UTC", records.c.uploaded_on)
    whole_second = sa.func.date_trunc("second", records.c.uploaded_on) == records.c.uploaded_on
    pattern = sa.case(
        (whole_second, 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'), else_='YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'
    )
    return [
        records.c.record_id,
        records.c.study_id,
        records.c.schema_key,
        sa.func.to_char(utc, pattern).label("uploaded_on_text"),
        sa.case((sa.func.jsonb_typeof(records.c.data) == "object", sa.cast(records.c.data, sa.Text))).label("data"),
    ]


def _copy_rows(raw: Any, dialect: sa.Dialect, query: sa.Select) -> Iterator[Any]:
    """The rows of `query` as the server's CSV, one buffer per row (each ends with its LF)."""
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    with raw.cursor() as cursor, cursor.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", compiled.params) as copy:
        yield from copy


class _CsvWriter:
    """Writes rows ordered by (study_id, schema_key) to one CSV per group; failures become re-drives."""

    def __init__(self, store: ObjectStore, result: ExportResult, logger: Any):
        self.store, self.result, self.logger = store, result, logger

    def write_groups(self, rows: Iterable[sa.Row], prefix: str) -> None:
        for (study_id, schema_key), group in itertools.groupby(rows, key=lambda r: (r[1], r[2])):
            key = f"{prefix}/{_segment(study_id)}/{_segment(schema_key)}.csv"
            written = self._write_file(key, group, study_id, schema_key)
            if written:
                self.result.keys.append(key)
                self.result.counts.setdefault(study_id, {})[schema_key] = written
                self.result.records += written

    def _write_file(self, key: str, group: Iterator[sa.Row], study_id: str, schema_key: str) -> int:
        good = self._valid(group)
        first = next(good, None)
        if first is None:
            return 0
        rows = itertools.chain((first,), good)
        ids: list[str] = []
        try:
            with self.store.open_write(key) as raw:
                out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                out.write(rfc4180.format_row(CSV_HEADER))
                lines = _csv_lines(study_id, schema_key)
                for batch in _batched(rows, _BATCH):
                    ids.extend(row[0] for row in batch)  # before the write: a failing write re-drives them
                    out.write(lines(batch))
                out.flush()
                out.detach()
        except Exception as exc:  # noqa: BLE001 - any store error fails this file only
            self.logger.warning(f"cannot write {key}: {exc}; its records go to the re-drive list")
            ids.extend(row[0] for row in rows)  # the rest of the group (the first too), unread when it failed
            self.result.failed_record_ids.extend(ids)
            return 0
        return len(ids)

    def _valid(self, group: Iterator[sa.Row]) -> Iterator[sa.Row]:
        """The records whose `data` is a JSON object (a CSV row needs one); the rest are re-driven."""
        for row in group:
            data = row[4]
            if data is None or not data.startswith("{"):
                self.result.failed_record_ids.append(row[0])
                continue
            yield row

    def write_copy(self, rows: Iterable[Any], prefix: str) -> None:
        """`write_groups` for PostgreSQL's COPY CSV rows (`_pg_columns`, one LF-ended buffer each).

        A row whose record_id is unquoted belongs to the current file when the bytes after its first
        comma are the file's `,study_id,schema_key,`; any other row is parsed (a new group, or an id
        that needed quotes). A NULL `data` (a row ending in ",\n") is a record to re-drive.
        """
        failed = self.result.failed_record_ids
        file: _CopyFile | None = None
        ids: list[str | bytearray] = []  # the current file's
        middle = b"\0"  # matches no row: the first row opens the first file
        buf = bytearray()
        block = _BLOCK
        try:
            for row in rows:
                start = len(buf)
                buf += row
                comma = buf.find(b",", start)
                if buf[start] == _QUOTE or not buf.startswith(middle, comma):
                    record_id, study_id, schema_key, _, data = _parse_copy_row(row)
                    if file is None or file.group != (study_id, schema_key):
                        del buf[start:]
                        if file is not None:
                            file.finish(buf)
                        key = f"{prefix}/{_segment(study_id)}/{_segment(schema_key)}.csv"
                        file = _CopyFile(self, key, (study_id, schema_key))
                        ids = file.ids
                        middle = f",{rfc4180.format_field(study_id)},{rfc4180.format_field(schema_key)},".encode()
                        buf = bytearray(row)
                        start = 0
                    if data is None:
                        failed.append(record_id)
                        del buf[start:]
                        continue
                    ids.append(record_id)
                elif buf.endswith(b",\n"):
                    failed.append(buf[start:comma].decode())
                    del buf[start:]
                    continue
                else:
                    ids.append(buf[start:comma])
                buf.insert(-1, 13)  # one COPY row per buffer: its last byte is the LF that ends it
                if len(buf) >= block:
                    file.write(buf)  # type: ignore[union-attr]
                    buf = bytearray()
            if file is not None:
                file.finish(buf)
        except BaseException as exc:
            if file is not None:
                file.abort(exc)
            raise

    def remove_written(self) -> None:
        for key in self.result.keys:
            try:
                self.store.delete(key)
            except Exception as exc:  # noqa: BLE001 - best effort: the export already failed
                self.logger.warning(f"cannot remove {key} of a failed export: {exc}")


class _CopyFile:
    """One (study, schema_key) file of `_CsvWriter.write_copy`: opened at its first record, written
    in blocks; a store error drops the file and re-drives its records (those to come too)."""

    def __init__(self, writer: _CsvWriter, key: str, group: tuple[str, str]):
        self.writer, self.key, self.group = writer, key, group
        self.ids: list[str | bytearray] = []  # record ids written, as text or as their COPY bytes
        self.failed = False
        self._context: AbstractContextManager[IO[bytes]] | None = None
        self._out: IO[bytes] | None = None

    def write(self, block: bytearray) -> None:
        if self.failed:
            self._redrive_ids()
            return
        try:
            if self._context is None:
                context = self.writer.store.open_write(self.key)
                self._out = context.__enter__()
                self._context = context
                self._out.write(_HEADER)
            assert self._out is not None
            self._out.write(block)
        except Exception as exc:  # noqa: BLE001 - any store error fails this file only
            self._fail(exc)

    def finish(self, block: bytearray) -> None:
        if block:
            self.write(block)
        if self.failed:
            self._redrive_ids()
            return
        if self._context is None:
            return  # every record of the group was re-driven: no file
        context, self._context = self._context, None
        try:
            context.__exit__(None, None, None)
        except Exception as exc:  # noqa: BLE001 - any store error fails this file only
            self._fail(exc)
            self._redrive_ids()
            return
        result = self.writer.result
        study_id, schema_key = self.group
        result.keys.append(self.key)
        result.counts.setdefault(study_id, {})[schema_key] = len(self.ids)
        result.records += len(self.ids)

    def _fail(self, exc: Exception) -> None:
        self.writer.logger.warning(f"cannot write {self.key}: {exc}; its records go to the re-drive list")
        self.failed = True
        if self._context is not None:
            self.abort(exc)

    def _redrive_ids(self) -> None:
        self.writer.result.failed_record_ids.extend(i if isinstance(i, str) else i.decode() for i in self.ids)
        self.ids.clear()  # the same list `write_copy` appends to

    def abort(self, exc: BaseException) -> None:
        """Discard the file being written (the store never shows a partial object)."""
        context, self._context = self._context, None
        if context is not None:
            with contextlib.suppress(Exception):  # the original error is the one to report
                context.__exit__(type(exc), exc, exc.__traceback__)


def _parse_copy_row(row: Any) -> list[Any]:
    """(record_id, study_id, schema_key, uploaded_on, data) of one COPY CSV row (data None: NULL)."""
    return rfc4180.parse_record(bytes(row)[:-1].decode("utf-8"))


def _csv_lines(study_id: str, schema_key: str) -> Any:
    """`rfc4180.format_row` of (record_id, study_id, schema_key, uploaded_on, data) for many rows at
    once: the two group columns are formatted once, `data` is already JSON text, `uploaded_on` is
    aware (TZDateTime), so each row costs two field quotings instead of five generic values."""
    field = rfc4180.format_field
    middle = f",{field(study_id)},{field(schema_key)},"

    def lines(rows: Sequence[sa.Row]) -> str:
        return "".join(
            f"{field(row[0])}{middle}{row[3].isoformat()},{field(row[4])}{rfc4180.CRLF}" for row in rows
        )

    return lines


def _queue_redrives(
    store: ObjectStore, channel: RedriveChannel, request: ExportRequest, result: ExportResult, max_redrives: int
) -> None:
    failed = list(dict.fromkeys(result.failed_record_ids))
    result.failed_record_ids = failed
    if not failed:
        return
    if request.redriveCount + 1 > max_redrives:
        result.dead_record_ids = failed
        return
    for number, chunk in enumerate(_batched(failed, MAX_OVERRIDE_RECORDS), start=1):
        key = f"{RECORD_LISTS}{result.export_id}-{number}.txt"
        store.put_bytes(key, "".join(f"{record_id}\n" for record_id in chunk).encode())
        result.redrive_keys.append(key)
        result.redrive_message_ids.append(channel.send(request.redrive(key).to_message()))


def _write_log(conn: Connection, request: ExportRequest, result: ExportResult, now: dt.datetime) -> None:
    conn.execute(
        study_export_log.insert().values(
            export_id=result.export_id,
            export_type=result.export_type,
            tag=request.tag,
            request=request.to_message(),
            started_at=now,
            finished_at=now + dt.timedelta(seconds=result.seconds),
            record_count=result.records,
            counts=result.counts,
            keys=result.keys,
            redrive_key=result.redrive_keys[0] if result.redrive_keys else None,
            redrive_count=request.redriveCount,
            dead_count=len(result.dead_record_ids),
        )
    )


def _batched(items: Iterable[Any], size: int) -> Iterator[tuple[Any, ...]]:
    # itertools.batched arrived in Python 3.12.
    iterator = iter(items)
    while batch := tuple(itertools.islice(iterator, size)):
        yield batch


def _segment(value: str) -> str:
    # Study ids and schema keys become single key segments (no '/', no '.' or '..').
    return urllib.parse.quote(value, safe="-_")


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _iso(when: dt.datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


__all__ = ["CSV_HEADER", "ExportResult", "ExportType", "run_export", "study_window_start"]
