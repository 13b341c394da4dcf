import datetime as dt

import pytest

from pipelines.core.object_store import LocalObjectStore
from pipelines.tenant_archives import tables
from pipelines.tenant_archives.archive import archive_tenant
from pipelines.tenant_archives.requests import ArchiveRequest
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines.tenant_archives.restore import restore_archive
from pipelines_tests.tenant_archives.conftest import csv_records, tenant_rows

UTC = dt.timezone.utc
HEADER_USERS = b"tenant,user_id,display_name,email,created_at\r\n"


def _hand_made_tenant(database):
    with database.begin() as conn:
        database.bulk_insert(conn, tables.applications, [
            {"tenant": "acme", "name": "Acme", "description": None,
             "created_at": dt.datetime(2024, 1, 1, tzinfo=UTC), "delete_at": None},
        ])
        database.bulk_insert(conn, tables.users, [
            {"tenant": "acme", "user_id": "u1", "display_name": 'Zoë, "the" boss\r\nline two', "email": None,
             "created_at": dt.datetime(2024, 3, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))},
            {"tenant": "acme", "user_id": "u2", "display_name": "", "email": "a@b.c",
             "created_at": dt.datetime(2024, 3, 1, 23, 59, 59, 500000, tzinfo=dt.timezone(dt.timedelta(hours=-8)))},
        ])
        database.bulk_insert(conn, tables.app_features, [
            {"tenant": "acme", "event_logging_is_enabled": True, "event_logging_retention_period": 365,
             "magic_link_email_monthly_quota": 1000, "max_users": None, "allow_attestation": False},
        ])


def test_csv_is_rfc4180_with_null_empty_string_crlf_and_utc_offsets_on_both_backends(database, store):
    _hand_made_tenant(database)
    key, manifest = archive_tenant(database, store, "acme", "job-1")
    assert key == "archives/acme/job-1/manifest.json"
    assert store.get_bytes("archives/acme/job-1/users.csv") == (
        HEADER_USERS
        + 'acme,u1,"Zoë, ""the"" boss\r\nline two",,2024-03-01T07:00:00.000000+00:00\r\n'.encode()
        + b'acme,u2,"",a@b.c,2024-03-02T07:59:59.500000+00:00\r\n'
    )
    assert store.get_bytes("archives/acme/job-1/app_features.csv") == (
        b"tenant,event_logging_is_enabled,event_logging_retention_period,magic_link_email_monthly_quota,"
        b"max_users,allow_attestation\r\nacme,true,365,1000,,false\r\n"
    )
    assert store.get_bytes("archives/acme/job-1/aliases.csv") == b"tenant,alias_hash,plaintext,user_id\r\n"
    users = next(f for f in manifest.files if f.entity == "users")
    assert (users.name, users.part, users.rows, users.bytes) == ("users.csv", 1, 2, 46 + 74 + 51)
    assert users.columns == ["tenant", "user_id", "display_name", "email", "created_at"]


def test_bytes_are_base64_in_the_archive(database, store):
    generate_tenants(database, ["acme"], TenantSize(users=2, events=0))
    archive_tenant(database, store, "acme", "job-1")
    records = csv_records(store, "archives/acme/job-1/credentials.csv")
    header = records[0]
    by_user = {r[header.index("user_id")]: r for r in records[1:]}
    # user 0 has an empty user handle: an empty byte string, not NULL.
    assert by_user["user-000000"][header.index("user_handle")] == ""
    assert by_user["user-000001"][header.index("user_handle")] == "dXNlci0wMDAwMDE="  # b"user-000001"
    assert by_user["user-000000"][header.index("public_key")].startswith("AP8KDSwi")  # 00 ff 0a 0d 2c 22


def test_round_trip_restores_every_row_of_every_entity_into_a_fresh_database(database, target_database, store):
    generate_tenants(database, ["acme", "other"], TenantSize(users=25, events=300))
    key, _ = archive_tenant(database, store, "acme", "job-1")
    result = restore_archive(target_database, store, key, "acme-copy")
    assert result.rows_per_entity == {
        "applications": 1, "aliases": 25, "api_keys": 3, "app_features": 1, "application_events": 300,
        "credentials": 25, "periodic_active_user_reports": 14, "periodic_credential_reports": 14, "users": 25,
    }
    assert tenant_rows(target_database, "acme-copy") == tenant_rows(database, "acme")
    assert tenant_rows(target_database, "other") == {t.name: [] for t in tables.ENTITY_TABLES}


def test_restore_beside_the_original_tenant_keeps_ids_under_the_composite_keys(database, store):
    generate_tenants(database, ["acme"], TenantSize(users=10, events=50))
    key, _ = archive_tenant(database, store, "acme", "job-1")
    restore_archive(database, store, key, "acme-twin")
    assert tenant_rows(database, "acme-twin") == tenant_rows(database, "acme")


def test_an_archive_holds_no_row_of_another_tenant_among_twenty(database, store):
    names = [f"tenant-{i:02d}" for i in range(20)]
    generate_tenants(database, names, TenantSize(users=5, events=40))
    _, manifest = archive_tenant(database, store, "tenant-07", "job-7")
    rows = {}
    for listed in manifest.files:
        header, *records = csv_records(store, f"archives/tenant-07/job-7/{listed.name}")
        tenants = {record[header.index("tenant")] for record in records}
        assert tenants == {"tenant-07"}, listed.name
        rows[listed.entity] = len(records)
    assert rows == {
        "applications": 1, "aliases": 5, "api_keys": 3, "app_features": 1, "application_events": 40,
        "credentials": 5, "periodic_active_user_reports": 14, "periodic_credential_reports": 14, "users": 5,
    }


def test_files_past_the_part_size_split_into_parts_that_reassemble(database, target_database, store):
    generate_tenants(database, ["acme"], TenantSize(users=5, events=1500))
    key, manifest = archive_tenant(database, store, "acme", "job-1", ArchiveRequest(part_size_bytes=64 * 1024))
    events = [f for f in manifest.files if f.entity == "application_events"]
    assert [f.name for f in events] == [f"application_events.part-{n:04d}.csv" for n in range(1, len(events) + 1)]
    assert len(events) >= 4
    assert not store.exists("archives/acme/job-1/application_events.csv")
    assert [f.name for f in manifest.files if f.entity == "users"] == ["users.csv"]
    reassembled = []
    for listed in events:
        data = store.get_bytes(f"archives/acme/job-1/{listed.name}")
        assert len(data) == listed.bytes <= 64 * 1024
        header, *records = csv_records(store, f"archives/acme/job-1/{listed.name}")
        assert header == listed.columns and len(records) == listed.rows
        reassembled.extend(records)
    assert len(reassembled) == 1500
    assert len({r[1] for r in reassembled}) == 1500  # every event id once
    restore_archive(target_database, store, key, "acme")
    assert tenant_rows(target_database, "acme") == tenant_rows(database, "acme")


class BrokenStore(LocalObjectStore):
    """A real local store whose writes fail after the first `allowed` objects."""

    def __init__(self, root, allowed: int):
        super().__init__(root)
        self.allowed = allowed

    def open_write(self, key):
        if self.allowed <= 0:
            raise OSError(f"disk full while writing {key}")
        self.allowed -= 1
        return super().open_write(key)


def test_a_failing_store_raises_and_leaves_no_file_behind(database, tmp_path):
    generate_tenants(database, ["acme"], TenantSize(users=2, events=5))
    store = BrokenStore(tmp_path / "objects", allowed=3)
    with pytest.raises(OSError, match="disk full while writing archives/acme/job-1/"):
        archive_tenant(database, store, "acme", "job-1")
    assert list(store.list("archives/")) == []  # the files written before the failure are removed


def test_a_tenant_without_rows_is_refused(database, store):
    with pytest.raises(TenantArchiveError, match=r"^tenant 'ghost' has no rows in any of 9 entity tables$"):
        archive_tenant(database, store, "ghost", "job-1")


def test_archive_and_restore_through_s3_with_parts(database, target_database, s3_resource):
    store = s3_resource.get_store()
    generate_tenants(database, ["acme"], TenantSize(users=3, events=200))
    key, manifest = archive_tenant(database, store, "acme", "job-1", ArchiveRequest(part_size_bytes=8 * 1024))
    events = [f.name for f in manifest.files if f.entity == "application_events"]
    assert events[0] == "application_events.part-0001.csv" and len(events) >= 3
    assert sorted(o.key for o in store.list("archives/acme/job-1/")) == sorted(
        [f"archives/acme/job-1/{f.name}" for f in manifest.files] + [key]
    )
    restore_archive(target_database, store, key, "acme")
    assert tenant_rows(target_database, "acme") == tenant_rows(database, "acme")
