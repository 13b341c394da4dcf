"""Fuzzing archive manifests (hypothesis, fixed seed, bounded examples).

Random and mutated manifests, starting from a real archive's `manifest.json` (fields dropped,
retyped, nested, NUL, lone surrogates, huge numbers and strings, deep nesting, bytes that are not
UTF-8, file names that leave the archive's folder), through each place that reads one: the parse and
the checks that need no data file (`check_manifest`), a restore from the object store (both
backends) and the upload of a downloaded archive. Each ends in `TenantArchiveError` with one line,
or, for an edit that changes nothing that matters, in the very rows of the archived tenant; a refused
manifest writes nothing: every entity table and `backup_jobs` hold the same rows, the store the same
objects.
"""

from __future__ import annotations

import copy
import itertools
import json
import shutil

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipelines.tenant_archives import tables
from pipelines.tenant_archives.archive import ArchiveKeys, archive_tenant
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines.tenant_archives.manifest import Manifest
from pipelines.tenant_archives.requests import ArchiveRequest
from pipelines.tenant_archives.restore import check_manifest, restore_archive
from pipelines.tenant_archives.transport import upload_archive
from pipelines_tests.support.fuzz import bounded
from pipelines_tests.support.snapshots import store_objects, table_rows
from pipelines_tests.tenant_archives.conftest import tenant_rows

FUZZ = bounded(200)
KEY = "archives/acme/job-1/manifest.json"
NO_KEYS = ArchiveKeys()
TABLES = (*tables.ENTITY_TABLES, tables.backup_jobs)
HOSTILE = st.sampled_from([
    None, True, False, 0, -1, 1.5, 2, 2**63, 10**30, float("inf"), "", " ", "\x00", "\ud800", "é", "x" * 100_000,
    "..", ".", "../users.csv", "a/b.csv", "users.csv\x00", "\\users.csv", "users.csv", "users.part-0001.csv",
    "2024-01-01T00:00:00+00:00", "not a time", "aes-256-gcm-chunked-v1", "sha256:00", [], {}, [None], [[]], [1, "a"],
    ["tenant", "text", False, True], [["tenant", "text", False, True]], {"users": []}, {"x": [["id", "integer", False, True]]},
])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | HOSTILE
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


def edit(data: st.DataObject, node: object) -> object:
    """`node` with one change somewhere inside it: a value replaced, a key dropped or added, an item
    repeated, a level of nesting added."""
    children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
    if children and data.draw(st.integers(0, 3), label="descend") > 0:
        at, child = data.draw(st.sampled_from(children), label="into")
        node[at] = edit(data, child)  # type: ignore[index]
        return node
    action = data.draw(st.sampled_from(["replace", "drop", "add", "repeat", "nest"]), label="edit")
    if action == "drop" and children:
        del node[data.draw(st.sampled_from([at for at, _ in children]), label="drop")]  # type: ignore[attr-defined]
    elif action == "add" and isinstance(node, dict):
        node[data.draw(st.sampled_from(["format_version", "encryption", "name", "part", "extra"]) | st.text(max_size=4))] = data.draw(VALUES)
    elif action == "repeat" and isinstance(node, list) and node:
        node.append(copy.deepcopy(data.draw(st.sampled_from(node), label="repeat")))
    elif action == "nest":
        return [node] if data.draw(st.booleans(), label="as list") else {"x": node}
    else:
        return data.draw(VALUES, label="value")
    return node


def mutated_manifest(data: st.DataObject, valid: bytes) -> bytes:
    """The valid manifest edited one to three times: as JSON values, or as bytes."""
    if data.draw(st.booleans(), label="as JSON"):
        manifest = json.loads(valid)
        for _ in range(data.draw(st.integers(1, 3), label="edits")):
            manifest = edit(data, manifest)
        return json.dumps(manifest).encode("utf-8", "surrogatepass")
    content = bytearray(valid)
    for _ in range(data.draw(st.integers(1, 4), label="byte edits")):
        at = data.draw(st.integers(0, len(content)), label="at")
        piece = data.draw(st.binary(min_size=1, max_size=3) | st.sampled_from([b'"', b",", b"{", b"]", b"\xff", b"\\u0000", b"1" * 5000]))
        content[at : at + data.draw(st.integers(0, 3), label="cut")] = piece
    return bytes(content)


def archive(database, store) -> bytes:
    """Tenant acme archived under a job id of no backup job (no recorded digest: the manifest is all the
    restore has to check); the manifest's bytes."""
    generate_tenants(database, ["acme"], TenantSize(users=3, events=8))
    key, _ = archive_tenant(database, store, "acme", "job-1", ArchiveRequest(part_size_bytes=4096))
    assert key == KEY
    return store.get_bytes(KEY)


@pytest.fixture
def sqlite_archive(sqlite_url, local_store):
    from pipelines.core.database import Database

    database = Database(sqlite_url)
    database.upgrade()
    return archive(database, local_store)


def assert_one_line(error: Exception) -> None:
    assert "\n" not in str(error) and len(str(error)) <= 600, str(error)


@FUZZ
@given(data=st.data())
@example(data=None)
def test_a_mutated_manifest_is_checked_or_refused_with_one_line_of_tenant_archive_error(sqlite_archive, data):
    bodies = [b"[" * 100_000, b'{"format_version": 2, "files": ' + b"[" * 50_000, b"\xff\xfe", b"", b"null"] if data is None else [
        mutated_manifest(data, sqlite_archive), data.draw(st.binary(max_size=100), label="random"), json.dumps(data.draw(VALUES)).encode()]
    for body in bodies:
        try:
            Manifest.parse(body, KEY)
            check_manifest(body, None, KEY, NO_KEYS)
        except TenantArchiveError as exc:
            assert_one_line(exc)


def _add_entity(name: str):
    def change(manifest: dict) -> None:
        manifest["schema"][name] = [["tenant", "text", False, True]]
        manifest["files"].append({"name": f"{name}.csv", "entity": name, "part": 1, "columns": ["tenant"],
                                  "rows": 0, "bytes": 7, "sha256": "0" * 64})
    return change


def _set_file(field: str, value: object):
    def change(manifest: dict) -> None:
        manifest["files"][0][field] = value
    return change


# Edits a random walk rarely makes, each aimed at one check.
CRAFTED = {
    "columns-of-mixed-types": _set_file("columns", [1, "tenant"]),
    "columns-not-text": _set_file("columns", [["tenant"]]),
    "name-with-backslash": _set_file("name", "applications.csv\\x"),
    "name-with-nul": _set_file("name", "applications\x00.csv"),
    "negative-size": _set_file("bytes", -1),
    "huge-size": _set_file("bytes", 10**30),
    "entity-with-nul": _add_entity("evil\x00"),
    "entity-with-dots": _add_entity(".."),
    "entity-with-a-long-name": _add_entity("e" * 100_000),
    "schema-kind-unknown": lambda m: m["schema"]["users"].__setitem__(0, [m["schema"]["users"][0][0], "blob", False, True]),
    "tenant-column-elsewhere": lambda m: m.__setitem__("tenant_column", "id; DROP TABLE users"),
    "tenant-column-nul": lambda m: m.__setitem__("tenant_column", "\x00"),
    "created-at-with-nul": lambda m: m.__setitem__("created_at", "2024-01-01\x00"),
}



def with_crafted_examples(test):
    for name in CRAFTED:
        test = example(data=None, crafted=name)(test)
    return test


COUNTER = itertools.count()


@settings(FUZZ, max_examples=30)
@given(data=st.data(), crafted=st.none())
@with_crafted_examples
def test_a_restore_of_a_mutated_manifest_refuses_it_and_writes_nothing(database, store, data, crafted):
    valid = archive(database, store) if not store.exists(KEY) else store.get_bytes(KEY)
    original = tenant_rows(database, "acme")
    if crafted:
        manifest = json.loads(valid)
        CRAFTED[crafted](manifest)
        body = json.dumps(manifest).encode("utf-8", "surrogatepass")
    else:
        body = mutated_manifest(data, valid)
    store.put_bytes(KEY, body)
    rows, objects = table_rows(database, TABLES), store_objects(store)
    tenant = f"copy-{next(COUNTER)}"
    try:
        try:
            restore_archive(database, store, KEY, tenant, keys=NO_KEYS)
        except TenantArchiveError as exc:
            assert_one_line(exc)
            assert (table_rows(database, TABLES), store_objects(store)) == (rows, objects)
        else:
            assert not crafted, f"the crafted manifest {crafted} was restored"
            assert tenant_rows(database, tenant) == original  # the edit changed nothing the restore uses
    finally:
        store.put_bytes(KEY, valid)


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_an_upload_of_a_downloaded_archive_with_a_mutated_manifest_refuses_it_and_writes_nothing(sqlite_archive, local_store, tmp_path, data):
    folder = tmp_path / f"download-{next(COUNTER)}"
    shutil.copytree(local_store.path("archives/acme/job-1"), folder)
    (folder / "manifest.json").write_bytes(mutated_manifest(data, sqlite_archive))
    objects = store_objects(local_store)
    try:
        key = upload_archive(local_store, folder, "acme-copy", keys=NO_KEYS)
    except TenantArchiveError as exc:
        assert_one_line(exc)
        assert store_objects(local_store) == objects
    else:
        assert key.startswith("uploads/acme-copy/") and key.endswith("/manifest.json")
