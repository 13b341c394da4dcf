"""vex: raw VEX documents and the statements normalized from them

Constraint and index names come from the naming convention of `pipelines.core.database.metadata`.

Revision ID: vex_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipelines.core.database import IdType, JSONType, TZDateTime

revision = "vex_0001"
down_revision = None
branch_labels = ("vex",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vex_raw_documents",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("digest", sa.String(71), nullable=False, unique=True),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("format", sa.String(20), nullable=True),
        sa.Column("source_uri", sa.String(2000), nullable=False),
        sa.Column("retrieved_at", TZDateTime, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("signature", JSONType, nullable=True),
        sa.CheckConstraint("format IN ('csaf', 'cyclonedx', 'openvex')", name="format"),
        sa.Index(None, "retrieved_at", "digest"),
    )
    op.create_table(
        "vex_statements",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("document_digest", sa.String(71), nullable=False),
        sa.Column("vulnerability_id", sa.String(200), nullable=False),
        sa.Column("product_key", sa.String(2000), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("justification", sa.String(60), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("subcomponents", JSONType, nullable=True),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("statement_at", TZDateTime, nullable=True),
        sa.Column("inserted_at", TZDateTime, nullable=False, server_default=sa.func.current_timestamp()),
        sa.Column("signature", JSONType, nullable=True),
        sa.UniqueConstraint("document_digest", "vulnerability_id", "product_key"),
        sa.CheckConstraint(
            "status IN ('not_affected', 'affected', 'fixed', 'under_investigation')", name="status"
        ),
        sa.Index(None, "vulnerability_id", "product_key"),
    )


def downgrade() -> None:
    op.drop_table("vex_statements")
    op.drop_table("vex_raw_documents")
