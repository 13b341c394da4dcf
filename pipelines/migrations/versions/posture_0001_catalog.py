"""posture: the compliance catalog (services, components, boundaries, responsibilities, CI, CIR, CIRF)
and the `responsive_responsibility_aggregate` view over it.

Constraint and index names come from the naming convention of `pipelines.core.database.metadata`.

The view: on PostgreSQL a MATERIALIZED VIEW created WITH NO DATA (the first refresh fills it) with the
unique index that `REFRESH ... CONCURRENTLY` needs. On SQLite it is a plain table that
`pipelines.posture.aggregate.refresh_aggregate` rebuilds in one transaction (created by the first
refresh, so it stays out of `metadata` and out of the schema comparison). Its query is written out here,
frozen with this revision; `aggregate.aggregate_select()` is the same query for SQLite and the tests
compare the two on PostgreSQL.

Revision ID: posture_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipelines.core.database import IdType, TZDateTime

revision = "posture_0001"
down_revision = None
branch_labels = ("posture",)
depends_on = None


# Per (service, responsibility, boundary, component): CIRs, passing CIRs, failing CIRs, and the
# status. A CIR is FAILING when any of its fulfillments fails, PASSING when it has fulfillments and
# none fails; a CIR without fulfillments counts only in cir_count, and a group none of whose CIRs is
# fulfilled has no posture and no row. Records of the lite import are never counted.
AGGREGATE_VIEW_SQL = """
CREATE MATERIALIZED VIEW responsive_responsibility_aggregate AS
WITH fulfilled AS (
    SELECT component_instance_responsibility_id AS cir_id,
           MAX(CASE WHEN status = 'FAILING' THEN 1 ELSE 0 END) AS failing
    FROM component_instance_responsibility_fulfillments
    WHERE created_by <> 'lite-import-script'
    GROUP BY component_instance_responsibility_id
)
SELECT ci.service_id,
       cir.responsibility_id,
       ci.boundary_id,
       ci.component_id,
       CAST(COUNT(*) AS BIGINT) AS cir_count,
       CAST(COUNT(f.cir_id) - SUM(COALESCE(f.failing, 0)) AS BIGINT) AS passing_count,
       CAST(SUM(COALESCE(f.failing, 0)) AS BIGINT) AS failing_count,
       CAST(CASE WHEN MAX(f.failing) = 1 THEN 'FAILING' ELSE 'PASSING' END AS VARCHAR(10)) AS status
FROM component_instance_responsibilities AS cir
JOIN component_instances AS ci ON ci.id = cir.component_instance_id
LEFT JOIN fulfilled AS f ON f.cir_id = cir.id
WHERE cir.created_by <> 'lite-import-script' AND ci.created_by <> 'lite-import-script'
GROUP BY ci.service_id, cir.responsibility_id, ci.boundary_id, ci.component_id
HAVING COUNT(f.cir_id) > 0
WITH NO DATA
"""
AGGREGATE_INDEX_SQL = """
CREATE UNIQUE INDEX ix_responsive_responsibility_aggregate_key
ON responsive_responsibility_aggregate (service_id, responsibility_id, boundary_id, component_id)
"""


def _fk(column: str, target: str) -> sa.Column:
    return sa.Column(column, IdType, sa.ForeignKey(target), nullable=column == "parent_id", index=True)


def _audit() -> list[sa.Column]:
    return [
        sa.Column("created_by", sa.String(100), nullable=False, index=True),
        sa.Column("created_at", TZDateTime, nullable=False, server_default=sa.func.current_timestamp()),
    ]


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
    )
    for name, label, slug_length, label_length in (
        ("components", "name", 100, 200),
        ("boundaries", "name", 100, 200),
        ("responsibilities", "title", 200, 500),
    ):
        op.create_table(
            name,
            sa.Column("id", IdType, primary_key=True),
            sa.Column("slug", sa.String(slug_length), nullable=False, unique=True),
            sa.Column(label, sa.String(label_length), nullable=False),
        )
    # Every foreign-key column is indexed: a bulk DELETE of CIs otherwise scans the referencing
    # tables once per deleted row.
    op.create_table(
        "component_instances",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("name", sa.String(400), nullable=False, unique=True),
        _fk("service_id", "services.id"),
        _fk("component_id", "components.id"),
        _fk("boundary_id", "boundaries.id"),
        _fk("parent_id", "component_instances.id"),
        *_audit(),
    )
    op.create_table(
        "component_instance_responsibilities",
        sa.Column("id", IdType, primary_key=True),
        _fk("component_instance_id", "component_instances.id"),
        _fk("responsibility_id", "responsibilities.id"),
        *_audit(),
    )
    op.create_table(
        "component_instance_responsibility_fulfillments",
        sa.Column("id", IdType, primary_key=True),
        _fk("component_instance_responsibility_id", "component_instance_responsibilities.id"),
        sa.Column("status", sa.String(10), nullable=False),
        *_audit(),
        sa.CheckConstraint("status IN ('PASSING', 'FAILING')", name="status"),
    )


    if op.get_bind().dialect.name == "postgresql":
        op.execute(AGGREGATE_VIEW_SQL)
        op.execute(AGGREGATE_INDEX_SQL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP MATERIALIZED VIEW IF EXISTS responsive_responsibility_aggregate")
    else:
        op.execute("DROP TABLE IF EXISTS responsive_responsibility_aggregate")
    for table in (
        "component_instance_responsibility_fulfillments",
        "component_instance_responsibilities",
        "component_instances",
        "responsibilities",
        "boundaries",
        "components",
        "services",
    ):
        op.drop_table(table)
