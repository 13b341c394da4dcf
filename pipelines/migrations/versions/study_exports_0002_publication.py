"""study_exports: exports under way (so that the next run removes a killed export's files), the
manifest of each published export, and study ids of up to 200 characters

Revision ID: study_exports_0002
Revises: study_exports_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipelines.core.database import JSONType, TZDateTime

revision = "study_exports_0002"
down_revision = "study_exports_0001"
branch_labels = None
depends_on = None

_STUDY_ID_COLUMNS = (("studies", "study_id"), ("records", "study_id"), ("study_export_times", "study_id"))


def upgrade() -> None:
    op.create_table(
        "study_exports_under_way",
        sa.Column("export_id", sa.String(36), primary_key=True),
        sa.Column("prefix", sa.String(200), nullable=False),
        sa.Column("started_at", TZDateTime, nullable=False),
    )
    op.add_column("study_export_log", sa.Column("manifest_key", sa.String(200), nullable=True))
    op.add_column("study_export_log", sa.Column("windows", JSONType, nullable=True))
    # SQLite does not enforce VARCHAR lengths; PostgreSQL widens in place (no rewrite for varchar).
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _STUDY_ID_COLUMNS:
            op.alter_column(table, column, type_=sa.String(200), existing_type=sa.String(100))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _STUDY_ID_COLUMNS:
            op.alter_column(table, column, type_=sa.String(100), existing_type=sa.String(200))
    with op.batch_alter_table("study_export_log") as batch:
        batch.drop_column("windows")
        batch.drop_column("manifest_key")
    op.drop_table("study_exports_under_way")
