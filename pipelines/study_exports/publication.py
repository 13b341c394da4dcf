"""Where an export's files go, how it is published, and what readers see.

Every export has its own prefix, `study_exports/exports/<export id>/`, and writes nothing
elsewhere but its manifest: a re-export or a retry is a new export beside the old, and no export
ever overwrites or deletes another's files. Its last act before the database commit is the
manifest, `study_exports/manifests/<export id>.json` (every file with its rows, bytes and sha256,
the request, each study's window, by the real study id); **an export exists for readers only once
its manifest does**. The commit that follows moves the watermarks, writes the export-log row (with
the manifest's key) and deletes the export's *under way* row (`study_exports_under_way`), which was
committed before the export began: an export killed half way leaves that row behind, and the next
export removes the killed export's prefix and row (`remove_leftovers`).

Telling a killed export from one still running: on PostgreSQL a running export holds its row
locked (`FOR UPDATE`) from its first statement to its commit, and the cleanup takes only rows it can
lock (`SKIP LOCKED`); on SQLite a running export holds the database's write lock for as long, so a
cleanup, itself a write transaction, runs only when no export does. Rows younger than
`LEFTOVER_GRACE` are left alone either way (the moment between committing the row and locking it).

Keys: each path segment is percent-encoded (`key_segment`, reversible with `urllib.parse.unquote`):
`/`, `%`, spaces, non-ASCII and `.`/`..` as a whole segment become escapes. A segment whose encoding
is longer than `MAX_SEGMENT_BYTES` (a file name limit of local disks) keeps its first characters and
ends with `~` and a hash of the whole; the manifest holds the real id either way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.csv_files import CsvFile
from pipelines.core.database import Database
from pipelines.core.object_store import ObjectStore
from pipelines.study_exports.requests import ExportRequest, iso
from pipelines.study_exports.tables import records, study_export_log, study_exports_under_way

log = logging.getLogger(__name__)

EXPORTS = "study_exports/exports/"
MANIFESTS = "study_exports/manifests/"
DEAD_LETTERS = "redrive/dead/"
LEFTOVER_GRACE = dt.timedelta(seconds=10)
MAX_SEGMENT_BYTES = 200


def key_segment(value: str) -> str:
    """`value` as one object-key segment: percent-encoded, never `.` or `..`, at most
    `MAX_SEGMENT_BYTES` (longer ones are shortened and end with `~` and a hash of the whole)."""
    encoded = urllib.parse.quote(value, safe="-_")
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    if len(encoded) > MAX_SEGMENT_BYTES:
        digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]
        encoded = f"{encoded[: MAX_SEGMENT_BYTES - 17].rsplit('%', 1)[0]}~{digest}"
    return encoded


def export_prefix(export_id: str) -> str:
    return f"{EXPORTS}{export_id}/"


def manifest_key(export_id: str) -> str:
    return f"{MANIFESTS}{export_id}.json"


def begin(database: Database, export_id: str, now: dt.datetime) -> None:
    """Record the export as under way, committed, so that its files can be found if it dies."""
    with database.begin() as conn:
        conn.execute(
            study_exports_under_way.insert().values(
                export_id=export_id, prefix=export_prefix(export_id), started_at=now
            )
        )


def hold(database: Database, conn: Connection, export_id: str) -> None:
    """PostgreSQL: lock the export's own under-way row until `conn` commits or dies (SQLite's write
    lock, held by the same transaction, does that there)."""
    if database.is_postgres:
        conn.execute(
            sa.select(study_exports_under_way.c.export_id)
            .where(study_exports_under_way.c.export_id == export_id)
            .with_for_update()
        )


def finish(conn: Connection, export_id: str) -> None:
    """In the publishing transaction: the export is no longer under way."""
    conn.execute(study_exports_under_way.delete().where(study_exports_under_way.c.export_id == export_id))


def abandon(database: Database, store: ObjectStore, export_id: str, logger: Any = None) -> None:
    """A failed export removes its own files and manifest, then its under-way row (best effort:
    what is left, the next export removes)."""
    logger = logger or log
    try:
        _remove_export(store, export_id)
        with database.begin() as conn:
            finish(conn, export_id)
    except Exception as exc:  # noqa: BLE001 - the export's own error is the one to report
        logger.warning(f"export {export_id} failed and could not clean up ({exc}); the next export will")


def remove_leftovers(database: Database, store: ObjectStore, now: dt.datetime, logger: Any = None) -> list[str]:
    """Remove the files of exports that died half way (their under-way row is not held); returns their ids."""
    logger = logger or log
    table = study_exports_under_way
    query = sa.select(table.c.export_id).where(table.c.started_at < now - LEFTOVER_GRACE).order_by(table.c.export_id)
    if database.is_postgres:
        query = query.with_for_update(skip_locked=True)
    removed = []
    with database.begin() as conn:
        for export_id in conn.scalars(query).all():
            _remove_export(store, export_id)
            conn.execute(table.delete().where(table.c.export_id == export_id))
            removed.append(export_id)
    if removed:
        logger.warning(f"removed the files of {len(removed)} export(s) that did not finish: {', '.join(removed)}")
    return removed


def _remove_export(store: ObjectStore, export_id: str) -> None:
    # The manifest first: from then on the export does not exist for readers.
    store.delete(manifest_key(export_id))
    store.delete_prefix(export_prefix(export_id))


@dataclass(frozen=True)
class Manifest:
    key: str
    body: dict[str, Any]


def write_manifest(
    store: ObjectStore,
    request: ExportRequest,
    export_id: str,
    files: Iterable[CsvFile],
    windows: Mapping[str, tuple[str, str] | None],
    published_at: dt.datetime,
    extra: Mapping[str, Any],
) -> Manifest:
    """The export's manifest, written whole (one object put) as its last write."""
    body = {
        "export_id": export_id,
        "export_type": str(request.export_type),
        "published_at": iso(published_at),
        "request": request.to_message(),
        "windows": {study: list(window) if window else None for study, window in windows.items()},
        "files": [
            {
                "key": f.key,
                "study_id": f.group[0],
                "schema_key": f.group[1],
                "rows": f.rows,
                "bytes": f.bytes,
                "sha256": f.sha256,
            }
            for f in files
        ],
        **extra,
    }
    key = manifest_key(export_id)
    store.put_bytes(key, json.dumps(body, indent=1, ensure_ascii=False).encode("utf-8"))
    return Manifest(key, body)


def read_manifest(store: ObjectStore, key: str) -> dict[str, Any]:
    return json.loads(store.get_bytes(key))


def published_manifests(store: ObjectStore) -> list[str]:
    """The manifest keys of every published export (what a reader lists)."""
    return [info.key for info in store.list(MANIFESTS) if info.key.endswith(".json")]


def current_exports(
    database: Database, export_type: str, start: dt.datetime, end: dt.datetime
) -> dict[str, str]:
    """Per study, the manifest of the newest published export of the window `[start, end)` of this type."""
    window = [iso(start), iso(end)]
    found: dict[str, str] = {}
    query = (
        sa.select(study_export_log.c.manifest_key, study_export_log.c.windows)
        .where(study_export_log.c.export_type == export_type, study_export_log.c.manifest_key.is_not(None))
        .order_by(study_export_log.c.id.desc())
    )
    with database.begin() as conn:
        for key, windows in conn.execute(query):
            for study, study_window in (windows or {}).items():
                if study_window == window:
                    found.setdefault(study, key)
    return dict(sorted(found.items()))


def write_dead_letters(store: ObjectStore, conn: Connection, export_id: str, record_ids: list[str]) -> str:
    """The records past their last re-drive, with their study and upload time, as one JSON list."""
    rows = []
    for chunk in (record_ids[i : i + 1000] for i in range(0, len(record_ids), 1000)):
        found = conn.execute(
            sa.select(records.c.record_id, records.c.study_id, records.c.uploaded_on).where(
                records.c.record_id.in_(chunk)
            )
        )
        rows.extend({"record_id": r.record_id, "study_id": r.study_id, "uploaded_on": iso(r.uploaded_on)} for r in found)
    key = f"{DEAD_LETTERS}{export_id}.json"
    store.put_bytes(key, json.dumps(sorted(rows, key=lambda r: r["record_id"]), indent=1).encode("utf-8"))
    return key


def dead_records(
    store: ObjectStore, windows: Iterable[tuple[dt.datetime, dt.datetime]] = (), record_ids: Iterable[str] = ()
) -> list[dict[str, str]]:
    """The dead-letter records uploaded in any of `windows`, or listed in `record_ids`."""
    windows = list(windows)
    wanted = set(record_ids)
    found: dict[str, dict[str, str]] = {}
    for info in store.list(DEAD_LETTERS):
        for entry in json.loads(store.get_bytes(info.key)):
            uploaded = dt.datetime.fromisoformat(entry["uploaded_on"])
            if entry["record_id"] in wanted or any(start <= uploaded < end for start, end in windows):
                found[entry["record_id"]] = entry
    return [found[k] for k in sorted(found)]
