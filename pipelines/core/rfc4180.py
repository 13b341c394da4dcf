"""RFC 4180 CSV: UTF-8, CRLF record ends, fields quoted when they hold `,` `"` CR or LF, quotes doubled.

One extension everyone here relies on: a NULL is an empty unquoted field and an empty string is `""`,
so the two survive a round trip (this is also what PostgreSQL's `COPY ... WITH CSV` writes). Python's
`csv` module cannot tell them apart, hence this module.

Values are rendered as text: bytes as base64, datetimes as ISO 8601 with offset, JSON values compact.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any

CRLF = "\r\n"
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')
_FIELD = re.compile(r'"((?:[^"]|"")*)"|([^,"\r\n]*)')


def format_value(value: Any) -> str | None:
    """The text of one value, or None for NULL."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be written with an offset")
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    raise TypeError(f"cannot write a {type(value).__name__} to CSV: {value!r}")


def format_field(text: str | None) -> str:
    if text is None:
        return ""
    if text == "" or _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def format_row(values: Sequence[Any]) -> str:
    """One CSV record, CRLF included."""
    return ",".join(format_field(format_value(v)) for v in values) + CRLF


def write_rows(out: IO[str], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a header and rows to a text stream opened with newline=''; returns the row count."""
    out.write(format_row(header))
    count = 0
    for row in rows:
        out.write(format_row(row))
        count += 1
    return count


class CsvFormatError(ValueError):
    pass


def parse_record(line: str, line_number: int = 0) -> list[str | None]:
    """Fields of one record (without its line end): None for an empty unquoted field."""
    fields: list[str | None] = []
    pos, end = 0, len(line)
    while True:
        match = _FIELD.match(line, pos)
        if match is None:  # pragma: no cover - the pattern matches the empty string
            raise CsvFormatError(f"line {line_number}: cannot parse field at column {pos + 1}")
        quoted, plain = match.groups()
        if quoted is not None:
            fields.append(quoted.replace('""', '"'))
        else:
            fields.append(plain if plain != "" else None)
        pos = match.end()
        if pos == end:
            return fields
        if line[pos] != ",":
            raise CsvFormatError(
                f"line {line_number}: unexpected {line[pos]!r} at column {pos + 1} (a quote inside an unquoted field?)"
            )
        pos += 1
        if pos == end:
            fields.append(None)
            return fields


def read_records(source: IO[str]) -> Iterator[list[str | None]]:
    """Records of a text stream opened with newline='', streamed; quoted fields may span lines."""
    pending = ""
    start_line = 0
    for number, line in enumerate(source, start=1):
        if not pending:
            start_line = number
        pending += line
        if pending.count('"') % 2:
            continue  # inside a quoted field that goes on on the next line
        record = pending[:-2] if pending.endswith(CRLF) else pending.rstrip("\n").rstrip("\r")
        pending = ""
        yield parse_record(record, start_line)
    if pending:
        raise CsvFormatError(f"line {start_line}: a quoted field is never closed")


def _quotes_balanced(lines: list[bytes]) -> bool:
    """Every line holds an even number of quotes: then none of them continues a quoted field."""
    return not any(line.count(b'"') & 1 for line in lines)


def with_first_field(chunks: Iterable[bytes], expected: str, replacement: str) -> Iterator[bytes]:
    """The CSV document in `chunks` (bytes, any split) with every record's first field, which must
    be `expected` unquoted, made `replacement` (unquoted too: neither may need quotes); the header
    record is passed as it is. Raises `CsvFormatError` naming the first record that does not start
    with `expected`.

    A record starts on a line that does not continue a quoted field: one whose predecessors hold an
    even number of quotes (quotes inside a field are doubled). A block of lines where no line has an
    odd number of quotes is done with `bytes.replace`; others line by line.
    """
    old, new = (expected + ",").encode(), (replacement + ",").encode()
    carry, inside, number = b"", False, 0
    pieces = iter(chunks)
    while True:
        chunk = next(pieces, None)
        if chunk is None:
            if not carry:
                return
            block, carry = carry, b""
        else:
            block = carry + chunk
            cut = block.rfind(b"\n") + 1
            if not cut:
                carry = block
                continue
            block, carry = block[:cut], block[cut:]
        lines = block.split(b"\n")
        ends = len(lines) - 1  # line ends in the block
        if not inside and number and _quotes_balanced(lines):
            if block.startswith(old) and block.count(b"\n" + old) == ends - (chunk is not None):
                number += ends + (chunk is None)
                yield new + block[len(old) :].replace(b"\n" + old, b"\n" + new)
                continue
        for at, line in enumerate(lines):
            if at == ends and not line:
                break  # after the block's last line end
            if not inside:
                number += 1
                if number > 1:
                    if not line.startswith(old):
                        raise CsvFormatError(f"record {number}: its first field is not {expected!r}")
                    lines[at] = new + line[len(old) :]
            if line.count(b'"') & 1:
                inside = not inside
        yield b"\n".join(lines)
