"""The compliance catalog: services, components, boundaries, responsibilities, and the component
instances (CI), their responsibilities (CIR) and fulfillments (CIRF)."""

import sqlalchemy as sa

from pipelines.core.database import IdType, TZDateTime, metadata

FULFILLMENT_STATUSES = ("PASSING", "FAILING")
# `created_by` of every record the lite dynamic state import writes (and REPLACE_ALL deletes).
LITE_IMPORT_CREATED_BY = "lite-import-script"

services = sa.Table(
    "services",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
)

components = sa.Table(
    "components",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("slug", sa.String(100), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
)

boundaries = sa.Table(
    "boundaries",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("slug", sa.String(100), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
)

responsibilities = sa.Table(
    "responsibilities",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("slug", sa.String(200), nullable=False, unique=True),
    sa.Column("title", sa.String(500), nullable=False),
)

component_instances = sa.Table(
    "component_instances",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("name", sa.String(400), nullable=False, unique=True),
    sa.Column("service_id", IdType, sa.ForeignKey("services.id"), nullable=False, index=True),
    sa.Column("component_id", IdType, sa.ForeignKey("components.id"), nullable=False, index=True),
    sa.Column("boundary_id", IdType, sa.ForeignKey("boundaries.id"), nullable=False, index=True),
    sa.Column("parent_id", IdType, sa.ForeignKey("component_instances.id"), nullable=True, index=True),
    sa.Column("created_by", sa.String(100), nullable=False, index=True),
    sa.Column("created_at", TZDateTime, nullable=False, server_default=sa.func.current_timestamp()),
)

component_instance_responsibilities = sa.Table(
    "component_instance_responsibilities",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column(
        "component_instance_id", IdType, sa.ForeignKey("component_instances.id"), nullable=False, index=True
    ),
    sa.Column("responsibility_id", IdType, sa.ForeignKey("responsibilities.id"), nullable=False, index=True),
    sa.Column("created_by", sa.String(100), nullable=False, index=True),
    sa.Column("created_at", TZDateTime, nullable=False, server_default=sa.func.current_timestamp()),
)

component_instance_responsibility_fulfillments = sa.Table(
    "component_instance_responsibility_fulfillments",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column(
        "component_instance_responsibility_id",
        IdType,
        sa.ForeignKey("component_instance_responsibilities.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False, index=True),
    sa.Column("created_at", TZDateTime, nullable=False, server_default=sa.func.current_timestamp()),
    sa.CheckConstraint("status IN ('PASSING', 'FAILING')", name="status"),
)
