"""posture: the compliance catalog (services, components, boundaries, responsibilities, CI, CIR, CIRF)

Constraint and index names come from the naming convention of `pipelines.core.database.metadata`.

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


def downgrade() -> None:
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
