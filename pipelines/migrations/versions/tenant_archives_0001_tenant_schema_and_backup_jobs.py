"""tenant_archives: the multi-tenant application schema and backup_jobs

Per-tenant tables have natural composite keys `(tenant, ...)` so a tenant restores under a new name
without key remapping. Constraint and index names come from the naming convention of
`pipelines.core.database.metadata`.

Revision ID: tenant_archives_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipelines.core.database import JSONType, TZDateTime

revision = "tenant_archives_0001"
down_revision = None
branch_labels = ("tenant_archives",)
depends_on = None


def _tenant() -> sa.Column:
    return sa.Column("tenant", sa.String(100), sa.ForeignKey("applications.tenant"), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("tenant", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", TZDateTime, nullable=False),
        sa.Column("delete_at", TZDateTime, nullable=True),
    )
    op.create_table(
        "users",
        _tenant(),
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("display_name", sa.Text, nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("created_at", TZDateTime, nullable=False),
    )
    op.create_table(
        "credentials",
        _tenant(),
        sa.Column("descriptor_id", sa.LargeBinary, primary_key=True),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("user_handle", sa.LargeBinary, nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("signature_counter", sa.BigInteger, nullable=False),
        sa.Column("attestation_fmt", sa.String(50), nullable=False),
        sa.Column("aa_guid", sa.Uuid, nullable=False),
        sa.Column("rp_id", sa.String(200), nullable=False),
        sa.Column("origin", sa.String(500), nullable=False),
        sa.Column("device", sa.Text, nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("nickname", sa.Text, nullable=True),
        sa.Column("backup_state", sa.Boolean, nullable=True),
        sa.Column("created_at", TZDateTime, nullable=False),
        sa.Column("last_used_at", TZDateTime, nullable=False),
    )
    op.create_table(
        "api_keys",
        _tenant(),
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("api_key", sa.String(200), nullable=False),
        sa.Column("scopes", JSONType, nullable=False),
        sa.Column("is_locked", sa.Boolean, nullable=False),
        sa.Column("created_at", TZDateTime, nullable=False),
        sa.Column("last_locked_at", TZDateTime, nullable=True),
    )
    op.create_table(
        "aliases",
        _tenant(),
        sa.Column("alias_hash", sa.String(64), primary_key=True),
        sa.Column("plaintext", sa.Text, nullable=True),
        sa.Column("user_id", sa.String(200), nullable=False),
    )
    op.create_table(
        "application_events",
        _tenant(),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("performed_at", TZDateTime, nullable=False),
        sa.Column("performed_by", sa.String(200), nullable=False),
        sa.Column("event_type", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("severity", sa.SmallInteger, nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("api_key_id", sa.String(20), nullable=True),
        sa.Column("details", JSONType, nullable=True),
    )
    op.create_table(
        "app_features",
        _tenant(),
        sa.Column("event_logging_is_enabled", sa.Boolean, nullable=False),
        sa.Column("event_logging_retention_period", sa.Integer, nullable=False),
        sa.Column("magic_link_email_monthly_quota", sa.Integer, nullable=False),
        sa.Column("max_users", sa.BigInteger, nullable=True),
        sa.Column("allow_attestation", sa.Boolean, nullable=False),
    )
    for name, counts in (
        ("periodic_credential_reports", ("credentials_count", "users_count")),
        ("periodic_active_user_reports", ("daily_active_users_count", "weekly_active_users_count")),
    ):
        op.create_table(
            name,
            _tenant(),
            sa.Column("created_at", sa.Date, primary_key=True),
            *(sa.Column(count, sa.Integer, nullable=False) for count in counts),
        )
    op.create_table(
        "backup_jobs",
        sa.Column("job_id", sa.Uuid, primary_key=True),
        sa.Column("tenant", sa.String(100), nullable=False, index=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", TZDateTime, nullable=False),
        sa.Column("updated_at", TZDateTime, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("manifest_key", sa.String(500), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'running', 'completed', 'failed')", name="status"),
    )


def downgrade() -> None:
    for table in (
        "backup_jobs",
        "periodic_active_user_reports",
        "periodic_credential_reports",
        "app_features",
        "application_events",
        "aliases",
        "api_keys",
        "credentials",
        "users",
        "applications",
    ):
        op.drop_table(table)
