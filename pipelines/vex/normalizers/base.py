"""What every VEX normalizer shares: the `Statement` it produces, the OpenVEX vocabulary, and checked
access to untrusted JSON.

A normalizer is a pure function from a parsed document to a `Normalized` result. Problems with the
document as a whole raise `DocumentError` (the caller turns it into a `NormalizeFailure`); a problem
with one statement (an unresolvable product, a missing vulnerability id) becomes a skip reason and the
other statements of the document are kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# OpenVEX's status and justification vocabulary: every format is mapped onto it.
STATUSES = ("not_affected", "affected", "fixed", "under_investigation")
JUSTIFICATIONS = (
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
)
FORMATS = ("csaf", "cyclonedx", "openvex")
# Column widths of `vex_statements`: a longer id or key is a skipped statement, not a failed batch.
MAX_VULNERABILITY_ID = 200
MAX_PRODUCT_KEY = 2000
# Skip reasons kept per document (the rest are counted): a large document's thousands of
# superseded statements must not hold thousands of strings.
MAX_REASONS_KEPT = 100


class DocumentError(ValueError):
    """The document as a whole cannot be normalized; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One claim: `status` of `vulnerability_id` for `product_key`, as a document states it."""

    vulnerability_id: str
    product_key: str
    status: str
    justification: str | None = None
    detail: str | None = None
    timestamp: dt.datetime | None = None
    subcomponents: tuple[str, ...] = ()
    impact: str | None = None
    action: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.vulnerability_id, self.product_key)


@dataclass
class Normalized:
    """A document's statements (with the document's own timestamp), and why the statements that were
    dropped were dropped."""

    format: str
    statements: list[Statement] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    document_timestamp: dt.datetime | None = None
    # Statements skipped in all (`skipped` keeps the first MAX_REASONS_KEPT reasons).
    skipped_count: int = 0

    def add(self, statement: Statement, where: str, *, supersede: bool = False) -> None:
        """Keep one statement per (vulnerability, product). A repeat is a skip, not a crash; with
        `supersede` (OpenVEX: statements form a sequence, each overriding the earlier ones) the later
        statement replaces the earlier one: later by timestamp, the later in the document on a tie or
        where a timestamp is missing."""
        if len(statement.vulnerability_id) > MAX_VULNERABILITY_ID or len(statement.product_key) > MAX_PRODUCT_KEY:
            self._reason(f"{where}: vulnerability id or product key longer than the table allows")
            return
        index = self._seen.get(statement.key)
        if index is None:
            self._seen[statement.key] = len(self.statements)
            self.statements.append(statement)
            return
        label = f"{statement.vulnerability_id} / {statement.product_key}"
        if not supersede:
            self._reason(f"{where}: duplicate statement for {label}")
            return
        earlier = self.statements[index]
        if earlier.timestamp and statement.timestamp and statement.timestamp < earlier.timestamp:
            self._reason(f"{where}: superseded by a later statement for {label}")
            return
        self._reason(f"{where}: supersedes an earlier statement for {label}")
        self.statements[index] = statement

    def skip(self, where: str, reason: str) -> None:
        self._reason(f"{where}: {reason}")

    def shared(self, value: str | None) -> str | None:
        """One string object per distinct value in this document: a large document names the same
        products and subcomponents in thousands of statements, and each row must not own a copy."""
        if value is None:
            return None
        return self._strings.setdefault(value, value)

    def finish(self) -> Normalized:
        """Drop what `add` and `shared` keep to find repeats: a large document's statements are
        turned into rows next, and the index of its pairs must not stay beside them."""
        self._seen, self._strings = {}, {}
        return self

    def _reason(self, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_REASONS_KEPT:
            self.skipped.append(reason)

    def __post_init__(self) -> None:
        self._seen: dict[tuple[str, str], int] = {s.key: i for i, s in enumerate(self.statements)}
        self._strings: dict[str, str] = {}


@dataclass(frozen=True)
class NormalizeFailure:
    """The document could not be normalized at all (not JSON, no known format, wrong structure)."""

    reason: str
    format: str | None = None


# Checked access to parsed JSON: a wrong type is a DocumentError naming the path, never a TypeError.


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DocumentError(f"{where} is {_kind(value)}, expected an object")
    return value


def as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise DocumentError(f"{where} is {_kind(value)}, expected a list")
    return value


def optional_list(value: Any, where: str) -> list[Any]:
    return [] if value is None else as_list(value, where)


def text(value: Any) -> str | None:
    """A non-blank string, stripped; anything else is None.

    NUL characters and lone surrogates (valid in JSON, refused by PostgreSQL) are dropped / replaced.
    """
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8").strip()
    return cleaned or None


def objects(value: Any, where: str, normalized: Normalized) -> Iterator[tuple[str, dict[str, Any]]]:
    """The object items of an optional list, each with its path; a non-object item is a skip."""
    for index, item in enumerate(optional_list(value, where)):
        path = f"{where}[{index}]"
        if isinstance(item, dict):
            yield path, item
        else:
            normalized.skip(path, f"is {_kind(item)}, expected an object")


def strings(value: Any) -> list[str]:
    """The non-blank strings of a list (anything else in it is ignored)."""
    if not isinstance(value, list):
        return []
    return [s for s in (text(v) for v in value) if s is not None]


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime; unparsable or zone-less values are None.

    Fractions beyond microseconds (OpenVEX writes nanoseconds) are truncated.
    """
    raw = text(value)
    if raw is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    try:
        return parsed.astimezone(dt.timezone.utc)
    except OverflowError:
        return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )
