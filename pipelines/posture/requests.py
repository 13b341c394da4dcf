"""The posture requests: the seed's export and import request bodies, the one definition of their fields.

The launchpad (the assets' config), the CLI and the plain logic all take these models; `parse` (from
`pipelines.core.requests.Request`) turns plain data into one, or raises `PostureError` with one line
naming the field and the value.
"""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from pipelines.core.requests import Request, shorten
from pipelines.posture.errors import PostureError


class ImportConfig(enum.StrEnum):
    """INSERT skips what the script already created; REPLACE_ALL replaces the script-created set."""

    INSERT = "INSERT"
    REPLACE_ALL = "REPLACE_ALL"


ServiceName = Annotated[str, StringConstraints(min_length=1)]


class ExportRequest(Request):
    """The seed's export request body: `{"serviceNames": [...]}`; absent or null means every service."""

    error = PostureError

    service_names: list[ServiceName] | None = Field(
        default=None, alias="serviceNames", description="Services to export (filtered in SQL); unset: every service."
    )


class ImportRequest(Request):
    """The seed's import request options: what to import, and how."""

    error = PostureError

    config: ImportConfig = Field(
        default=ImportConfig.REPLACE_ALL, description="INSERT (skip what exists) or REPLACE_ALL."
    )
    batch_size: int = Field(
        default=500, ge=1, le=100_000, alias="batchSize", description="Objects per round of lookups and writes."
    )
    export_key: str | None = Field(
        default=None, alias="exportKey", description="Object-store key of an export document; unset: the latest export."
    )
    uploaded_file: str | None = Field(
        default=None,
        alias="uploadedFile",
        description="Path of an export document file (e.g. from another environment), under an allowed folder.",
    )

    @field_validator("uploaded_file")
    @classmethod
    def _one_source(cls, path: str | None, info: ValidationInfo) -> str | None:
        export_key = info.data.get("export_key")
        if path and export_key:
            raise ValueError(f"exportKey {shorten(export_key)} is set too: set exportKey or uploadedFile, not both")
        return path
