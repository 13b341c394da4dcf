"""The requests of tenant archives: the one definition of each request's fields, choices, bounds and rules.

The launchpad (the assets' config), the backup-jobs sensor, the CLI and the logic all take these
models. Field names are snake_case; the seed's camelCase names (`jobId`) are the aliases Dagster's
launchpad shows.
"""

from __future__ import annotations

import re
import uuid
from typing import ClassVar

import dagster as dg
from pydantic import Field, field_validator, model_validator

from pipelines.core.requests import Request
from pipelines.tenant_archives.errors import TenantArchiveError

ARCHIVE_ASSET = "tenant_archives"
RESTORE_ASSET = "tenant_restore"
RETENTION_ASSET = "tenant_archive_retention"

DEFAULT_TENANT_COLUMN = "tenant"
# The seed's `Archive.Data` is at most 100 MB; a part is one such document.
MAX_PART_SIZE = 100 * 1024 * 1024
MIN_PART_SIZE = 4 * 1024
DEFAULT_PART_SIZE = MAX_PART_SIZE

_TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def tenant_problem(tenant: object) -> str | None:
    """Why `tenant` is not a tenant name (it becomes a folder of the archive keys), or None."""
    if isinstance(tenant, str) and _TENANT_NAME.match(tenant):
        return None
    return "is not a tenant name: use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"


def _tenant(value: str) -> str:
    problem = tenant_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def is_identifier(value: object) -> bool:
    """A table or column name as archives and requests take it: letters, digits and '_', at most 63."""
    return isinstance(value, str) and _IDENTIFIER.fullmatch(value) is not None


def _identifier(value: str) -> str:
    if not is_identifier(value):
        raise ValueError("is not a table or column name: letters, digits and '_', at most 63, not starting with a digit")
    return value


class ArchiveRequest(Request):
    """One archive run of a tenant (the partition): which backup job it carries out and how files are cut."""

    error: ClassVar = TenantArchiveError

    job_id: str | None = Field(
        default=None,
        alias="jobId",
        description="The backup job this run carries out (the sensor sets it); unset: a new job is created.",
    )
    part_size_bytes: int = Field(
        default=DEFAULT_PART_SIZE,
        alias="partSizeBytes",
        ge=MIN_PART_SIZE,
        le=MAX_PART_SIZE,
        description="A CSV file past this size is split into parts (4 KiB to 100 MiB, the seed's limit).",
    )
    tenant_column: str = Field(
        default=DEFAULT_TENANT_COLUMN, alias="tenantColumn", description="The column that names the tenant."
    )
    tables: list[str] = Field(
        default_factory=list, description="Entity tables to archive; empty: every table with the tenant column."
    )

    @field_validator("job_id")
    @classmethod
    def _job_id_is_a_uuid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError("is not a UUID") from None

    @field_validator("tenant_column")
    @classmethod
    def _tenant_column_is_a_name(cls, value: str) -> str:
        return _identifier(value)

    @field_validator("tables")
    @classmethod
    def _tables_are_names_once(cls, value: list[str]) -> list[str]:
        for name in value:
            _identifier(name)
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"names {', '.join(repeated)} more than once")
        return value


class RestoreRequest(Request):
    """Restore one archive as a new tenant: from the object store (`manifestKey`) or from files (`fromPath`)."""

    error: ClassVar = TenantArchiveError

    manifest_key: str | None = Field(
        default=None, alias="manifestKey", description="Object-store key of the archive's manifest.json."
    )
    from_path: str | None = Field(
        default=None,
        alias="fromPath",
        description="A downloaded archive (a folder or a .zip) on the machine of the run: uploaded, verified, restored.",
    )
    tenant: str = Field(description="The new tenant the archive is restored as.")

    @field_validator("tenant")
    @classmethod
    def _tenant_is_a_name(cls, value: str) -> str:
        return _tenant(value)

    @field_validator("manifest_key")
    @classmethod
    def _manifest_key_names_a_manifest(cls, value: str | None) -> str | None:
        if value is not None and not value.endswith("manifest.json"):
            raise ValueError("is not the key of a manifest.json")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> RestoreRequest:
        if (self.manifest_key is None) == (self.from_path is None):
            raise ValueError("give exactly one of manifestKey (an archive in the object store) or fromPath (files)")
        return self


class RetentionRequest(Request):
    """Which completed archives of each tenant are kept: the newest `keepLast`; older ones are deleted."""

    error: ClassVar = TenantArchiveError

    keep_last: int = Field(
        default=7, alias="keepLast", ge=1, le=1000, description="Completed archives kept per tenant (the newest)."
    )


def archive_run_config(request: ArchiveRequest) -> dg.RunConfig:
    return dg.RunConfig(ops={ARCHIVE_ASSET: request})


def restore_run_config(request: RestoreRequest) -> dg.RunConfig:
    return dg.RunConfig(ops={RESTORE_ASSET: request})


def retention_run_config(request: RetentionRequest) -> dg.RunConfig:
    return dg.RunConfig(ops={RETENTION_ASSET: request})
