import pytest
import sqlalchemy as sa

from pipelines.tenant_archives.archive import archive_tenant
from pipelines.tenant_archives.requests import ArchiveRequest
from pipelines.tenant_archives.entities import discover_entities, fingerprint, schema_differences, schema_of
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.generate import TenantSize, generate_tenants

ENTITIES = [
    "applications", "aliases", "api_keys", "app_features", "application_events", "credentials",
    "periodic_active_user_reports", "periodic_credential_reports", "users",
]


def test_discovery_finds_the_tables_with_the_tenant_column_but_not_backup_jobs(database):
    with database.begin() as conn:
        names = [e.name for e in discover_entities(conn)]
    assert sorted(names) == sorted(ENTITIES)
    assert names[0] == "applications"  # parents first: every other table references it
    assert "backup_jobs" not in names and "services" not in names


def test_a_new_table_with_the_tenant_column_is_archived_without_code(database, store):
    with database.begin() as conn:
        conn.execute(sa.text("CREATE TABLE webhooks (tenant VARCHAR(100) NOT NULL, url TEXT NOT NULL, PRIMARY KEY (tenant, url))"))
        conn.execute(sa.text("CREATE TABLE audit_notes (owner VARCHAR(100), note TEXT)"))
        conn.execute(sa.text("INSERT INTO webhooks VALUES ('acme', 'https://a.example/x,y'), ('other', 'https://b')"))
    generate_tenants(database, ["acme"], TenantSize(users=1, events=1))
    _, manifest = archive_tenant(database, store, "acme", "job-1")
    assert "audit_notes" not in manifest.schema
    assert manifest.schema["webhooks"] == [["tenant", "text", False], ["url", "text", False]]
    assert store.get_bytes("archives/acme/job-1/webhooks.csv") == b'tenant,url\r\nacme,"https://a.example/x,y"\r\n'


def test_the_tenant_column_name_and_the_table_list_are_configurable(database, store):
    with database.begin() as conn:
        conn.execute(sa.text("CREATE TABLE notes (org VARCHAR(50) NOT NULL, body TEXT)"))
        conn.execute(sa.text("INSERT INTO notes VALUES ('acme', ''), ('acme', NULL), ('beta', 'x')"))
    options = ArchiveRequest(tenant_column="org")
    _, manifest = archive_tenant(database, store, "acme", "job-1", options)
    assert [f.name for f in manifest.files] == ["notes.csv"]
    assert store.get_bytes("archives/acme/job-1/notes.csv") == b'org,body\r\nacme,""\r\nacme,\r\n'
    with database.begin() as conn:
        assert [e.name for e in discover_entities(conn, tables=["users", "applications"])] == ["applications", "users"]
        with pytest.raises(TenantArchiveError, match=r"^tables: nope not found in the database$"):
            discover_entities(conn, tables=["users", "nope"])


def test_schema_differences_name_table_column_and_kind():
    archived = {"users": [["email", "text", True], ["id", "integer", False]], "old": [["tenant", "text", False]]}
    target = {"users": [["email", "bytes", True], ["extra", "text", True]], "new": [["tenant", "text", False]]}
    assert schema_differences(archived, target) == [
        "table 'new' is in the target database but not in the archive",
        "table 'old' is in the archive but not in the target database",
        "table 'users': column 'email' is text NULL in the archive but bytes NULL in the target database",
        "table 'users': column 'extra' is in the target database but not in the archive",
        "table 'users': column 'id' is in the archive but not in the target database",
    ]
    assert fingerprint(archived) != fingerprint(target)


def test_both_backends_reduce_the_schema_to_the_same_kinds_except_uuid(database):
    with database.begin() as conn:
        schema = schema_of(discover_entities(conn))
    expected_uuid = "uuid" if database.is_postgres else "text"  # SQLite stores UUIDs as CHAR(32)
    assert schema["application_events"] == [
        ["api_key_id", "text", True], ["details", "json", True], ["event_type", "integer", False],
        ["id", expected_uuid, False], ["message", "text", False], ["performed_at", "timestamp", False],
        ["performed_by", "text", False], ["severity", "integer", False], ["subject", "text", False],
        ["tenant", "text", False],
    ]
