"""vex: statement texts and timestamps, documents marked normalized, consensus per vulnerability and product

Revision ID: vex_0002
Revises: vex_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipelines.core.database import IdType, JSONType, TZDateTime

revision = "vex_0002"
down_revision = "vex_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vex_statements") as batch:
        batch.add_column(sa.Column("impact_statement", sa.Text, nullable=True))
        batch.add_column(sa.Column("action_statement", sa.Text, nullable=True))
        batch.add_column(sa.Column("aliases", JSONType, nullable=True))
        batch.add_column(sa.Column("document_at", TZDateTime, nullable=True))
        batch.add_column(sa.Column("retrieved_at", TZDateTime, nullable=True))
        batch.add_column(sa.Column("run_id", sa.String(64), nullable=True))
        batch.create_index("ix_vex_statements_run_id", ["run_id"])
    # Documents that already have statements were normalized by version 1 of the normalizers.
    op.create_table(
        "vex_normalized_documents",
        sa.Column("digest", sa.String(71), primary_key=True),
        sa.Column("normalizer_version", sa.Integer, nullable=False),
        sa.Column("statements", sa.Integer, nullable=False),
        sa.Column("normalized_at", TZDateTime, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Index(None, "run_id"),
    )
    op.execute(
        "INSERT INTO vex_normalized_documents (digest, normalizer_version, statements, normalized_at)"
        " SELECT document_digest, 1, count(*), max(inserted_at) FROM vex_statements GROUP BY document_digest"
    )
    op.create_table(
        "vex_consensus_pending",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("vulnerability_id", sa.String(200), nullable=False),
        sa.Column("product_key", sa.String(2000), nullable=False),
    )
    op.execute(
        "INSERT INTO vex_consensus_pending (vulnerability_id, product_key)"
        " SELECT DISTINCT vulnerability_id, product_key FROM vex_statements"
    )
    op.create_table(
        "vex_consensus",
        sa.Column("vulnerability_id", sa.String(200), primary_key=True),
        sa.Column("product_key", sa.String(2000), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("conflict", sa.Boolean, nullable=False),
        sa.Column("deciding", JSONType, nullable=False),
        sa.Column("statements", sa.Integer, nullable=False),
        sa.Column("computed_at", TZDateTime, nullable=False),
        sa.Index(None, "conflict"),
    )


def downgrade() -> None:
    op.drop_table("vex_consensus")
    op.drop_table("vex_consensus_pending")
    op.drop_table("vex_normalized_documents")
    with op.batch_alter_table("vex_statements") as batch:
        batch.drop_index("ix_vex_statements_run_id")
        for column in ("run_id", "retrieved_at", "document_at", "aliases", "action_statement", "impact_statement"):
            batch.drop_column(column)
