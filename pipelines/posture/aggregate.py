"""`responsive_responsibility_aggregate`: the posture per (service, responsibility, boundary, component).

Pass / fail per CIR: FAILING when any of its fulfillments fails, PASSING when it has fulfillments and
none fails; a CIR without fulfillments counts in `cir_count` only. A group is FAILING when any of its
CIRs fails, else PASSING; a group none of whose CIRs is fulfilled has no row. Records created by the
lite import (`created_by = 'lite-import-script'`) are never counted, so an import does not feed back
into the next export.

PostgreSQL: a MATERIALIZED VIEW (migration `posture_0001`), refreshed CONCURRENTLY once it holds rows
(readers are never blocked), plainly while it is empty or not yet populated. SQLite: a table rebuilt
in one transaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.database import Database, IdType, metadata
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


@dataclass(frozen=True)
class RefreshResult:
    rows: int
    failing_rows: int
    seconds: float
    mode: str  # "concurrently", "plain" (PostgreSQL) or "rebuild" (SQLite)


def refresh_aggregate(database: Database, *, concurrently: bool | None = None) -> RefreshResult:
    """Refresh the view; `concurrently=None` picks CONCURRENTLY when the view already holds rows."""
    started = time.monotonic()
    with database.begin() as conn:
        mode = refresh_statement(conn, concurrently)
    seconds = time.monotonic() - started
    with database.begin() as conn:
        rows, failing_rows = aggregate_counts(conn)
    log.info("Refreshed %s (%s): %d rows, %d failing, %.2f s", VIEW_NAME, mode, rows, failing_rows, seconds)
    return RefreshResult(rows=rows, failing_rows=failing_rows, seconds=seconds, mode=mode)


def refresh_statement(conn: Connection, concurrently: bool | None) -> str:
    """The dialect-specific part: REFRESH MATERIALIZED VIEW on PostgreSQL, a table rebuild on SQLite."""
    if conn.dialect.name != "postgresql":
        aggregate_view.drop(conn, checkfirst=True)
        aggregate_view.create(conn)
        conn.execute(aggregate_view.insert().from_select([c.name for c in aggregate_view.c], aggregate_select()))
        return "rebuild"
    if concurrently is None:
        concurrently = is_populated(conn) and conn.scalar(sa.select(sa.exists().select_from(aggregate_view))) is True
    # The diff of a concurrent refresh and the sort of a plain one both spill to disk at the default.
    conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
    keyword = "CONCURRENTLY " if concurrently else ""
    conn.execute(sa.text(f"REFRESH MATERIALIZED VIEW {keyword}{VIEW_NAME}"))
    return "concurrently" if concurrently else "plain"


def is_populated(conn: Connection) -> bool:
    """Whether the view can be read: refreshed at least once (PostgreSQL) or built (SQLite)."""
    if conn.dialect.name == "postgresql":
        populated = conn.scalar(
            sa.text(
                "SELECT ispopulated FROM pg_matviews WHERE matviewname = :name AND schemaname = current_schema()"
            ),
            {"name": VIEW_NAME},
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
