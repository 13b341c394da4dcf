"""The multi-tenant application schema of the passwordless sign-in service, and `backup_jobs`.

Every per-tenant table has a `tenant` column and a natural composite primary key `(tenant, ...)`:
ids are unique per tenant only, so an archive of tenant A restores as tenant B into a database that
already holds A without any key remapping (see `restore.py`).
"""

import sqlalchemy as sa

from pipelines.core.database import JSONType, TZDateTime, metadata

BACKUP_JOB_STATUSES = ("pending", "running", "completed", "failed")


def _tenant(primary_key: bool = True) -> sa.Column:
    return sa.Column("tenant", sa.String(100), sa.ForeignKey("applications.tenant"), primary_key=primary_key)


applications = sa.Table(
    "applications",
    metadata,
    sa.Column("tenant", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", TZDateTime, nullable=False),
    sa.Column("delete_at", TZDateTime, nullable=True),
)

users = sa.Table(
    "users",
    metadata,
    _tenant(),
    sa.Column("user_id", sa.String(200), primary_key=True),
    sa.Column("display_name", sa.Text, nullable=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("created_at", TZDateTime, nullable=False),
)

credentials = sa.Table(
    "credentials",
    metadata,
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

api_keys = sa.Table(
    "api_keys",
    metadata,
    _tenant(),
    sa.Column("id", sa.String(20), primary_key=True),
    sa.Column("api_key", sa.String(200), nullable=False),
    sa.Column("scopes", JSONType, nullable=False),
    sa.Column("is_locked", sa.Boolean, nullable=False),
    sa.Column("created_at", TZDateTime, nullable=False),
    sa.Column("last_locked_at", TZDateTime, nullable=True),
)

aliases = sa.Table(
    "aliases",
    metadata,
    _tenant(),
    sa.Column("alias_hash", sa.String(64), primary_key=True),
    sa.Column("plaintext", sa.Text, nullable=True),
    sa.Column("user_id", sa.String(200), nullable=False),
)

application_events = sa.Table(
    "application_events",
    metadata,
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

app_features = sa.Table(
    "app_features",
    metadata,
    _tenant(),
    sa.Column("event_logging_is_enabled", sa.Boolean, nullable=False),
    sa.Column("event_logging_retention_period", sa.Integer, nullable=False),
    sa.Column("magic_link_email_monthly_quota", sa.Integer, nullable=False),
    sa.Column("max_users", sa.BigInteger, nullable=True),
    sa.Column("allow_attestation", sa.Boolean, nullable=False),
)

def _periodic_report(name: str, *counts: str) -> sa.Table:
    """The seed's periodic reports: one row per tenant and day, a few counters."""
    return sa.Table(
        name,
        metadata,
        _tenant(),
        sa.Column("created_at", sa.Date, primary_key=True),
        *(sa.Column(count, sa.Integer, nullable=False) for count in counts),
    )


periodic_credential_reports = _periodic_report("periodic_credential_reports", "credentials_count", "users_count")
periodic_active_user_reports = _periodic_report(
    "periodic_active_user_reports", "daily_active_users_count", "weekly_active_users_count"
)

ENTITY_TABLES = (
    applications,
    users,
    credentials,
    api_keys,
    aliases,
    application_events,
    app_features,
    periodic_credential_reports,
    periodic_active_user_reports,
)

# The seed's ArchiveJob. Not an entity table although it has a `tenant` column: discovery skips it.
backup_jobs = sa.Table(
    "backup_jobs",
    metadata,
    sa.Column("job_id", sa.Uuid, primary_key=True),
    sa.Column("tenant", sa.String(100), nullable=False, index=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("created_at", TZDateTime, nullable=False),
    sa.Column("updated_at", TZDateTime, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("manifest_key", sa.String(500), nullable=True),
    sa.Column("manifest_sha256", sa.String(64), nullable=True),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'running', 'completed', 'failed')", name="status"),
)
