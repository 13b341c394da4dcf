"""An archive made on one backend restores into the other with every value identical (issue 13, 1 and 3).

The tenant's rows are written out below, with the values that differ between the backends' storage
(uuid, bytes with NUL and empty, timestamps in several zones with microseconds, nested JSON, NULL
beside ""), and the restored rows are compared with the expected rows, also written out.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zipfile

import pytest
import sqlalchemy as sa

from pipelines.cli import main
from pipelines.core.database import Database
from pipelines.tenant_archives import jobs, tables
from pipelines.tenant_archives.archive import archive_tenant
from pipelines.tenant_archives.restore import restore_archive

UTC = dt.UTC
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
PST = dt.timezone(dt.timedelta(hours=-8))
EVENT_1 = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
EVENT_2 = uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7")
AAGUID = uuid.UUID("adce0002-35bc-c60a-648b-0b25f1f05503")

ROWS = {
    tables.applications: [
        {"tenant": "acme", "name": "Acme, \"Inc.\"", "description": "", "created_at": dt.datetime(2024, 3, 1, 12, 0, 0, 123456, IST), "delete_at": None},
    ],
    tables.users: [
        {"tenant": "acme", "user_id": "u1", "display_name": "Zoë\r\nline 2", "email": "", "created_at": dt.datetime(2024, 3, 2, 23, 59, 59, 999999, PST)},
        {"tenant": "acme", "user_id": "u2", "display_name": None, "email": None, "created_at": dt.datetime(2024, 3, 3, 0, 0, tzinfo=UTC)},
    ],
    tables.credentials: [
        {
            "tenant": "acme", "descriptor_id": b"\x00\x01\xff\r\n", "public_key": b"", "user_handle": b"\x00",
            "user_id": "u1", "signature_counter": 2**40, "attestation_fmt": "none", "aa_guid": AAGUID,
            "rp_id": "acme.example", "origin": "https://acme.example", "device": None, "country": "",
            "nickname": "a,b", "backup_state": None,
            "created_at": dt.datetime(2024, 3, 4, 1, 2, 3, 4, UTC), "last_used_at": dt.datetime(2024, 3, 5, 6, 7, 8, tzinfo=IST),
        },
    ],
    tables.api_keys: [
        {"tenant": "acme", "id": "k1", "api_key": "acme:secret:1", "scopes": ["token_register", "token_verify"], "is_locked": True,
         "created_at": dt.datetime(2024, 3, 1, tzinfo=UTC), "last_locked_at": None},
    ],
    tables.aliases: [],  # a zero-row entity: its file has only the header, and it is still required
    tables.application_events: [
        {"tenant": "acme", "id": EVENT_1, "performed_at": dt.datetime(2024, 3, 6, 10, 0, 0, 1, PST), "performed_by": "u1",
         "event_type": 7, "message": 'said "hi", then\nleft', "severity": 2, "subject": "", "api_key_id": "k1",
         "details": {"nested": {"list": [1, 2.5, None, "x"], "empty": ""}, "unicode": "東京 🚀"}},
        {"tenant": "acme", "id": EVENT_2, "performed_at": dt.datetime(2024, 3, 6, 10, 0, tzinfo=UTC), "performed_by": "system",
         "event_type": 1, "message": "", "severity": 0, "subject": "s", "api_key_id": None, "details": None},
    ],
    tables.app_features: [
        {"tenant": "acme", "event_logging_is_enabled": False, "event_logging_retention_period": 365,
         "magic_link_email_monthly_quota": 0, "max_users": None, "allow_attestation": True},
    ],
    tables.periodic_credential_reports: [
        {"tenant": "acme", "created_at": dt.date(2024, 2, 29), "credentials_count": 1, "users_count": 2},
    ],
    tables.periodic_active_user_reports: [],
}

# What the restore as "acme-2" must hold: the same values, timestamps in UTC.
EXPECTED = {
    "applications": [
        {"tenant": "acme-2", "name": "Acme, \"Inc.\"", "description": "", "created_at": dt.datetime(2024, 3, 1, 6, 30, 0, 123456, UTC), "delete_at": None},
    ],
    "users": [
        {"tenant": "acme-2", "user_id": "u1", "display_name": "Zoë\r\nline 2", "email": "", "created_at": dt.datetime(2024, 3, 3, 7, 59, 59, 999999, UTC)},
        {"tenant": "acme-2", "user_id": "u2", "display_name": None, "email": None, "created_at": dt.datetime(2024, 3, 3, 0, 0, tzinfo=UTC)},
    ],
    "credentials": [
        {
            "tenant": "acme-2", "descriptor_id": b"\x00\x01\xff\r\n", "public_key": b"", "user_handle": b"\x00",
            "user_id": "u1", "signature_counter": 1099511627776, "attestation_fmt": "none",
            "aa_guid": uuid.UUID("adce0002-35bc-c60a-648b-0b25f1f05503"),
            "rp_id": "acme.example", "origin": "https://acme.example", "device": None, "country": "",
            "nickname": "a,b", "backup_state": None,
            "created_at": dt.datetime(2024, 3, 4, 1, 2, 3, 4, UTC), "last_used_at": dt.datetime(2024, 3, 5, 0, 37, 8, tzinfo=UTC),
        },
    ],
    "api_keys": [
        {"tenant": "acme-2", "id": "k1", "api_key": "acme:secret:1", "scopes": ["token_register", "token_verify"], "is_locked": True,
         "created_at": dt.datetime(2024, 3, 1, tzinfo=UTC), "last_locked_at": None},
    ],
    "aliases": [],
    "application_events": [
        {"tenant": "acme-2", "id": uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"), "performed_at": dt.datetime(2024, 3, 6, 18, 0, 0, 1, UTC),
         "performed_by": "u1", "event_type": 7, "message": 'said "hi", then\nleft', "severity": 2, "subject": "", "api_key_id": "k1",
         "details": {"nested": {"list": [1, 2.5, None, "x"], "empty": ""}, "unicode": "東京 🚀"}},
        {"tenant": "acme-2", "id": uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7"), "performed_at": dt.datetime(2024, 3, 6, 10, 0, tzinfo=UTC),
         "performed_by": "system", "event_type": 1, "message": "", "severity": 0, "subject": "s", "api_key_id": None, "details": None},
    ],
    "app_features": [
        {"tenant": "acme-2", "event_logging_is_enabled": False, "event_logging_retention_period": 365,
         "magic_link_email_monthly_quota": 0, "max_users": None, "allow_attestation": True},
    ],
    "periodic_credential_reports": [
        {"tenant": "acme-2", "created_at": dt.date(2024, 2, 29), "credentials_count": 1, "users_count": 2},
    ],
    "periodic_active_user_reports": [],
}


def insert_rows(database: Database) -> None:
    with database.begin() as conn:
        for table, rows in ROWS.items():
            if rows:
                conn.execute(table.insert(), rows)


def restored_rows(database: Database, tenant: str) -> dict[str, list[dict]]:
    found = {}
    with database.begin() as conn:
        for table in tables.ENTITY_TABLES:
            select = sa.select(table).where(table.c.tenant == tenant).order_by(*table.primary_key.columns)
            found[table.name] = [dict(row) for row in conn.execute(select).mappings()]
    return found


def assert_rows_equal(found: dict[str, list[dict]]) -> None:
    assert set(found) == set(EXPECTED)
    for name, rows in EXPECTED.items():
        assert len(found[name]) == len(rows), name
        for got, want in zip(found[name], rows):
            for column, value in want.items():
                assert got[column] == value and type(got[column]) is type(value), (name, column, got[column], value)
                if isinstance(value, dt.datetime):
                    assert got[column].utcoffset() == dt.timedelta(0), (name, column)


@pytest.fixture
def sqlite_db(sqlite_url) -> Database:
    db = Database(sqlite_url)
    db.upgrade()
    return db


@pytest.fixture
def pg_db(pg_database) -> Database:
    return pg_database


@pytest.mark.parametrize("direction", ["sqlite->postgresql", "postgresql->sqlite"])
def test_an_archive_restores_into_the_other_backend_with_every_value_identical(direction, sqlite_db, pg_db, local_store):
    source, target = (sqlite_db, pg_db) if direction.startswith("sqlite") else (pg_db, sqlite_db)
    insert_rows(source)
    key, manifest = archive_tenant(source, local_store, "acme", "job-1")
    assert manifest.rows_per_entity() == {
        "applications": 1, "users": 2, "credentials": 1, "api_keys": 1, "aliases": 0, "application_events": 2,
        "app_features": 1, "periodic_credential_reports": 1, "periodic_active_user_reports": 0,
    }
    result = restore_archive(target, local_store, key, "acme-2")
    assert result.total_rows == 9
    assert_rows_equal(restored_rows(target, "acme-2"))


def test_a_real_kind_difference_between_the_backends_is_still_refused_naming_table_and_column(sqlite_db, pg_db, local_store):
    with sqlite_db.begin() as conn:
        conn.execute(sa.text("CREATE TABLE webhooks (tenant VARCHAR(100) NOT NULL, url TEXT NOT NULL, PRIMARY KEY (tenant, url))"))
    with pg_db.begin() as conn:
        conn.execute(sa.text("CREATE TABLE webhooks (tenant VARCHAR(100) NOT NULL, url INTEGER NOT NULL, PRIMARY KEY (tenant, url))"))
    insert_rows(sqlite_db)
    key, _ = archive_tenant(sqlite_db, local_store, "acme", "job-1")
    with pytest.raises(Exception, match=(
        r"^the schema of the target database differs from archive 'archives/acme/job-1/manifest.json': "
        r"table 'webhooks': column 'url' is text NOT NULL PRIMARY KEY in the archive but integer NOT NULL PRIMARY KEY "
        r"in the target database$"
    )):
        restore_archive(pg_db, local_store, key, "acme-2")
    assert restored_rows(pg_db, "acme-2")["users"] == []


def _use(monkeypatch, database: Database, objects) -> None:
    monkeypatch.setenv("PIPELINES_DATABASE_URL", database.url.render_as_string(hide_password=False))
    monkeypatch.setenv("PIPELINES_HOME", str(objects))


@pytest.mark.parametrize("form", ["folder", "zip"])
def test_download_then_restore_from_files_into_the_other_backend_through_the_cli(form, sqlite_db, pg_db, tmp_path, monkeypatch, capsys):
    # Environment 1: SQLite and its own object store.
    _use(monkeypatch, sqlite_db, tmp_path / "env1")
    insert_rows(sqlite_db)
    assert main(["archives", "schedule", "acme", "--now"]) == 0
    job_id = json.loads(capsys.readouterr().out)["jobId"]
    to = tmp_path / ("acme.zip" if form == "zip" else "acme-archive")
    assert main(["archives", "download", job_id, "--to", str(to)]) == 0
    assert capsys.readouterr().out.strip() == f"downloaded the archive of backup job {job_id} to {to}"
    names = set(zipfile.ZipFile(to).namelist()) if form == "zip" else {p.name for p in to.iterdir()}
    assert names == {
        "manifest.json", "applications.csv", "users.csv", "credentials.csv", "api_keys.csv", "aliases.csv",
        "application_events.csv", "app_features.csv", "periodic_credential_reports.csv", "periodic_active_user_reports.csv",
    }
    # Environment 2: PostgreSQL with another object store; the files are all it gets.
    _use(monkeypatch, pg_db, tmp_path / "env2")
    assert main(["archives", "restore", "--from", str(to), "--tenant", "acme-2"]) == 0
    assert capsys.readouterr().out.strip() == f"restored {to} as tenant acme-2: 9 rows"
    assert_rows_equal(restored_rows(pg_db, "acme-2"))
    uploaded = list((tmp_path / "env2" / "objects" / "uploads" / "acme-2").iterdir())
    assert len(uploaded) == 1 and (uploaded[0] / "manifest.json").exists()


def test_download_refuses_a_job_without_an_archive_and_an_existing_path(sqlite_db, tmp_path, monkeypatch, capsys):
    _use(monkeypatch, sqlite_db, tmp_path / "env1")
    insert_rows(sqlite_db)
    job = jobs.schedule_backup(sqlite_db, "acme")
    assert main(["archives", "download", str(job.job_id), "--to", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == f"error: backup job {job.job_id} is pending and has no archive to download"
    (tmp_path / "taken.zip").write_bytes(b"x")
    jobs.start_job(sqlite_db, job.job_id)
    jobs.complete_job(sqlite_db, job.job_id, f"archives/acme/{job.job_id}/manifest.json")
    assert main(["archives", "download", str(job.job_id), "--to", str(tmp_path / "taken.zip")]) == 2
    assert "already exists and is not an empty folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
