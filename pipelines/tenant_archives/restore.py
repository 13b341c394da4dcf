"""Restore an archive under a new tenant, after checking everything that can be checked first.

Before writing anything: the manifest parses and its format version is known; every file it lists
is present with its byte size and sha256; the schema fingerprint equals the target database's; the
new tenant has no rows yet. Then every file loads in one transaction (binary COPY on PostgreSQL),
parents before children, with the tenant column set to the new tenant.

Keys: every entity table's primary key starts with the tenant column (natural composite keys, see
`tables.py`), so the archived ids are kept as they are and cannot collide with another tenant's, and
references between tables (`user_id`, `api_key_id`) stay valid without remapping. A table whose key
does not include the tenant column is refused before anything is written.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.core.database import Database
from pipelines.core.object_store import ObjectStore
from pipelines.core.rfc4180 import CsvFormatError, read_records
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
from pipelines.tenant_archives.manifest import ArchivedFile, Manifest, folder_of
from pipelines.tenant_archives.values import decoder

log = logging.getLogger(__name__)
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RestoreResult:
    tenant: str
    manifest_key: str
    source_tenant: str
    rows_per_entity: dict[str, int]
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows_per_entity.values())


def read_manifest(store: ObjectStore, key: str) -> Manifest:
    return Manifest.parse(store.get_bytes(key), key)


def verify_files(store: ObjectStore, manifest_key: str, manifest: Manifest) -> None:
    """Every listed file is there, with the manifest's size and sha256."""
    folder = folder_of(manifest_key)
    for listed in manifest.files:
        key = folder + listed.name
        found = store.info(key)
        if found is None:
            raise TenantArchiveError(f"archive file {key!r} listed in the manifest is missing from the object store")
        if found.size != listed.bytes:
            raise TenantArchiveError(
                f"archive file {key!r} has {found.size} bytes, the manifest says {listed.bytes}"
            )
        digest = hashlib.sha256()
        with store.open_read(key) as source:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != listed.sha256:
            raise TenantArchiveError(
                f"archive file {key!r} has sha256 {digest.hexdigest()}, the manifest says {listed.sha256}: "
                "the file was changed after it was archived"
            )


def verify_schema(manifest: Manifest, entities: Sequence[Entity], manifest_key: str) -> None:
    """The target database's entity tables have exactly the archived columns and kinds."""
    target = schema_of(entities)
    if fingerprint(target) == manifest.schema_fingerprint and fingerprint(manifest.schema) == manifest.schema_fingerprint:
        return
    differences = schema_differences(manifest.schema, target) or [
        f"the manifest's schema does not hash to its schema_fingerprint {manifest.schema_fingerprint}"
    ]
    raise TenantArchiveError(
        f"the schema of the target database differs from archive {manifest_key!r}: " + "; ".join(differences)
    )


def _verify_keys(entities: Sequence[Entity], tenant_column: str) -> None:
    for entity in entities:
        if tenant_column not in entity.table.primary_key.columns:
            raise TenantArchiveError(
                f"table {entity.name!r}: its primary key ({', '.join(entity.table.primary_key.columns.keys())}) "
                f"does not include {tenant_column!r}, so a restore under a new tenant could collide with existing rows"
            )


def restore_archive(
    database: Database, store: ObjectStore, manifest_key: str, new_tenant: str, logger: Any = None
) -> RestoreResult:
    """Check the archive against the target, then load it as `new_tenant` in one transaction."""
    logger = logger or log
    started = time.monotonic()
    check_tenant(new_tenant, "new tenant")
    manifest = read_manifest(store, manifest_key)
    verify_files(store, manifest_key, manifest)
    column = manifest.tenant_column
    with database.begin() as conn:
        entities = discover_entities(conn, column)
    verify_schema(manifest, entities, manifest_key)
    _verify_keys(entities, column)
    files = _files_by_entity(manifest, manifest_key)
    counts: dict[str, int] = {}
    with database.begin() as conn:
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
            for listed in files.get(entity.name, []):
                rows = _decoded_rows(store, folder_of(manifest_key) + listed.name, listed, entity, database.dialect, column, new_tenant)
                loaded = database.bulk_insert(conn, entity.table, rows, columns=listed.columns)
                if loaded != listed.rows:
                    raise TenantArchiveError(
                        f"archive file {listed.name!r} has {loaded} rows, the manifest says {listed.rows}"
                    )
                counts[entity.name] += loaded
            logger.info(f"restore of {new_tenant}: {entity.name} {counts[entity.name]} rows")
    return RestoreResult(new_tenant, manifest_key, manifest.tenant, counts, time.monotonic() - started)


def _files_by_entity(manifest: Manifest, manifest_key: str) -> dict[str, list[ArchivedFile]]:
    files: dict[str, list[ArchivedFile]] = {}
    for listed in manifest.files:
        if listed.entity not in manifest.schema:
            raise TenantArchiveError(f"manifest {manifest_key!r}: file {listed.name!r} is of unknown entity {listed.entity!r}")
        if sorted(listed.columns) != sorted(c[0] for c in manifest.schema[listed.entity]):
            raise TenantArchiveError(
                f"manifest {manifest_key!r}: file {listed.name!r} columns {listed.columns} are not those of {listed.entity!r}"
            )
        files.setdefault(listed.entity, []).append(listed)
    return {entity: sorted(parts, key=lambda f: f.part) for entity, parts in files.items()}


def _decoded_rows(
    store: ObjectStore,
    key: str,
    listed: ArchivedFile,
    entity: Entity,
    dialect: str,
    tenant_column: str,
    new_tenant: str,
) -> Iterator[list[Any]]:
    kinds = {c.name: c.kind for c in entity.columns}
    decoders = [decoder(kinds[name], entity.table.c[name], dialect) for name in listed.columns]
    tenant_index = listed.columns.index(tenant_column)
    width = len(listed.columns)
    with store.open_read(key) as raw:
        records = read_records(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        try:
            header = next(records, None)
            if header != listed.columns:
                raise TenantArchiveError(f"archive file {key!r}: header {header} is not the manifest's {listed.columns}")
            for number, record in enumerate(records, start=2):
                if len(record) != width:
                    raise TenantArchiveError(f"archive file {key!r}: record {number} has {len(record)} fields, expected {width}")
                try:
                    values = [None if text is None else decode(text) for decode, text in zip(decoders, record)]
                except (ValueError, TypeError) as exc:
                    raise TenantArchiveError(f"archive file {key!r}: record {number}: {_bad_field(decoders, record, listed.columns, exc)}") from None
                values[tenant_index] = new_tenant
                yield values
        except CsvFormatError as exc:
            raise TenantArchiveError(f"archive file {key!r}: {exc}") from None


def _bad_field(decoders: list[Any], record: list[str | None], columns: list[str], error: Exception) -> str:
    for decode, text, name in zip(decoders, record, columns):
        if text is None:
            continue
        try:
            decode(text)
        except (ValueError, TypeError) as exc:
            return f"column {name!r} value {text[:80]!r}: {exc}"
    return str(error)
