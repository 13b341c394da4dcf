"""The vex domain's requests: the one definition of each request's fields, choices, bounds and rules.

The launchpad (the assets' config), the sensors' run requests, the CLI and the plain logic all take
these models; `Request.parse` turns plain data into one, or raises `VexError` with one line naming
the field and the value.
"""

from __future__ import annotations

import datetime as dt
from pydantic import Field, field_validator, model_validator

from pipelines.core.requests import Request
from pipelines.vex.errors import VexError

INBOX_PREFIX = "vex/inbox/"
DEFAULT_BATCH_SIZE = 100
# Keeps a write's DELETE ... IN (...) under every backend's parameter limit, see `backfill._PageWrite.full`.
MAX_BATCH_SIZE = 10_000


def parse_timestamp_option(value: str) -> dt.datetime:
    """An ISO 8601 timestamp; UTC when it names no zone (the runbook's default). ValueError otherwise."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("is not an ISO 8601 timestamp (e.g. 2024-03-01T00:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _canonical_timestamp(value: str | None) -> str | None:
    return None if value is None else parse_timestamp_option(value).astimezone(dt.timezone.utc).isoformat()


class LandingRequest(Request):
    """Land raw VEX documents: the object-store inbox (`prefix`), or the local `paths` instead."""

    error = VexError

    paths: list[str] = Field(
        default_factory=list, description="Local files or folders to land instead of the object-store inbox."
    )
    prefix: str = Field(default=INBOX_PREFIX, description="Object-store prefix of the inbox (a relative key).")
    provider: str | None = Field(default=None, description="Provider of the documents; unset: read from each.")

    @field_validator("prefix")
    @classmethod
    def _prefix_inside_the_store(cls, value: str) -> str:
        # The prefix is joined to the store's root: an absolute path or `..` would walk outside it.
        parts = value.split("/")
        if not value or value.startswith("/") or "\\" in value or "\x00" in value or any(
            part in (".", "..") for part in parts
        ) or "" in parts[:-1]:
            raise ValueError("is not a relative object-store prefix like 'vex/inbox/' (no leading '/', no '..')")
        return value

    @field_validator("provider")
    @classmethod
    def _provider_is_text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        cleaned = value.strip()
        if not cleaned or "\x00" in cleaned or len(cleaned) > 200:
            raise ValueError("must be 1 to 200 characters, without NUL")
        try:
            cleaned.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("is not valid UTF-8 text") from None
        return cleaned


class BackfillRequest(Request):
    """`backfill-statements`: normalize the raw documents into statements (the seed's runbook options)."""

    error = VexError

    force: bool = Field(default=False, description="Reprocess documents already done, replacing their statements.")
    batch_size: int = Field(
        default=DEFAULT_BATCH_SIZE,
        alias="batchSize",
        ge=1,
        le=MAX_BATCH_SIZE,
        description="Raw documents per batch (one transaction).",
    )
    max_documents: int | None = Field(
        default=None, alias="maxDocuments", ge=0, description="Evaluate at most this many raw documents."
    )
    retrieved_since: str | None = Field(
        default=None,
        alias="retrievedSince",
        description="ISO 8601 (UTC unless it names a zone): only documents retrieved on or after it.",
    )

    @field_validator("retrieved_since")
    @classmethod
    def _aware_since(cls, value: str | None) -> str | None:
        return _canonical_timestamp(value)

    @property
    def since(self) -> dt.datetime | None:
        """`retrievedSince` as an aware datetime."""
        return None if self.retrieved_since is None else dt.datetime.fromisoformat(self.retrieved_since)


class RollbackRequest(Request):
    """Delete the statements a backfill inserted: those of one run, or those inserted in a window."""

    error = VexError

    run_id: str | None = Field(default=None, alias="runId", description="The Dagster run whose statements go.")
    inserted_since: str | None = Field(
        default=None, alias="insertedSince", description="ISO 8601: statements inserted on or after it."
    )
    inserted_until: str | None = Field(
        default=None, alias="insertedUntil", description="ISO 8601: statements inserted before it."
    )
    dry_run: bool = Field(default=False, alias="dryRun", description="Print what would be removed; remove nothing.")

    @field_validator("inserted_since", "inserted_until")
    @classmethod
    def _aware_window(cls, value: str | None) -> str | None:
        return _canonical_timestamp(value)

    @model_validator(mode="after")
    def _one_selection(self) -> RollbackRequest:
        window = (self.inserted_since, self.inserted_until)
        if self.run_id is not None and any(v is not None for v in window):
            raise ValueError("give runId, or insertedSince and insertedUntil, not both")
        if self.run_id is None and None in window:
            raise ValueError("give runId, or both insertedSince and insertedUntil")
        if self.run_id is None and self.window[0] >= self.window[1]:
            raise ValueError(f"insertedSince {self.inserted_since} is not before insertedUntil {self.inserted_until}")
        return self

    @property
    def window(self) -> tuple[dt.datetime, dt.datetime]:
        assert self.inserted_since is not None and self.inserted_until is not None
        return dt.datetime.fromisoformat(self.inserted_since), dt.datetime.fromisoformat(self.inserted_until)
