"""The files of a batch under `imports/inbox/{batch_id}/`: `objects` and `links`, as JSON lines
(`objects.jsonl`) or RFC 4180 CSV with a header (`objects.csv`), read as a stream and validated record by
record against the rows of `requests.py` (objects: `pendingObjectId`, `objectType`, then the type's
fields; links: `pendingLinkId`, `linkType`, `linkTag`, `objectId`, `referenceId`,
`separateDependentLinkCreate`). Every problem names the file, the line, the field and the value.
"""

from __future__ import annotations

import heapq
import io
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pipelines.core.object_store import ObjectStore
from pipelines.core.requests import shorten
from pipelines.core.rfc4180 import CsvFormatError, read_records
from pipelines.import_batches.creators import Registry
from pipelines.import_batches.errors import ImportBatchError
from pipelines.import_batches.requests import LINKS, PendingLink, check_batch_id, seed_names

INBOX = "imports/inbox/"
FORMATS = ("jsonl", "csv")
MAX_ERRORS = 1000


def batch_prefix(batch_id: str) -> str:
    return f"{INBOX}{check_batch_id(batch_id)}/"


def batch_keys(store: ObjectStore, batch_id: str) -> dict[str, str]:
    """The batch's file per kind (`objects`, `links`); a batch without an objects file is an error."""
    prefix = batch_prefix(batch_id)
    found: dict[str, str] = {}
    for info in store.list(prefix):
        name = info.key[len(prefix) :]
        kind, _, fmt = name.partition(".")
        if kind in ("objects", "links") and fmt in FORMATS:
            if kind in found:
                raise ImportBatchError(f"batch {batch_id}: both {found[kind]} and {info.key}; keep one")
            found[kind] = info.key
    if "objects" not in found:
        raise ImportBatchError(
            f"batch {batch_id}: no objects file under {prefix} (expected objects.jsonl or objects.csv)"
        )
    return found


@dataclass(slots=True)
class Record:
    """A record of a file. A JSON line comes as its `text` (`values` None): the validators parse and
    validate it in one pass (pydantic's parser) and parse it apart only when it fails, for the messages."""

    file: str
    line: int
    values: dict[str, Any] | None
    text: str | None = None


def parsed(record: Record) -> Record:
    """The record with its `values` (a JSON line parsed; not JSON or not an object: the one problem)."""
    if record.values is not None:
        return record
    file, number = record.file, record.line
    try:
        values = json.loads(record.text or "")
    except json.JSONDecodeError as exc:
        return Record(file, number, {"": ImportBatchError(f"{file} line {number}: not JSON ({exc.msg})")})
    except RecursionError:
        return Record(file, number, {"": ImportBatchError(f"{file} line {number}: JSON nested too deep")})
    if not isinstance(values, dict):
        values = {"": ImportBatchError(f"{file} line {number}: not a JSON object")}
    return Record(file, number, values)


def _validated_text(record: Record, adapter: TypeAdapter, context: dict[str, Any] | None = None) -> Any:
    """The valid row of a JSON line straight from its text, or None (then validate its parsed values,
    which names every problem as before)."""
    if record.text is None:
        return None
    try:
        return adapter.validate_json(record.text, context=context)
    except ValidationError:
        return None


def file_name(key: str) -> str:
    """The name a batch file's problems give it (`objects.jsonl`, `links.csv`)."""
    return key.rsplit("/", 1)[-1]


@contextmanager
def open_records(store: ObjectStore, key: str) -> Iterator[Iterator[Record]]:
    """The records of a JSON-lines or CSV file as dicts, with their line numbers (streamed)."""
    file = file_name(key)
    with store.open_read(key) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        yield _utf8_records(file, _csv_records(file, text) if key.endswith(".csv") else _jsonl_records(file, text))


def _utf8_records(file: str, records: Iterator[Record]) -> Iterator[Record]:
    """The records, or the one error of a file that is not UTF-8 text (decoded block by block, so no
    line can be named)."""
    try:
        yield from records
    except UnicodeDecodeError as exc:
        raise ImportBatchError(f"{file}: not UTF-8 text ({exc.reason}: {shorten(exc.object[exc.start:exc.end])})") from None


def _jsonl_records(file: str, text: io.TextIOBase) -> Iterator[Record]:
    for number, line in enumerate(text, start=1):
        if line.strip():
            yield Record(file, number, None, line)


def _csv_records(file: str, text: io.TextIOBase) -> Iterator[Record]:
    records = read_records(text)
    try:
        header = next(records, None)
        if header is None:
            return
        names = [h or "" for h in header]
        for number, fields in enumerate(records, start=2):
            if len(fields) != len(names):
                problem = ImportBatchError(f"{file} line {number}: {len(fields)} fields, the header has {len(names)}")
                yield Record(file, number, {"": problem})
                continue
            yield Record(file, number, {n: v for n, v in zip(names, fields) if v is not None})
    except CsvFormatError as exc:
        raise ImportBatchError(f"{file}: {exc}") from None


class Problems:
    """Errors of a batch, each naming file, line, field and value; all are counted, the first MAX_ERRORS
    kept, listed file by file (`next_file`) in the order of their lines: the repeats a file's COPY is
    checked for afterwards, in SQL, come among the problems its records had."""

    def __init__(self) -> None:
        self._first: list[tuple[int, int, int, str]] = []  # a heap of the kept ones, by negated place
        self._file = 0
        self.count = 0

    def next_file(self) -> None:
        self._file += 1

    def add(self, message: str, line: int = 0) -> None:
        self.count += 1
        place = (-self._file, -line, -self.count, message)
        if len(self._first) < MAX_ERRORS:
            heapq.heappush(self._first, place)
        elif place > self._first[0]:  # earlier than the last one kept
            heapq.heapreplace(self._first, place)

    def __bool__(self) -> bool:
        return self.count > 0

    @property
    def messages(self) -> list[str]:
        return [message for *_, message in sorted(self._first, reverse=True)]

    def listed(self) -> list[str]:
        more = self.count - len(self._first)
        return self.messages + ([f"... and {more} more errors"] if more else [])


def row_problems(record: Record, error: ValidationError, what: str, allowed: Iterable[str]) -> list[str]:
    """pydantic's errors on one row, one line each: file, line, field and value (shortened)."""
    where, values = f"{record.file} line {record.line}", record.values
    problems = []
    for problem in error.errors(include_url=False):
        kind, loc, value = problem["type"], problem["loc"], problem.get("input")
        name = str(loc[-1]) if loc else ""
        if kind in ("union_tag_not_found", "union_tag_invalid") or (kind == "literal_error" and name == "objectType"):
            name, value = "objectType", values.get("objectType")
        if kind == "missing" or (value in (None, "") and kind not in ("extra_forbidden",)):
            problems.append(f"{where}: {name} is missing")
        elif kind == "extra_forbidden":
            problems.append(
                f"{where}: field {name!r} (value {shorten(value)}) is not a field of {what} "
                f"(expected: {', '.join(sorted(allowed))})"
            )
        elif kind in ("string_type", "union_tag_invalid", "literal_error") and not isinstance(value, str):
            problems.append(f"{where}: {name} {shorten(value)} is not a string")
        elif kind == "string_too_long":
            problems.append(
                f"{where}: {name} {value[:40]!r}... is longer than {problem['ctx']['max_length']} characters"
            )
        elif kind in ("union_tag_invalid", "literal_error") and name == "objectType":
            problems.append(f"{where}: objectType {shorten(value)} is not a known type (one of: {what})")
        elif kind == "string_pattern_mismatch":  # the one pattern of a text: no NUL
            problems.append(f"{where}: {name} {shorten(value)} contains a NUL character (\\u0000)")
        elif kind == "literal_error":
            problems.append(f"{where}: {name} {shorten(value)} is not {' or '.join(_expected(problem))}")
        else:
            problems.append(f"{where}: {name} {shorten(value)} {_problem_text(problem)}")
    return problems


def _expected(problem: dict[str, Any]) -> list[str]:
    return [part.strip(" '") for part in re.split(r",| or ", problem["ctx"]["expected"]) if part.strip(" '")]


def _problem_text(problem: dict[str, Any]) -> str:
    message = str(problem["msg"])
    for lead in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(lead)
    return message[:1].lower() + message[1:]


def _record_error(record: Record, problems: Problems) -> bool:
    """A line that is no record (not JSON, not an object, a CSV row of the wrong width)."""
    error = record.values.get("")
    if isinstance(error, ImportBatchError):
        problems.add(str(error), record.line)
        return True
    return False


class ObjectValidator:
    """Turns object records into `import_pending_objects` rows; bad fields are problems. It keeps nothing
    per record: the repeats (of a pendingObjectId, of a natural key in a type) are found in SQL after the
    COPY and named here (`repeated_id`, `repeated_key`)."""

    columns = ("pending_object_id", "object_type", "natural_key", "fields", "line")  # a row's keys, in order

    def __init__(self, registry: Registry, problems: Problems):
        self.registry, self.problems = registry, problems
        self.rows = registry.object_rows
        self.types = {name: (t.key, t.fields) for name, t in registry.object_types.items()}
        self.known = ", ".join(registry.object_types)

    def row(self, record: Record) -> dict[str, Any] | None:
        valid = _validated_text(record, self.rows)
        if valid is None:
            record = parsed(record)
            if _record_error(record, self.problems):
                return None
            try:
                valid = self.rows.validate_python(record.values)
            except ValidationError as exc:
                self._refused(record, exc)
                return None
        type_name = valid["object_type"]
        key, names = self.types[type_name]
        return {
            "pending_object_id": valid["pending_object_id"],
            "object_type": type_name,
            "natural_key": valid[key],
            "fields": {name: valid[name] for name in names},
            "line": record.line,
        }

    def _refused(self, record: Record, error: ValidationError) -> None:
        type_name = record.values.get("objectType")
        object_type = self.registry.object_types.get(type_name) if isinstance(type_name, str) else None
        if object_type is None:
            what, allowed = self.known, ()
        else:
            what, allowed = object_type.name, seed_names(object_type.record)
        for problem in row_problems(record, error, what, allowed):
            self.problems.add(problem, record.line)

    def repeated_id(self, file: str, line: int, pending_id: str, first: int) -> None:
        self.problems.add(f"{file} line {line}: pendingObjectId {pending_id!r} repeats line {first}", line)

    def repeated_key(self, file: str, line: int, type_name: str, natural_key: str, first: int) -> None:
        key = self.types[type_name][0]
        self.problems.add(f"{file} line {line}: {type_name} {key} {natural_key!r} repeats line {first}", line)


class LinkValidator:
    """Turns link records into `import_pending_links` rows (references are checked later, in SQL). It
    keeps nothing per record: a repeated pendingLinkId is found in SQL after the COPY (`repeated_id`)."""

    columns = (  # a row's keys, in order
        "pending_link_id", "link_type", "link_tag", "object_id", "reference_id", "separate_dependent_link_create", "line"
    )
    allowed = seed_names(PendingLink)

    def __init__(self, registry: Registry, problems: Problems):
        self.registry, self.problems = registry, problems
        self.context = {"registry": registry}

    def row(self, record: Record) -> dict[str, Any] | None:
        valid = _validated_text(record, LINKS, self.context)
        if valid is None:
            record = parsed(record)
            if _record_error(record, self.problems):
                return None
            try:
                valid = LINKS.validate_python(record.values, context=self.context)
            except ValidationError as exc:
                for problem in row_problems(record, exc, "a link", self.allowed):
                    self.problems.add(problem, record.line)
                return None
        return {
            "pending_link_id": valid["pending_link_id"],
            "link_type": valid["link_type"],
            "link_tag": valid["link_tag"],
            "object_id": valid["object_id"],
            "reference_id": valid["reference_id"],
            "separate_dependent_link_create": valid.get("separate_dependent_link_create", False),
            "line": record.line,
        }

    def repeated_id(self, file: str, line: int, pending_id: str, first: int) -> None:
        self.problems.add(f"{file} line {line}: pendingLinkId {pending_id!r} repeats line {first}", line)
