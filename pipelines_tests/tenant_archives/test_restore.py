import json

import pytest
import sqlalchemy as sa

from pipelines.tenant_archives.archive import archive_tenant
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines.tenant_archives.requests import ArchiveRequest
from pipelines.tenant_archives.restore import restore_archive
from pipelines_tests.tenant_archives.conftest import row_counts

FOLDER = "archives/acme/job-1/"


@pytest.fixture
def archived(database, store):
    """Tenant acme archived with 4 KiB parts; the database also holds acme itself."""
    generate_tenants(database, ["acme"], TenantSize(users=5, events=60))
    key, manifest = archive_tenant(database, store, "acme", "job-1", ArchiveRequest(part_size_bytes=4096))
    return key, manifest


def _refused(database, store, key, message):
    before = row_counts(database)
    with pytest.raises(TenantArchiveError, match=message):
        restore_archive(database, store, key, "acme-copy")
    assert row_counts(database) == before


def test_restore_refuses_a_missing_part_and_writes_nothing(database, store, archived):
    key, manifest = archived
    assert "application_events.part-0002.csv" in [f.name for f in manifest.files]
    store.delete(FOLDER + "application_events.part-0002.csv")
    _refused(
        database, store, key,
        r"^archive file 'archives/acme/job-1/application_events.part-0002.csv' listed in the manifest "
        r"is missing from the object store$",
    )


def test_restore_refuses_a_changed_byte_and_writes_nothing(database, store, archived):
    key, manifest = archived
    users = next(f for f in manifest.files if f.name == "users.csv")
    data = bytearray(store.get_bytes(FOLDER + "users.csv"))
    data[-5] = ord("9") if data[-5] != ord("9") else ord("8")
    store.put_bytes(FOLDER + "users.csv", bytes(data))
    _refused(
        database, store, key,
        rf"^archive file 'archives/acme/job-1/users.csv' has sha256 [0-9a-f]{{64}}, the manifest says "
        rf"{users.sha256}: the file was changed after it was archived$",
    )


def test_restore_refuses_a_file_of_another_size(database, store, archived):
    key, _ = archived
    store.put_bytes(FOLDER + "users.csv", store.get_bytes(FOLDER + "users.csv") + b"x")
    _refused(database, store, key, r"^archive file 'archives/acme/job-1/users.csv' has \d+ bytes, the manifest says \d+$")


def test_restore_refuses_a_target_with_an_extra_column_and_writes_nothing(database, store, archived):
    key, _ = archived
    with database.begin() as conn:
        conn.execute(sa.text("ALTER TABLE users ADD COLUMN nickname TEXT"))
    _refused(
        database, store, key,
        r"^the schema of the target database differs from archive 'archives/acme/job-1/manifest.json': "
        r"table 'users': column 'nickname' is in the target database but not in the archive$",
    )


def test_restore_refuses_an_unknown_manifest_version_and_writes_nothing(database, store, archived):
    key, _ = archived
    manifest = json.loads(store.get_bytes(key))
    store.put_bytes(key, json.dumps({**manifest, "format_version": 99}).encode())
    _refused(
        database, store, key,
        r"^manifest 'archives/acme/job-1/manifest.json' has format_version 99; this version of pipelines reads 2$",
    )


def test_restore_refuses_a_manifest_that_is_not_json(database, store, archived):
    key, _ = archived
    store.put_bytes(key, b"{not json")
    _refused(database, store, key, r"^manifest 'archives/acme/job-1/manifest.json': not JSON \(")


def test_restore_refuses_a_manifest_field_of_the_wrong_type(database, store, archived):
    key, _ = archived
    manifest = json.loads(store.get_bytes(key))
    manifest["files"][0]["rows"] = "many"
    store.put_bytes(key, json.dumps(manifest).encode())
    _refused(database, store, key, r"^manifest 'archives/acme/job-1/manifest.json': files\[0\].rows is 'many', expected a int$")


def test_restore_refuses_a_tenant_that_already_has_rows(database, store, archived):
    key, _ = archived
    before = row_counts(database)
    with pytest.raises(TenantArchiveError, match=r"^tenant 'acme' already has rows in applications, .*: restore under a new tenant name$"):
        restore_archive(database, store, key, "acme")
    assert row_counts(database) == before


def test_restore_refuses_a_bad_tenant_name(database, store, archived):
    key, _ = archived
    with pytest.raises(TenantArchiveError, match=r"^new tenant 'a/b' is not a tenant name"):
        restore_archive(database, store, key, "a/b")


def test_restore_of_a_missing_manifest_names_the_key(database, store):
    with pytest.raises(Exception, match=r"object 'archives/x/y/manifest.json' not found"):
        restore_archive(database, store, "archives/x/y/manifest.json", "b")
