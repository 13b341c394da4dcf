"""posture: `responsive_responsibility_aggregate` as a view over one of two materialized views

PostgreSQL: the materialized view of `posture_0001` becomes `responsive_responsibility_aggregate_a`
(kept with its rows and its unique index), `responsive_responsibility_aggregate_b` is created beside
it (the same query, frozen in `posture_0001`, WITH NO DATA), and `responsive_responsibility_aggregate`
is a plain view over `_a`. A refresh fills the standby with a plain REFRESH (readers of the view are
not touched) and then points the view at it in one short transaction
(`pipelines.posture.aggregate.refresh_aggregate`); `posture_0001`'s query is copied from the database. SQLite: nothing changes (a table rebuilt in one
transaction).

Revision ID: posture_0002
Revises: posture_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "posture_0002"
down_revision = "posture_0001"
branch_labels = None
depends_on = None

VIEW = "responsive_responsibility_aggregate"
KEY = "service_id, responsibility_id, boundary_id, component_id"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER MATERIALIZED VIEW {VIEW} RENAME TO {VIEW}_a")
    op.execute(f"ALTER INDEX ix_{VIEW}_key RENAME TO ix_{VIEW}_a_key")
    # The standby's query is the first one's, as the database holds it (frozen by posture_0001).
    bind = op.get_bind()
    query = bind.exec_driver_sql(f"SELECT pg_get_viewdef('{VIEW}_a'::regclass, true)").scalar_one()
    op.execute(f"CREATE MATERIALIZED VIEW {VIEW}_b AS {query.rstrip().rstrip(';')} WITH NO DATA")
    op.execute(f"CREATE UNIQUE INDEX ix_{VIEW}_b_key ON {VIEW}_b ({KEY})")
    op.execute(f"CREATE VIEW {VIEW} AS SELECT * FROM {VIEW}_a")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP VIEW {VIEW}")
    op.execute(f"DROP MATERIALIZED VIEW {VIEW}_b")
    op.execute(f"ALTER MATERIALIZED VIEW {VIEW}_a RENAME TO {VIEW}")
    op.execute(f"ALTER INDEX ix_{VIEW}_a_key RENAME TO ix_{VIEW}_key")
