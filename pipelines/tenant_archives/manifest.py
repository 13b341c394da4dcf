"""`manifest.json` of an archive: what was archived, and what a restore checks before writing.

Layout under the object store: `archives/{tenant}/{job_id}/{entity}.csv` (or
`{entity}.part-0001.csv`, ... past the part size) and `archives/{tenant}/{job_id}/manifest.json`.
File names in the manifest are relative to the manifest's folder.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from pipelines.core.requests import json_value, shorten
from pipelines.tenant_archives.encryption import SCHEME
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.requests import is_identifier

ENCRYPTION_SCHEMES = (SCHEME,)

# 2: the schema's columns carry their primary-key flag; parts may be encrypted (`encryption`).
FORMAT_VERSION = 2
KNOWN_VERSIONS = (2,)
MANIFEST_NAME = "manifest.json"
# `{entity}.part-0001.csv` of a 63-character table name, with room to spare.
MAX_FILE_NAME = 100
_SHA256 = re.compile(r"[0-9a-f]{64}")


def archive_prefix(tenant: str, job_id: str) -> str:
    return f"archives/{tenant}/{job_id}/"


def manifest_key(tenant: str, job_id: str) -> str:
    return archive_prefix(tenant, job_id) + MANIFEST_NAME


def folder_of(key: str) -> str:
    return key.rsplit("/", 1)[0] + "/" if "/" in key else ""


@dataclass(frozen=True)
class ArchivedFile:
    name: str
    entity: str
    part: int
    columns: list[str]
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    tenant: str
    job_id: str
    created_at: str
    tenant_column: str
    schema: dict[str, list[list[Any]]]
    schema_fingerprint: str
    files: list[ArchivedFile] = field(default_factory=list)
    encryption: str | None = None
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    def to_bytes(self) -> bytes:
        return self.to_json().encode("utf-8")

    @property
    def total_rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def rows_per_entity(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.files:
            counts[f.entity] = counts.get(f.entity, 0) + f.rows
        return counts

    @classmethod
    def parse(cls, text: str | bytes, key: str) -> Manifest:
        """Validate a manifest; every problem names the manifest and the field."""
        data = json_value(text, f"manifest {key!r}", TenantArchiveError)
        if not isinstance(data, dict):
            raise TenantArchiveError(f"manifest {key!r} is not a JSON object")
        version = data.get("format_version")
        if version not in KNOWN_VERSIONS:
            raise TenantArchiveError(
                f"manifest {key!r} has format_version {shorten(version)}; this version of pipelines reads "
                f"{', '.join(map(str, KNOWN_VERSIONS))}"
            )
        fields = {
            "tenant": str,
            "job_id": str,
            "created_at": str,
            "tenant_column": str,
            "schema": dict,
            "schema_fingerprint": str,
            "files": list,
        }
        for name, kind in fields.items():
            if not isinstance(data.get(name), kind):
                raise TenantArchiveError(
                    f"manifest {key!r}: field {name!r} is {shorten(data.get(name))}, expected a {kind.__name__}"
                )
        try:
            dt.datetime.fromisoformat(data["created_at"])
        except ValueError:
            raise TenantArchiveError(
                f"manifest {key!r}: field 'created_at' is {shorten(data['created_at'])}, not an ISO 8601 time"
            ) from None
        for table, columns in data["schema"].items():
            if not is_identifier(table):
                raise TenantArchiveError(f"manifest {key!r}: schema table {shorten(table)} is not a table name")
            if not isinstance(columns, list) or not all(_is_column(c) for c in columns):
                raise TenantArchiveError(
                    f"manifest {key!r}: schema[{shorten(table)}] is not a list of [name, kind, nullable, primary_key]"
                )
        encryption = data.get("encryption")
        if encryption not in (None, *ENCRYPTION_SCHEMES):
            raise TenantArchiveError(f"manifest {key!r}: encryption {shorten(encryption)} is not one this version reads")
        files = [_parse_file(item, key, index) for index, item in enumerate(data["files"])]
        return cls(
            **{name: data[name] for name in fields if name != "files"},
            files=files,
            encryption=encryption,
            format_version=version,
        )


def _is_column(column: Any) -> bool:
    return (
        isinstance(column, list)
        and len(column) == 4
        and all(isinstance(v, str) for v in column[:2])
        and all(isinstance(v, bool) for v in column[2:])
    )


def _parse_file(item: Any, key: str, index: int) -> ArchivedFile:
    kinds = {"name": str, "entity": str, "part": int, "columns": list, "rows": int, "bytes": int, "sha256": str}
    if not isinstance(item, dict):
        raise TenantArchiveError(f"manifest {key!r}: files[{index}] is not an object")
    for name, kind in kinds.items():
        if not isinstance(item.get(name), kind) or isinstance(item.get(name), bool):
            raise TenantArchiveError(
                f"manifest {key!r}: files[{index}].{name} is {shorten(item.get(name))}, expected a {kind.__name__}"
            )
    if not _SHA256.fullmatch(item["sha256"]):
        raise TenantArchiveError(f"manifest {key!r}: files[{index}].sha256 {shorten(item['sha256'])} is not 64 hex digits")
    if not is_identifier(item["entity"]):
        raise TenantArchiveError(f"manifest {key!r}: files[{index}].entity {shorten(item['entity'])} is not a table name")
    if not all(isinstance(column, str) for column in item["columns"]):
        raise TenantArchiveError(f"manifest {key!r}: files[{index}].columns {shorten(item['columns'])} are not column names")
    if any(c in item["name"] for c in "/\\\x00") or item["name"] in ("", ".", "..") or len(item["name"]) > MAX_FILE_NAME:
        raise TenantArchiveError(f"manifest {key!r}: files[{index}].name {shorten(item['name'])} is not a file name")
    return ArchivedFile(**{name: item[name] for name in kinds})
