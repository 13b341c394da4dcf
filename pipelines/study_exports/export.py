"""One export: every entry point (daily / hourly / instant assets, re-drives, the CLI) calls `run_export`.

Per study, the window is `[start, endDateTime)`: start is the study's `last_export_date_time` when it
has one and the request does not ignore it, else the request's `startDateTime`, else the start its
type gives (DAILY: end - 1 day, HOURLY: end - 1 hour, INSTANT: start of the end's day, UTC).

An export writes only under its own prefix and is published by its manifest (`publication`). Its
work is one transaction that holds the studies' watermark rows locked (PostgreSQL `SELECT ... FOR
UPDATE`; SQLite's write lock): the records stream, ordered by study_id and schema_key in byte order
(`_order`: the same file order on both backends, whatever PostgreSQL's collation), then uploaded_on
and record_id, into one RFC 4180 CSV per (study, schema_key) (`core.csv_files`); the manifest is
written; then, in the same transaction, the watermarks move to `endDateTime` (only for studies whose
window was not empty, never backwards, never for a request that ignores them or overrides the
records) and the export-log row is written. If anything raises, the transaction rolls back (no
watermark moves) and the export removes its own files and manifest; the next run of any type covers
the gap. An export killed half way is removed by the next one.

A record that cannot be exported (its `data` is not a JSON object, or its file could not be written)
does not fail the others: its id goes to a re-drive list in the object store and a re-drive message
(`redriveCount` + 1, tag `redrive export; original: ...`) is queued, up to `max_redrives`; past it the
records are dead: listed in the result and in a dead-letter list (`redrive/dead/<export id>.json`).

PostgreSQL: the rows are PostgreSQL's own `COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)` output
(`core.database.copy_out_csv`), the server rendering each value as the Python path does
(`_pg_columns`). SQLite: a cursor read in batches, formatted with `core.rfc4180`.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.csv_files import CsvFile, GroupedCsvWriter
from pipelines.core.database import Database, copy_out_csv, in_values
from pipelines.core.progress import Progress
from pipelines.core.requests import shorten
from pipelines.core.object_store import ObjectNotFoundError, ObjectStore
from pipelines.study_exports import publication
from pipelines.study_exports.errors import StudyExportError
from pipelines.study_exports.publication import key_segment
from pipelines.study_exports.redrive import RECORD_LISTS, RedriveChannel, StoreInbox
from pipelines.study_exports.requests import UTC, ExportRequest, ExportType, iso, window_start
from pipelines.study_exports.tables import records, studies, study_export_log
from pipelines.study_exports.watermarks import advance_export_times, ensure_export_time_rows, lock_export_times

log = logging.getLogger(__name__)

CSV_HEADER = ("record_id", "study_id", "schema_key", "uploaded_on", "data")
DEFAULT_MAX_REDRIVES = 2
DEFAULT_CLOCK_SKEW = dt.timedelta(minutes=1)
# A re-drive list holds at most this many record ids (one message each), so that an override
# query stays within every backend's limit of bound parameters.
MAX_OVERRIDE_RECORDS = 10_000
SHOWN_UNKNOWN_STUDIES = 5
_BATCH = 5_000
_STUDIES_PER_QUERY = 1_000


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
    manifest_key: str | None = None
    dead_letter_key: str | None = None

    def manifest_extra(self) -> dict[str, Any]:
        """What the manifest says beside its files: counts, re-drives, dead records."""
        return {
            "records": self.records,
            "redrive_keys": self.redrive_keys,
            "dead_record_ids": self.dead_record_ids,
            "dead_letter_key": self.dead_letter_key,
        }

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
            "manifest": self.manifest_key,
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
    if request.record_override is None and request.end is None:
        request = request.with_end(now - clock_skew)
    if request.uses_watermark and request.end > now - clock_skew:  # type: ignore[operator]
        # A watermark in the future would skip the records still to be uploaded before it.
        raise StudyExportError(
            f"endDateTime: {request.end_date_time} is later than now minus the clock skew "
            f"({iso(now - clock_skew)}); an export that moves last_export_date_time must end in the past"
        )
    study_ids = resolve_studies(database, request)
    override_ids = _read_override(store, request.record_override) if request.record_override else None
    if request.uses_watermark:
        ensure_export_time_rows(database, study_ids)

    result = ExportResult(export_id=str(uuid.uuid4()), export_type=str(request.export_type), tag=request.tag)
    publication.remove_leftovers(database, store, now, logger)
    publication.begin(database, result.export_id, now)
    files = _Files(store, result, logger)
    prefix = f"{publication.export_prefix(result.export_id)}{request.export_type.lower()}"
    try:
        with database.begin() as conn:
            publication.hold(database, conn, result.export_id)
            watermarks = lock_export_times(database, conn, study_ids) if request.uses_watermark else {}
            if override_ids is not None:
                _override_records(database, conn, override_ids, request.study_whitelist, files, f"{prefix}/override")
                result.windows = {s: None for s in study_ids}
            else:
                _export_windows(database, conn, request, study_ids, watermarks, files, prefix, logger)
            _queue_redrives(store, channel or StoreInbox(store), request, result, max_redrives)
            if result.dead_record_ids:
                result.dead_letter_key = publication.write_dead_letters(
                    store, conn, result.export_id, result.dead_record_ids
                )
            if request.uses_watermark:
                # Only over what was read: a study whose window was empty keeps its watermark.
                result.watermarks_moved = advance_export_times(
                    conn, {s: request.end for s, window in result.windows.items() if window is not None}  # type: ignore[misc]
                )
            result.seconds = time.monotonic() - started
            manifest = publication.write_manifest(
                store, request, result.export_id, files.written(), result.windows,
                now + dt.timedelta(seconds=result.seconds), result.manifest_extra(),
            )
            result.manifest_key = manifest.key
            _write_log(conn, request, result, now)
            publication.finish(conn, result.export_id)
    except BaseException:
        publication.abandon(database, store, result.export_id, logger)
        raise
    logger.info(
        f"export {result.export_id}: {result.records} records in {len(result.keys)} files, "
        f"{len(result.failed_record_ids)} failed, {result.seconds:.2f} s; manifest {result.manifest_key}"
    )
    return result


def resolve_studies(database: Database, request: ExportRequest) -> list[str]:
    """The whitelist (every id must exist), else every study."""
    with database.begin() as conn:
        if request.study_whitelist is None:
            # Sorted here, not by the database: code point order whatever its collation (see `_order`).
            return sorted(conn.scalars(sa.select(studies.c.study_id)))
        found = set(
            conn.scalars(sa.select(studies.c.study_id).where(in_values(studies.c.study_id, request.study_whitelist)))
        )
    missing = [s for s in request.study_whitelist if s not in found]
    if missing:
        shown = ", ".join(shorten(s) for s in missing[:SHOWN_UNKNOWN_STUDIES])
        more = f" and {len(missing) - SHOWN_UNKNOWN_STUDIES:,} more" if len(missing) > SHOWN_UNKNOWN_STUDIES else ""
        raise StudyExportError(f"studyWhitelist: unknown study id(s) {shown}{more}; list only existing studies")
    return sorted(request.study_whitelist)


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
    files: _Files,
    prefix: str,
    logger: Any,
) -> None:
    end = request.end
    assert end is not None
    # Studies whose windows start together are read by one query (usually all of them: their
    # watermarks are the previous run's end), one table scan instead of one index walk per study.
    by_start: dict[dt.datetime, list[str]] = {}
    for study_id in study_ids:
        start = study_window_start(request, watermarks.get(study_id))
        if start >= end:
            # The end is before the watermark: nothing new for this study, and the watermark stays.
            files.result.windows[study_id] = None
        else:
            files.result.windows[study_id] = (iso(start), iso(end))
            by_start.setdefault(start, []).append(study_id)
    progress = Progress("studies exported", len(study_ids), logger=logger)
    for start, starting in sorted(by_start.items()):
        for chunk in _batched(starting, _STUDIES_PER_QUERY):

            def window(columns: list[sa.ColumnElement], chunk: tuple[str, ...] = chunk) -> sa.Select:
                return (
                    sa.select(*columns)
                    .where(records.c.study_id.in_(chunk))
                    .where(records.c.uploaded_on >= start, records.c.uploaded_on < end)
                    .order_by(*_order(database))
                )

            _write_records(database, conn, window, files, f"{prefix}/{_stamp(start)}--{_stamp(end)}")
            progress.advance(len(chunk))


def study_window_start(request: ExportRequest, watermark: dt.datetime | None) -> dt.datetime:
    """Where one study's window starts (the seed's RecordIdSourceFactory rule)."""
    if request.uses_watermark and watermark is not None:
        return watermark
    if request.start is not None:
        return request.start
    assert request.end is not None
    return window_start(request.export_type, request.end)


def _override_records(
    database: Database,
    conn: Connection,
    record_ids: list[str],
    whitelist: Sequence[str] | None,
    files: _Files,
    prefix: str,
) -> None:
    def listed(columns: list[sa.ColumnElement]) -> sa.Select:
        query = sa.select(*columns).where(in_values(records.c.record_id, record_ids))
        if whitelist is not None:
            query = query.where(in_values(records.c.study_id, whitelist))
        return query.order_by(*_order(database))

    _write_records(database, conn, listed, files, prefix)


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
    files: _Files,
    prefix: str,
) -> None:
    """The records `query(columns)` selects, ordered by (study_id, schema_key), into their files:
    PostgreSQL's COPY output when the connection speaks UTF-8, else rows formatted in Python.
    A record whose `data` is not a JSON object reaches the writer with a NULL `data` (rejected)."""
    writer = files.writer(prefix)
    if _uses_copy(database, conn):
        writer.write_copy(copy_out_csv(conn, query(_pg_columns())))
    else:
        rows = itertools.chain.from_iterable(database.stream(conn, query(_columns()), batch_size=_BATCH))
        writer.write_rows(row if _exportable(row[4]) else (*row[:4], None) for row in rows)
    files.record(writer)


def _exportable(data: str | None) -> bool:
    # A CSV row needs a JSON object (the text of one starts with "{").
    return data is not None and data.startswith("{")


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


class _Files:
    """The export's CSV writers (one per prefix): what they wrote goes into the result, and a
    failed export removes it."""

    def __init__(self, store: ObjectStore, result: ExportResult, logger: Any):
        self.store, self.result, self.logger = store, result, logger
        self.writers: list[GroupedCsvWriter] = []

    def writer(self, prefix: str) -> GroupedCsvWriter:
        def key_for(group: tuple[str, ...]) -> str:
            study_id, schema_key = group
            return f"{prefix}/{key_segment(study_id)}/{key_segment(schema_key)}.csv"

        writer = GroupedCsvWriter(self.store, CSV_HEADER, key_for, group_size=2, logger=self.logger)
        self.writers.append(writer)
        return writer

    def record(self, writer: GroupedCsvWriter) -> None:
        """The writer's files and rejected records into the result (files in the order written)."""
        result = self.result
        for file in writer.files:
            study_id, schema_key = file.group
            result.keys.append(file.key)
            result.counts.setdefault(study_id, {})[schema_key] = file.rows
            result.records += file.rows
        result.failed_record_ids.extend(writer.rejected)

    def written(self) -> list[CsvFile]:
        return [file for writer in self.writers for file in writer.files]


def _queue_redrives(
    store: ObjectStore, channel: RedriveChannel, request: ExportRequest, result: ExportResult, max_redrives: int
) -> None:
    failed = list(dict.fromkeys(result.failed_record_ids))
    result.failed_record_ids = failed
    if not failed:
        return
    if request.redrive_count + 1 > max_redrives:
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
            redrive_count=request.redrive_count,
            dead_count=len(result.dead_record_ids),
            manifest_key=result.manifest_key,
            windows={s: list(w) if w else None for s, w in result.windows.items()},
        )
    )


def _batched(items: Iterable[Any], size: int) -> Iterator[tuple[Any, ...]]:
    # itertools.batched arrived in Python 3.12.
    iterator = iter(items)
    while batch := tuple(itertools.islice(iterator, size)):
        yield batch


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


__all__ = ["CSV_HEADER", "ExportResult", "ExportType", "run_export", "study_window_start"]
