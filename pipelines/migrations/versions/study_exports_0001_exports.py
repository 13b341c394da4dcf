"""study_exports: studies, records, study_export_times (the per-study watermark) and the export log

Constraint and index names come from the naming convention of `pipelines.core.database.metadata`.

Revision ID: study_exports_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipelines.core.database import IdType, JSONType, TZDateTime

revision = "study_exports_0001"
down_revision = None
branch_labels = ("study_exports",)
depends_on = None


def _study_fk() -> sa.ForeignKey:
    return sa.ForeignKey("studies.study_id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("study_id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "records",
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("study_id", sa.String(100), _study_fk(), nullable=False),
        sa.Column("uploaded_on", TZDateTime, nullable=False),
        sa.Column("schema_key", sa.String(100), nullable=False),
        sa.Column("data", JSONType),
    )
    op.create_index(op.f("ix_records_study_id_uploaded_on"), "records", ["study_id", "uploaded_on"])
    op.create_table(
        "study_export_times",
        sa.Column("study_id", sa.String(100), _study_fk(), primary_key=True),
        sa.Column("last_export_date_time", TZDateTime, nullable=True),
    )
    op.create_table(
        "study_export_log",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("export_id", sa.String(36), nullable=False, unique=True),
        sa.Column("export_type", sa.String(10), nullable=False),
        sa.Column("tag", sa.String(500), nullable=True),
        sa.Column("request", JSONType, nullable=False),
        sa.Column("started_at", TZDateTime, nullable=False),
        sa.Column("finished_at", TZDateTime, nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("counts", JSONType, nullable=False),
        sa.Column("keys", JSONType, nullable=False),
        sa.Column("redrive_key", sa.String(500), nullable=True),
        sa.Column("redrive_count", sa.Integer, nullable=False),
        sa.Column("dead_count", sa.Integer, nullable=False),
        sa.CheckConstraint("export_type IN ('DAILY', 'HOURLY', 'INSTANT')", name="export_type"),
    )


def downgrade() -> None:
    for table in ("study_export_log", "study_export_times", "records", "studies"):
        op.drop_table(table)
