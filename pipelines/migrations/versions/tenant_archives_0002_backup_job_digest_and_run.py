"""tenant_archives: backup_jobs records the manifest's sha256 and the run that carries the job

`manifest_sha256` is written when the archive completes and checked by a restore in the same
environment; `run_id` lets the backup-jobs sensor tell a running job whose run is gone.

Revision ID: tenant_archives_0002
Revises: tenant_archives_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tenant_archives_0002"
down_revision = "tenant_archives_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backup_jobs") as batch:
        batch.add_column(sa.Column("manifest_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("run_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backup_jobs") as batch:
        batch.drop_column("run_id")
        batch.drop_column("manifest_sha256")
