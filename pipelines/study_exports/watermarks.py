"""`last_export_date_time`, the per-study watermark: read under a lock, advanced only forwards.

The dialect-specific part (PostgreSQL's `INSERT ... ON CONFLICT DO NOTHING` and `SELECT ... FOR
UPDATE`) lives here, with the SQLite path beside it. On SQLite every write transaction starts with
`BEGIN IMMEDIATE` (see `Database`), which already serializes exports, so a plain SELECT is enough.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.database import Database, in_values, insert_skipping_conflicts
from pipelines.study_exports.tables import study_export_times


def ensure_export_time_rows(database: Database, study_ids: Sequence[str]) -> None:
    """Create the missing rows (watermark NULL) in their own short transaction, so they can be locked."""
    if not study_ids:
        return
    with database.begin() as conn:
        statement = insert_skipping_conflicts(conn, study_export_times, ["study_id"])
        conn.execute(statement, [{"study_id": s, "last_export_date_time": None} for s in sorted(study_ids)])


def lock_export_times(
    database: Database, conn: Connection, study_ids: Sequence[str]
) -> dict[str, dt.datetime | None]:
    """The watermark of each study, locked until `conn`'s transaction ends (rows in study order,
    so two exports of overlapping studies cannot deadlock)."""
    query = (
        sa.select(study_export_times.c.study_id, study_export_times.c.last_export_date_time)
        .where(in_values(study_export_times.c.study_id, sorted(study_ids)))
        .order_by(study_export_times.c.study_id)
    )
    if database.is_postgres:
        query = query.with_for_update()
    return {row.study_id: row.last_export_date_time for row in conn.execute(query)}


def advance_export_times(conn: Connection, new_times: dict[str, dt.datetime]) -> int:
    """Move each study's watermark to its new time, never backwards; returns how many moved."""
    moved = 0
    column = study_export_times.c.last_export_date_time
    for study_id, when in sorted(new_times.items()):
        result = conn.execute(
            study_export_times.update()
            .where(study_export_times.c.study_id == study_id)
            .where(sa.or_(column.is_(None), column < when))
            .values(last_export_date_time=when)
        )
        moved += result.rowcount
    return moved


def read_export_times(database: Database) -> dict[str, dt.datetime | None]:
    """Every study's watermark (for tests, the CLI and the demo)."""
    with database.begin() as conn:
        rows = conn.execute(sa.select(study_export_times).order_by(study_export_times.c.study_id))
        return {row.study_id: row.last_export_date_time for row in rows}
