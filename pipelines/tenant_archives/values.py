"""How a value of each column kind is written to an archive's CSV and read back.

Archive text: bytes base64, timestamps ISO 8601 in UTC with microseconds and `+00:00`, booleans
`true`/`false`, JSON compact. A NULL is None here and an empty unquoted field in the file
(`pipelines.core.rfc4180`). On PostgreSQL the same text is produced by the server (`pg_text`), so
`COPY ... TO STDOUT` output needs no per-value work in Python, and a restore into PostgreSQL lets
the server read the text back (`pg_conversion`): its CSV input takes the archive's uuids, ISO
timestamps with offset, `true`/`false`, JSON, numbers and NULL-vs-`""` as they are; only bytes
(base64, where PostgreSQL reads `\\x` hex) and timestamps into a column without time zone are converted.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from pipelines.core.database import TZDateTime

UTC = dt.UTC
_TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%f+00:00"
_PG_TIMESTAMP = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'

Encoder = Callable[[Any], str]
Decoder = Callable[[str], Any]


def _timestamp_text(value: dt.datetime) -> str:
    # Naive values come from SQLite, where TZDateTime stores UTC.
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime(_TIMESTAMP)


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_ENCODERS: dict[str, Encoder] = {
    "json": _json_text,
    "bytes": lambda v: base64.b64encode(bytes(v)).decode("ascii"),
    "timestamp": _timestamp_text,
    "date": lambda v: v.isoformat(),
    "boolean": lambda v: "true" if v else "false",
    "uuid": str,
    "integer": str,
    "float": repr,
    "numeric": str,
    "text": str,
}


def encoder(kind: str) -> Encoder:
    """Value (never None) -> archive text."""
    return _ENCODERS[kind]


def _boolean(text: str) -> bool:
    if text in ("true", "t"):
        return True
    if text in ("false", "f"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64: {exc}") from None


def _timestamp(aware: bool) -> Decoder:
    def parse(text: str) -> dt.datetime:
        value = dt.datetime.fromisoformat(text)
        if value.tzinfo is None:
            raise ValueError(f"timestamp {text!r} has no offset")
        value = value.astimezone(UTC)
        return value if aware else value.replace(tzinfo=None)

    return parse


def decoder(kind: str, column: sa.Column, dialect: str) -> Decoder:
    """Archive text (never None) -> the value to insert into `column` on `dialect`."""
    if kind == "timestamp":
        # TZDateTime takes aware values on both backends (and stores UTC); a plain column as its dialect wants.
        zoned = isinstance(column.type, TZDateTime) or (dialect == "postgresql" and bool(getattr(column.type, "timezone", False)))
        return _timestamp(zoned)
    return {
        "json": json.loads,
        "bytes": _bytes,
        "date": dt.date.fromisoformat,
        "boolean": _boolean,
        "uuid": uuid.UUID,
        "integer": int,
        "float": float,
        "numeric": Decimal,
        "text": str,
    }[kind]


def pg_text(kind: str, column: sa.Column) -> sa.ColumnElement:
    """A PostgreSQL expression giving the archive text of `column` (NULL stays NULL)."""
    if kind == "bytes":
        # encode(..., 'base64') wraps lines at 76 characters; the archive holds one line.
        return sa.func.translate(sa.func.encode(column, "base64"), "\n", "")
    if kind == "timestamp":
        utc = sa.func.timezone("UTC", column) if getattr(column.type, "timezone", False) else column
        return sa.func.to_char(utc, _PG_TIMESTAMP)
    if kind == "date":
        return sa.func.to_char(column, "YYYY-MM-DD")
    if kind == "boolean":
        return sa.case((column.is_(True), "true"), (column.is_(False), "false"))
    return column


def pg_conversion(kind: str, column: sa.Column) -> Callable[[sa.ColumnElement], sa.ColumnElement] | None:
    """The PostgreSQL expression turning a column's archive text into its value, for the kinds the
    server's CSV input does not read as they are (None: loaded as it is)."""
    if kind == "bytes":
        return lambda text: sa.func.decode(text, "base64")
    if kind == "timestamp" and not (isinstance(column.type, TZDateTime) or getattr(column.type, "timezone", False)):
        # The offset is applied, not dropped (the text says +00:00 but need not): UTC wall time, as `decoder`.
        return lambda text: sa.func.timezone("UTC", sa.cast(text, sa.DateTime(timezone=True)))
    return None
