"""`responsive_responsibility_aggregate`: the posture per (service, responsibility, boundary, component).

Pass / fail per CIR: FAILING when any of its fulfillments fails, PASSING when it has fulfillments and
none fails; a CIR without fulfillments counts in `cir_count` only. A group is FAILING when any of its
CIRs fails, else PASSING; a group none of whose CIRs is fulfilled has no row. Records created by the
lite import (`created_by = 'lite-import-script'`) are never counted, so an import does not feed back
into the next export.

PostgreSQL (migration `posture_0002`): a plain VIEW over one of two MATERIALIZED VIEWs,
`responsive_responsibility_aggregate_a` and `_b`. A refresh fills the standby one with a plain
REFRESH (which locks only the standby: nobody reads it) and then points the view at it with
`CREATE OR REPLACE VIEW` in the same transaction, so readers see the old rows or the new ones, never
a part, and wait at most for the swap. The swap waits for the view's lock at most `SWAP_LOCK_WAIT`
at a time (a reader that started earlier and still runs holds it; readers queued behind the swap
wait no longer than that), and is retried until `SWAP_DEADLINE_SECONDS`. Refreshes are serialized by
an advisory lock. SQLite: a table rebuilt in one transaction (readers of another connection see the
old table until it commits).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.database import Database, IdType, metadata
from pipelines.core.locks import transaction_lock
from pipelines.posture.errors import PostureError
from pipelines.posture.tables import (
    LITE_IMPORT_CREATED_BY,
    component_instance_responsibilities as cir_table,
    component_instance_responsibility_fulfillments as cirf_table,
    component_instances as ci_table,
)

log = logging.getLogger(__name__)

VIEW_NAME = "responsive_responsibility_aggregate"
KEY_COLUMNS = ("service_id", "responsibility_id", "boundary_id", "component_id")

# Not in `metadata`: on PostgreSQL it is a materialized view, on SQLite a table the refresh owns.
view_metadata = sa.MetaData(naming_convention=metadata.naming_convention)
aggregate_view = sa.Table(
    VIEW_NAME,
    view_metadata,
    *(sa.Column(name, IdType, nullable=False) for name in KEY_COLUMNS),
    sa.Column("cir_count", sa.BigInteger, nullable=False),
    sa.Column("passing_count", sa.BigInteger, nullable=False),
    sa.Column("failing_count", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Index("ix_responsive_responsibility_aggregate_key", *KEY_COLUMNS, unique=True),
)


def aggregate_select() -> sa.Select:
    """The view's query (the same as the migration's PostgreSQL view, which is frozen there)."""
    failing_flag = sa.case((cirf_table.c.status == "FAILING", 1), else_=0)
    fulfilled = (
        sa.select(
            cirf_table.c.component_instance_responsibility_id.label("cir_id"),
            sa.func.max(failing_flag).label("failing"),
        )
        .where(cirf_table.c.created_by != LITE_IMPORT_CREATED_BY)
        .group_by(cirf_table.c.component_instance_responsibility_id)
        .cte("fulfilled")
    )
    failing = sa.func.coalesce(fulfilled.c.failing, 0)
    return (
        sa.select(
            ci_table.c.service_id,
            cir_table.c.responsibility_id,
            ci_table.c.boundary_id,
            ci_table.c.component_id,
            sa.func.count().label("cir_count"),
            (sa.func.count(fulfilled.c.cir_id) - sa.func.sum(failing)).label("passing_count"),
            sa.func.sum(failing).label("failing_count"),
            sa.case((sa.func.max(fulfilled.c.failing) == 1, "FAILING"), else_="PASSING").label("status"),
        )
        .select_from(cir_table)
        .join(ci_table, ci_table.c.id == cir_table.c.component_instance_id)
        .outerjoin(fulfilled, fulfilled.c.cir_id == cir_table.c.id)
        .where(
            cir_table.c.created_by != LITE_IMPORT_CREATED_BY,
            ci_table.c.created_by != LITE_IMPORT_CREATED_BY,
        )
        .group_by(ci_table.c.service_id, cir_table.c.responsibility_id, ci_table.c.boundary_id, ci_table.c.component_id)
        .having(sa.func.count(fulfilled.c.cir_id) > 0)
    )


MATERIALIZED = (f"{VIEW_NAME}_a", f"{VIEW_NAME}_b")
# The longest a reader of the view waits for a swap (the swap's lock wait, then the swap itself).
SWAP_LOCK_WAIT = "100ms"
SWAP_DEADLINE_SECONDS = 300.0
_LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class RefreshResult:
    rows: int
    failing_rows: int
    seconds: float
    mode: str  # "swap" (PostgreSQL: the standby refreshed, then swapped in) or "rebuild" (SQLite)
    materialized_view: str | None = None  # PostgreSQL: the one the view now reads
    swap_attempts: int = 0


def refresh_aggregate(database: Database) -> RefreshResult:
    """Refresh the view without blocking its readers (PostgreSQL) or rebuild its table (SQLite)."""
    started = time.monotonic()
    with database.begin() as conn:
        swapped = refresh_statement(conn)
    seconds = time.monotonic() - started
    with database.begin() as conn:
        rows, failing_rows = aggregate_counts(conn)
    mode = "rebuild" if swapped is None else "swap"
    log.info("Refreshed %s (%s): %d rows, %d failing, %.2f s", VIEW_NAME, mode, rows, failing_rows, seconds)
    return RefreshResult(
        rows=rows, failing_rows=failing_rows, seconds=seconds, mode=mode,
        materialized_view=swapped[0] if swapped else None, swap_attempts=swapped[1] if swapped else 0,
    )


def refresh_statement(conn: Connection) -> tuple[str, int] | None:
    """The dialect-specific part. PostgreSQL: REFRESH the standby materialized view, then swap it in;
    returns (the view it reads now, swap attempts). SQLite: rebuild the table; returns None."""
    if conn.dialect.name != "postgresql":
        aggregate_view.drop(conn, checkfirst=True)
        aggregate_view.create(conn)
        conn.execute(aggregate_view.insert().from_select([c.name for c in aggregate_view.c], aggregate_select()))
        return None
    transaction_lock(conn, "posture.responsive_responsibility_aggregate")
    standby = next(name for name in MATERIALIZED if name != active_materialized_view(conn))
    # The sort of a refresh spills to disk at the default.
    conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
    conn.execute(sa.text(f"REFRESH MATERIALIZED VIEW {standby}"))
    return standby, _swap_in(conn, standby)


def _swap_in(conn: Connection, standby: str) -> int:
    """Point the view at `standby`, waiting for its lock `SWAP_LOCK_WAIT` at a time; returns the attempts."""
    conn.execute(sa.text(f"SET LOCAL lock_timeout = '{SWAP_LOCK_WAIT}'"))
    deadline = time.monotonic() + SWAP_DEADLINE_SECONDS
    attempts = 0
    while True:
        attempts += 1
        savepoint = conn.begin_nested()
        try:
            conn.execute(sa.text(f"CREATE OR REPLACE VIEW {VIEW_NAME} AS SELECT * FROM {standby}"))
        except sa.exc.OperationalError as exc:
            savepoint.rollback()
            if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
            if time.monotonic() > deadline:
                raise PostureError(
                    f"{VIEW_NAME}: the refreshed rows could not be swapped in within {SWAP_DEADLINE_SECONDS:.0f} s "
                    f"({attempts} attempts): a reader holds the view that long; nothing was changed"
                ) from None
            time.sleep(min(0.05 * attempts, 1.0))
            continue
        savepoint.commit()
        conn.execute(sa.text("SET LOCAL lock_timeout = 0"))
        return attempts


def active_materialized_view(conn: Connection) -> str:
    """PostgreSQL: which of the two materialized views `responsive_responsibility_aggregate` reads."""
    return conn.scalar(
        sa.text(
            "SELECT DISTINCT c.relname FROM pg_rewrite AS r "
            "JOIN pg_depend AS d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid "
            "JOIN pg_class AS c ON c.oid = d.refobjid "
            "WHERE r.ev_class = CAST(:view AS regclass) AND c.relkind = 'm'"
        ),
        {"view": VIEW_NAME},
    )


def is_populated(conn: Connection) -> bool:
    """Whether the view can be read: refreshed at least once (PostgreSQL) or built (SQLite)."""
    if conn.dialect.name == "postgresql":
        populated = conn.scalar(
            sa.text(
                "SELECT ispopulated FROM pg_matviews WHERE matviewname = :name AND schemaname = current_schema()"
            ),
            {"name": active_materialized_view(conn)},
        )
        return bool(populated)
    return sa.inspect(conn).has_table(VIEW_NAME)


def require_populated(conn: Connection) -> None:
    if not is_populated(conn):
        raise PostureError(
            f"{VIEW_NAME} has never been refreshed: materialize the asset {VIEW_NAME} first "
            "(`pipelines posture export` refreshes it unless --no-refresh)"
        )


def aggregate_counts(conn: Connection) -> tuple[int, int]:
    """(rows, FAILING rows) of the view."""
    require_populated(conn)
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((aggregate_view.c.status == "FAILING", 1), else_=0)), 0),
        ).select_from(aggregate_view)
    ).one()
    return int(row[0]), int(row[1])


def catalog_changed_at(conn: Connection) -> dt.datetime | None:
    """When the catalog the view reads last got a row (component instances, responsibilities and
    fulfillments not created by the lite import, which the view never counts)."""
    newest = [
        conn.scalar(sa.select(sa.func.max(table.c.created_at)).where(table.c.created_by != LITE_IMPORT_CREATED_BY))
        for table in (ci_table, cir_table, cirf_table)
    ]
    found = [_utc(value) for value in newest if value is not None]
    return max(found, default=None)


def _utc(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):  # SQLite's max() of a timestamp column is its text
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
