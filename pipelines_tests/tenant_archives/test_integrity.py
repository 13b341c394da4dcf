"""Tampering with an archive is refused before anything is written (issue 13, 2), and encryption (5)."""

from __future__ import annotations

import base64
import json

import pytest

from pipelines.tenant_archives import jobs
from pipelines.tenant_archives.archive import ArchiveKeys, archive_tenant
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines.tenant_archives.integrity import manifest_digest
from pipelines.tenant_archives.requests import ArchiveRequest
from pipelines.tenant_archives.restore import restore_archive
from pipelines_tests.tenant_archives.conftest import row_counts, tenant_rows

NO_KEYS = ArchiveKeys()
SIGNING = ArchiveKeys(signing=b"correct horse battery staple")
KEY_1 = bytes(range(32))
KEY_2 = bytes(range(1, 33))


def _archive(database, store, keys=NO_KEYS, part_size=100 * 1024 * 1024):
    """Tenant acme archived by a backup job that completes with its manifest's digest, as the asset does."""
    generate_tenants(database, ["acme"], TenantSize(users=6, events=40))
    job = jobs.schedule_backup(database, "acme")
    jobs.start_job(database, job.job_id)
    key, manifest = archive_tenant(database, store, "acme", str(job.job_id), ArchiveRequest(part_size_bytes=part_size), keys=keys)
    jobs.complete_job(database, job.job_id, key, manifest_digest(manifest.to_bytes()))
    return key, f"archives/acme/{job.job_id}/"


def _edit(store, key, change):
    manifest = json.loads(store.get_bytes(key))
    change(manifest)
    store.put_bytes(key, json.dumps(manifest, indent=2).encode())


def _changed_users_file(store, folder):
    """users.csv with one microsecond digit changed, and the manifest's sha256 and size edited to match."""
    data = bytearray(store.get_bytes(folder + "users.csv"))
    digit = data.rindex(b"+00:00") - 1
    data[digit] = ord("9") if data[digit] != ord("9") else ord("8")
    store.put_bytes(folder + "users.csv", bytes(data))
    import hashlib

    def change(manifest):
        entry = next(f for f in manifest["files"] if f["name"] == "users.csv")
        entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)

    _edit(store, folder + "manifest.json", change)


def _refused(target, store, key, message, keys=NO_KEYS):
    before = row_counts(target)
    with pytest.raises(TenantArchiveError, match=message):
        restore_archive(target, store, key, "acme-copy", keys=keys)
    assert row_counts(target) == before


def test_an_edited_file_and_manifest_are_refused_by_the_signing_key_in_another_environment(database, target_database, store):
    key, folder = _archive(database, store, SIGNING)
    assert store.exists(folder + "manifest.sig")
    _changed_users_file(store, folder)
    _refused(
        target_database, store, key,
        rf"^archive '{key}': the manifest's signature does not match under PIPELINES_ARCHIVE_SIGNING_KEY: "
        r"the manifest was edited, or signed with another key$",
        SIGNING,
    )


def test_an_edited_file_and_manifest_are_refused_by_the_recorded_digest_in_the_same_environment(database, store):
    key, folder = _archive(database, store)
    _changed_users_file(store, folder)
    job_id = folder.split("/")[2]
    _refused(
        database, store, key,
        rf"^archive '{key}': the manifest's sha256 is not the one backup job {job_id} recorded when the archive "
        r"completed: the manifest was edited$",
    )


def test_without_a_key_in_another_environment_an_edited_manifest_is_not_detected(database, target_database, store):
    # What the README says plainly: with no signing key and no backup job of the archive here, a file
    # edited together with its manifest entry restores (the file set, rows and schema are still checked).
    key, folder = _archive(database, store)
    _changed_users_file(store, folder)
    restore_archive(target_database, store, key, "acme-copy", keys=ArchiveKeys())
    assert len(tenant_rows(target_database, "acme-copy")["users"]) == 6


def test_an_unsigned_archive_is_refused_when_a_signing_key_is_set(database, target_database, store):
    key, _ = _archive(database, store)
    _refused(
        target_database, store, key,
        rf"^archive '{key}' has no manifest.sig, and PIPELINES_ARCHIVE_SIGNING_KEY is set: only signed archives are restored$",
        SIGNING,
    )


def test_an_extra_part_listed_is_refused(database, target_database, store):
    key, folder = _archive(database, store)
    users = store.get_bytes(folder + "users.csv")
    store.put_bytes(folder + "users.part-0002.csv", users)

    def add_part(manifest):
        entry = next(f for f in manifest["files"] if f["name"] == "users.csv")
        manifest["files"].append({**entry, "name": "users.part-0002.csv", "part": 2})

    _edit(store, key, add_part)
    _refused(
        target_database, store, key,
        rf"^manifest '{key}': entity 'users' lists files \['users.csv', 'users.part-0002.csv'\], "
        r"expected \['users.part-0001.csv', 'users.part-0002.csv'\]$",
    )


def test_an_extra_part_with_consistent_names_is_refused_by_the_recorded_digest(database, store):
    key, folder = _archive(database, store)
    users = store.get_bytes(folder + "users.csv")
    store.put_bytes(folder + "users.part-0001.csv", users)
    store.put_bytes(folder + "users.part-0002.csv", users)

    def add_part(manifest):
        entry = next(f for f in manifest["files"] if f["name"] == "users.csv")
        entry["name"] = "users.part-0001.csv"
        manifest["files"].append({**entry, "name": "users.part-0002.csv", "part": 2})

    _edit(store, key, add_part)
    _refused(database, store, key, r"the manifest's sha256 is not the one backup job .* recorded")


def test_an_entity_removed_from_the_manifest_is_refused(database, target_database, store):
    key, _ = _archive(database, store)
    _edit(store, key, lambda m: m.update(files=[f for f in m["files"] if f["entity"] != "users"]))
    _refused(
        target_database, store, key,
        rf"^manifest '{key}': entity 'users' of the archive's schema has no file: the archive is incomplete$",
    )


def test_an_entity_removed_from_the_manifest_and_its_schema_is_refused(database, target_database, store):
    key, _ = _archive(database, store)

    def remove(manifest):
        manifest["files"] = [f for f in manifest["files"] if f["entity"] != "users"]
        del manifest["schema"]["users"]

    _edit(store, key, remove)
    _refused(
        target_database, store, key,
        r"^the schema of the target database differs from archive .*: table 'users' is in the target database but not in the archive$",
    )


def test_a_zero_row_entity_still_needs_its_file(database, target_database, store):
    key, folder = _archive(database, store)
    manifest = json.loads(store.get_bytes(key))
    [aliases] = [f for f in manifest["files"] if f["entity"] == "periodic_active_user_reports"] or [None]
    assert aliases is not None
    store.delete(folder + aliases["name"])
    _refused(target_database, store, key, rf"^archive file '{folder}{aliases['name']}' listed in the manifest is missing")


def test_changed_row_counts_are_refused_and_roll_back(database, target_database, store):
    key, _ = _archive(database, store)

    def more_events(manifest):
        entry = next(f for f in manifest["files"] if f["entity"] == "application_events")
        entry["rows"] += 1

    _edit(store, key, more_events)
    _refused(
        target_database, store, key,
        r"^archive file 'archives/acme/.*/application_events.csv' has 40 rows, the manifest says 41: nothing was restored$",
    )


def _rewritten(store, folder, name, old: bytes, new: bytes):
    """`name` with the last `old` replaced by `new`, and the manifest's sha256 and size edited to match."""
    import hashlib

    data = bytearray(store.get_bytes(folder + name))
    at = data.rindex(old)
    data[at : at + len(old)] = new
    store.put_bytes(folder + name, bytes(data))

    def change(manifest):
        entry = next(f for f in manifest["files"] if f["name"] == name)
        entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)

    _edit(store, folder + "manifest.json", change)


def test_a_value_that_does_not_parse_is_refused_in_one_line_naming_file_and_column(database, target_database, store):
    key, folder = _archive(database, store)
    _rewritten(store, folder, "users.csv", b"+00:00", b"+00:0x")
    # PostgreSQL's own words on that backend ("... (line 7, column created_at: ...)"), the restore's on SQLite.
    _refused(target_database, store, key, rf"^archive file '{folder}users.csv': .*(line 7, column created_at|record 7: column 'created_at')")


def test_bytes_that_are_not_base64_are_refused_and_roll_back(database, target_database, store):
    key, folder = _archive(database, store)
    _rewritten(store, folder, "credentials.csv", b"=", b"*")
    _refused(target_database, store, key, rf"^archive file '{folder}credentials.csv': .*(invalid symbol \"\*\"|not base64)")


def test_a_header_that_is_not_the_manifests_is_refused(database, target_database, store):
    key, folder = _archive(database, store)
    _rewritten(store, folder, "users.csv", b"user_id", b"user_ix")
    _refused(target_database, store, key, rf"^archive file '{folder}users.csv': .*(got \"user_ix\", expected \"user_id\"|header .* is not the manifest's)")


def test_a_record_of_another_tenant_is_refused(database, target_database, store):
    key, folder = _archive(database, store)
    _rewritten(store, folder, "users.csv", b"\r\nacme,", b"\r\nother,")
    _refused(target_database, store, key, rf"^archive file '{folder}users.csv': record 7: its (first field|tenant) is not 'acme'$")


def test_an_encrypted_archive_round_trips_and_its_parts_hold_no_plaintext(database, target_database, store):
    keys = ArchiveKeys(encryption=KEY_1)
    key, folder = _archive(database, store, keys, part_size=4096)
    manifest = json.loads(store.get_bytes(key))
    assert manifest["encryption"] == "aes-256-gcm-chunked-v1"
    assert len([f for f in manifest["files"] if f["entity"] == "application_events"]) >= 2
    for listed in manifest["files"]:
        stored = store.get_bytes(folder + listed["name"])
        assert stored[:4] == b"PAE1" and b"tenant" not in stored and len(stored) == listed["bytes"]
    restore_archive(target_database, store, key, "acme-copy", keys=keys)
    assert tenant_rows(target_database, "acme-copy") == tenant_rows(database, "acme")


def test_an_encrypted_archive_is_refused_with_a_wrong_key_or_none(database, target_database, store):
    key, folder = _archive(database, store, ArchiveKeys(encryption=KEY_1))
    _refused(
        target_database, store, key,
        rf"^archive file '{folder}[a-z_]+.csv' does not open with PIPELINES_ARCHIVE_ENCRYPTION_KEY: the archive was "
        r"encrypted with another key$",
        ArchiveKeys(encryption=KEY_2),
    )
    _refused(
        target_database, store, key,
        rf"^archive '{key}' is encrypted \(aes-256-gcm-chunked-v1\): set PIPELINES_ARCHIVE_ENCRYPTION_KEY to its key$",
    )


def test_keys_come_from_the_environment_and_are_never_shown(monkeypatch):
    monkeypatch.setenv("PIPELINES_ARCHIVE_SIGNING_KEY", "s3cret-signing")
    monkeypatch.setenv("PIPELINES_ARCHIVE_ENCRYPTION_KEY", base64.b64encode(KEY_1).decode())
    keys = ArchiveKeys.from_environment()
    assert (keys.signing, keys.encryption) == (b"s3cret-signing", KEY_1)
    assert "s3cret" not in repr(keys) and "AAECAw" not in repr(keys)
    monkeypatch.setenv("PIPELINES_ARCHIVE_ENCRYPTION_KEY", "too-short-s3cret")
    with pytest.raises(TenantArchiveError) as raised:
        ArchiveKeys.from_environment()
    assert str(raised.value) == (
        "PIPELINES_ARCHIVE_ENCRYPTION_KEY: not 32 bytes in base64 (make one with `openssl rand -base64 32`)"
    )
