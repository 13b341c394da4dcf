"""Restore an archive under a new tenant, after checking everything that can be checked first.

Before writing anything: the manifest parses and its format version is known; with a signing key
its signature matches; in the environment that made it, its sha256 is the one its backup job
recorded; every entity of the archive's schema has its file set (parts 1..n, zero-row entities
included) and nothing else is listed; every file is present with its byte size and sha256 (and an
encrypted one opens with the key); the logical schema fingerprint equals the target database's; the
new tenant has no rows and no other restore is filling it. Then every file loads in one transaction
(on PostgreSQL the server parses it, `COPY ... FROM STDIN WITH (FORMAT csv)`; on SQLite this module),
parents before children, each record's tenant (which must be the archive's) set to the new tenant,
and each file's row count is checked against the manifest as it loads: a mismatch rolls it all back.

Keys: every entity table's primary key starts with the tenant column (natural composite keys, see
`tables.py`), so the archived ids are kept as they are and cannot collide with another tenant's, and
references between tables (`user_id`, `api_key_id`) stay valid without remapping. A table whose key
does not include the tenant column is refused before anything is written.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

import sqlalchemy as sa

from pipelines.core.database import Database, copy_in_csv
from pipelines.core.object_store import ObjectStore
from pipelines.core.requests import shorten
from pipelines.core.rfc4180 import CsvFormatError, read_records, with_first_field
from pipelines.tenant_archives.archive import ArchiveKeys
from pipelines.tenant_archives.encryption import DecryptingReader, DecryptionError
from pipelines.tenant_archives.entities import (
    Entity,
    check_tenant,
    discover_entities,
    fingerprint,
    schema_differences,
    schema_of,
    tables_holding,
)
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.integrity import (
    SIGNATURE_NAME,
    check_recorded_digest,
    check_signature,
)
from pipelines.tenant_archives.jobs import try_lock_tenant_restore
from pipelines.tenant_archives.manifest import ArchivedFile, Manifest, folder_of
from pipelines.tenant_archives.settings import ARCHIVE_ENCRYPTION_KEY
from pipelines.tenant_archives.tables import backup_jobs
from pipelines.tenant_archives.values import decoder, pg_conversion

log = logging.getLogger(__name__)
_CHUNK = 1024 * 1024
SHOWN_DIFFERENCES = 5


@dataclass(frozen=True)
class RestoreResult:
    tenant: str
    manifest_key: str
    source_tenant: str
    rows_per_entity: dict[str, int]
    seconds: float
    signature_checked: bool = False
    digest_checked: bool = False

    @property
    def total_rows(self) -> int:
        return sum(self.rows_per_entity.values())


@dataclass(frozen=True)
class CheckedArchive:
    """A manifest whose own checks passed: where it came from and what it holds."""

    manifest: Manifest
    key: str
    body: bytes
    files: dict[str, list[ArchivedFile]]
    signature_checked: bool


def read_manifest(store: ObjectStore, key: str) -> Manifest:
    return Manifest.parse(store.get_bytes(key), key)


def check_manifest(body: bytes, signature: bytes | None, where: str, keys: ArchiveKeys) -> CheckedArchive:
    """The manifest's checks that need no data file: parse, signature, encryption key, completeness."""
    manifest = Manifest.parse(body, where)
    signed = check_signature(body, signature, keys.signing, where)
    if manifest.encryption and keys.encryption is None:
        raise TenantArchiveError(
            f"archive {where!r} is encrypted ({manifest.encryption}): set {ARCHIVE_ENCRYPTION_KEY.name} to its key"
        )
    return CheckedArchive(manifest, where, body, files_by_entity(manifest, where), signed)


def check_file(source: IO[bytes], listed: ArchivedFile, where: str, size: int | None, encrypted: bool, keys: ArchiveKeys) -> None:
    """`source` (a file of the archive) has the manifest's size and sha256, and opens with the key."""
    if size is not None and size != listed.bytes:
        raise TenantArchiveError(f"archive file {where!r} has {size} bytes, the manifest says {listed.bytes}")
    digest = hashlib.sha256()
    first = b""
    while chunk := source.read(_CHUNK):
        if len(first) < _CHUNK + 64:
            first += chunk[: _CHUNK + 64 - len(first)]
        digest.update(chunk)
    if digest.hexdigest() != listed.sha256:
        raise TenantArchiveError(
            f"archive file {where!r} has sha256 {digest.hexdigest()}, the manifest says {listed.sha256}: "
            "the file was changed after it was archived"
        )
    if encrypted:
        assert keys.encryption is not None
        try:
            DecryptingReader(io.BytesIO(first), keys.encryption).read(1)
        except DecryptionError:
            raise TenantArchiveError(
                f"archive file {where!r} does not open with {ARCHIVE_ENCRYPTION_KEY.name}: the archive was "
                "encrypted with another key"
            ) from None


def verify_files(store: ObjectStore, checked: CheckedArchive, keys: ArchiveKeys) -> None:
    """Every listed file is there, with the manifest's size and sha256."""
    folder = folder_of(checked.key)
    for listed in checked.manifest.files:
        key = folder + listed.name
        found = store.info(key)
        if found is None:
            raise TenantArchiveError(f"archive file {key!r} listed in the manifest is missing from the object store")
        if found.size != listed.bytes:
            raise TenantArchiveError(f"archive file {key!r} has {found.size} bytes, the manifest says {listed.bytes}")
        with store.open_read(key) as source:
            check_file(source, listed, key, None, bool(checked.manifest.encryption), keys)


def verify_schema(manifest: Manifest, entities: Sequence[Entity], manifest_key: str) -> None:
    """The target database's entity tables have exactly the archived columns, kinds and keys."""
    target = schema_of(entities)
    if fingerprint(target) == manifest.schema_fingerprint and fingerprint(manifest.schema) == manifest.schema_fingerprint:
        return
    differences = schema_differences(manifest.schema, target) or [
        f"the manifest's schema does not hash to its schema_fingerprint {manifest.schema_fingerprint}"
    ]
    raise TenantArchiveError(
        f"the schema of the target database differs from archive {manifest_key!r}: " + "; ".join(differences[:SHOWN_DIFFERENCES])
        + (f" (and {len(differences) - SHOWN_DIFFERENCES} more)" if len(differences) > SHOWN_DIFFERENCES else "")
    )


def _verify_keys(entities: Sequence[Entity], tenant_column: str) -> None:
    for entity in entities:
        if tenant_column not in entity.table.primary_key.columns:
            raise TenantArchiveError(
                f"table {entity.name!r}: its primary key ({', '.join(entity.table.primary_key.columns.keys())}) "
                f"does not include {tenant_column!r}, so a restore under a new tenant could collide with existing rows"
            )


def recorded_digest(database: Database, job_id: str) -> str | None:
    """The manifest sha256 this environment's backup job `job_id` recorded, if it has that job."""
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        return None
    with database.begin() as conn:
        return conn.scalar(sa.select(backup_jobs.c.manifest_sha256).where(backup_jobs.c.job_id == parsed))


def restore_archive(
    database: Database,
    store: ObjectStore,
    manifest_key: str,
    new_tenant: str,
    logger: Any = None,
    keys: ArchiveKeys | None = None,
) -> RestoreResult:
    """Check the archive against the target, then load it as `new_tenant` in one transaction."""
    logger = logger or log
    keys = keys or ArchiveKeys.from_environment()
    started = time.monotonic()
    check_tenant(new_tenant, "new tenant")
    body = store.get_bytes(manifest_key)
    signature_key = folder_of(manifest_key) + SIGNATURE_NAME
    signature = store.get_bytes(signature_key) if store.exists(signature_key) else None
    checked = check_manifest(body, signature, manifest_key, keys)
    manifest = checked.manifest
    digest_checked = check_recorded_digest(body, recorded_digest(database, manifest.job_id), manifest.job_id, manifest_key)
    verify_files(store, checked, keys)
    column = manifest.tenant_column
    with database.begin() as conn:
        entities = discover_entities(conn, column)
    verify_schema(manifest, entities, manifest_key)
    _verify_keys(entities, column)
    counts: dict[str, int] = {}
    with database.begin() as conn:
        if not try_lock_tenant_restore(conn, new_tenant):
            raise TenantArchiveError(
                f"tenant {new_tenant!r} is being restored by another run right now: wait for it, or restore under another name"
            )
        # Discovered again inside the writing transaction, so what was checked is what is written.
        entities = discover_entities(conn, column)
        verify_schema(manifest, entities, manifest_key)
        taken = tables_holding(conn, entities, new_tenant, column)
        if taken:
            raise TenantArchiveError(
                f"tenant {new_tenant!r} already has rows in {', '.join(taken)}: restore under a new tenant name"
            )
        for entity in entities:
            counts[entity.name] = 0
            for listed in checked.files[entity.name]:
                key = folder_of(manifest_key) + listed.name
                with _opened(store, key, manifest, keys) as source:
                    loaded = _load_file(database, conn, source, key, listed, entity, column, manifest.tenant, new_tenant)
                if loaded != listed.rows:
                    raise TenantArchiveError(
                        f"archive file {key!r} has {loaded} rows, the manifest says {listed.rows}: nothing was restored"
                    )
                counts[entity.name] += loaded
            logger.info(f"restore of {new_tenant}: {entity.name} {counts[entity.name]} rows")
    return RestoreResult(
        new_tenant, manifest_key, manifest.tenant, counts, time.monotonic() - started, checked.signature_checked, digest_checked
    )


@contextlib.contextmanager
def _opened(store: ObjectStore, key: str, manifest: Manifest, keys: ArchiveKeys) -> Iterator[IO[bytes]]:
    """The plaintext bytes of an archive file, streamed (decrypted as they are read)."""
    with store.open_read(key) as raw:
        source: IO[bytes] = raw
        if manifest.encryption:
            assert keys.encryption is not None
            source = io.BufferedReader(DecryptingReader(raw, keys.encryption), buffer_size=_CHUNK)
        yield source


def _load_file(
    database: Database,
    conn: sa.Connection,
    source: IO[bytes],
    key: str,
    listed: ArchivedFile,
    entity: Entity,
    tenant_column: str,
    source_tenant: str,
    new_tenant: str,
) -> int:
    """Insert one archive file's rows under `new_tenant`; returns how many the file held.

    Every record's tenant must be the archive's (`source_tenant`). PostgreSQL parses the file itself
    (`core.database.copy_in_csv`): the archive's text is what its CSV input reads, except bytes
    (base64), converted on the way in (`values.pg_conversion`), and the tenant, renamed in the byte
    stream (`core.rfc4180.with_first_field`). SQLite: parsed and decoded here, inserted in chunks."""
    try:
        if database.is_postgres:
            convert = {c.name: f for c in entity.columns if (f := pg_conversion(c.kind, entity.table.c[c.name]))}
            chunks: Iterable[bytes] = iter(functools.partial(source.read, _CHUNK), b"")
            if listed.columns[0] == tenant_column and len(listed.columns) > 1:
                # The tenant is each record's first field: renamed in the stream, so that a table
                # without bytes goes straight into its table (no staging copy).
                chunks = with_first_field(chunks, source_tenant, new_tenant)
            else:
                convert[tenant_column] = lambda _text: sa.literal(new_tenant, sa.String)
            return copy_in_csv(conn, entity.table, listed.columns, chunks, convert)
        text = io.TextIOWrapper(source, encoding="utf-8", newline="")
        rows = _decoded_rows(text, key, listed, entity, database.dialect, tenant_column, source_tenant, new_tenant)
        return database.bulk_insert(conn, entity.table, rows, columns=listed.columns)
    except CsvFormatError as exc:
        raise TenantArchiveError(f"archive file {key!r}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise TenantArchiveError(f"archive file {key!r}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


def files_by_entity(manifest: Manifest, where: str) -> dict[str, list[ArchivedFile]]:
    """Each entity of the archive's schema with its parts 1..n; anything else listed is refused."""
    files: dict[str, list[ArchivedFile]] = {}
    names: set[str] = set()
    for listed in manifest.files:
        if listed.entity not in manifest.schema:
            raise TenantArchiveError(f"manifest {where!r}: file {shorten(listed.name)} is of unknown entity {shorten(listed.entity)}")
        if listed.name in names:
            raise TenantArchiveError(f"manifest {where!r}: file {shorten(listed.name)} is listed twice")
        names.add(listed.name)
        if sorted(listed.columns) != sorted(c[0] for c in manifest.schema[listed.entity]):
            raise TenantArchiveError(
                f"manifest {where!r}: file {shorten(listed.name)} columns {shorten(listed.columns)} are not those of {listed.entity!r}"
            )
        files.setdefault(listed.entity, []).append(listed)
    for entity in manifest.schema:
        parts = sorted(files.get(entity, []), key=lambda f: f.part)
        if not parts:
            raise TenantArchiveError(
                f"manifest {where!r}: entity {shorten(entity)} of the archive's schema has no file: the archive is incomplete"
            )
        expected = [f"{entity}.csv"] if len(parts) == 1 else [f"{entity}.part-{n:04d}.csv" for n in range(1, len(parts) + 1)]
        if [f.name for f in parts] != expected or [f.part for f in parts] != list(range(1, len(parts) + 1)):
            raise TenantArchiveError(
                f"manifest {where!r}: entity {shorten(entity)} lists files {shorten([f.name for f in parts])}, expected {shorten(expected)}"
            )
        files[entity] = parts
    return files


def _decoded_rows(
    text: io.TextIOWrapper,
    key: str,
    listed: ArchivedFile,
    entity: Entity,
    dialect: str,
    tenant_column: str,
    source_tenant: str,
    new_tenant: str,
) -> Iterator[list[Any]]:
    kinds = {c.name: c.kind for c in entity.columns}
    decoders = [decoder(kinds[name], entity.table.c[name], dialect) for name in listed.columns]
    tenant_index = listed.columns.index(tenant_column)
    width = len(listed.columns)
    records = read_records(text)
    header = next(records, None)
    if header != listed.columns:
        raise TenantArchiveError(f"archive file {key!r}: header {header} is not the manifest's {listed.columns}")
    for number, record in enumerate(records, start=2):
        if len(record) != width:
            raise TenantArchiveError(f"archive file {key!r}: record {number} has {len(record)} fields, expected {width}")
        try:
            values = [None if field is None else decode(field) for decode, field in zip(decoders, record)]
        except (ValueError, TypeError) as exc:
            raise TenantArchiveError(f"archive file {key!r}: record {number}: {_bad_field(decoders, record, listed.columns, exc)}") from None
        if record[tenant_index] != source_tenant:
            raise TenantArchiveError(f"archive file {key!r}: record {number}: its {tenant_column} is not {source_tenant!r}")
        values[tenant_index] = new_tenant
        yield values


def _bad_field(decoders: list[Any], record: list[str | None], columns: list[str], error: Exception) -> str:
    for decode, text, name in zip(decoders, record, columns):
        if text is None:
            continue
        try:
            decode(text)
        except (ValueError, TypeError) as exc:
            return f"column {name!r} value {text[:80]!r}: {exc}"
    return str(error)
