"""The files of a batch under `imports/inbox/{batch_id}/`: `objects` and `links`, as JSON lines
(`objects.jsonl`) or RFC 4180 CSV with a header (`objects.csv`), read as a stream and validated record by
record. Every problem names the file, the line, the field and the value.

objects: `pendingObjectId`, `objectType`, then the type's fields (e.g. `name` of a service).
links: `pendingLinkId`, `linkType` (`Dependent` | `Independent`), `linkTag`, `objectId` (the child),
`referenceId` (the parent), `separateDependentLinkCreate` (true/false, default false).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pipelines.core.object_store import ObjectStore
from pipelines.core.rfc4180 import CsvFormatError, read_records
from pipelines.import_batches.creators import REGISTRY, Registry
from pipelines.import_batches.errors import ImportBatchError
from pipelines.import_batches.tables import LINK_TYPES

INBOX = "imports/inbox/"
FORMATS = ("jsonl", "csv")
BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ID_LENGTH = 200
LINK_FIELDS = ("pendingLinkId", "linkType", "linkTag", "objectId", "referenceId", "separateDependentLinkCreate")
ALLOWED_LINK_FIELDS = frozenset(LINK_FIELDS)
MAX_ERRORS = 1000


def check_batch_id(batch_id: str) -> str:
    if not BATCH_ID.match(batch_id or ""):
        raise ImportBatchError(
            f"batch id {batch_id!r} is not valid: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return batch_id


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
    file: str
    line: int
    values: dict[str, Any]


@contextmanager
def open_records(store: ObjectStore, key: str) -> Iterator[Iterator[Record]]:
    """The records of a JSON-lines or CSV file as dicts, with their line numbers (streamed)."""
    file = key.rsplit("/", 1)[-1]
    with store.open_read(key) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        yield _csv_records(file, text) if key.endswith(".csv") else _jsonl_records(file, text)


def _jsonl_records(file: str, text: io.TextIOBase) -> Iterator[Record]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            values = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Record(file, number, {"": ImportBatchError(f"{file} line {number}: not JSON ({exc.msg})")})
            continue
        if not isinstance(values, dict):
            values = {"": ImportBatchError(f"{file} line {number}: not a JSON object")}
        yield Record(file, number, values)


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
    """Errors of a batch, each naming file, line, field and value; kept up to MAX_ERRORS."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_ERRORS:
            self.messages.append(message)

    def __bool__(self) -> bool:
        return self.count > 0

    def listed(self) -> list[str]:
        more = self.count - len(self.messages)
        return self.messages + ([f"... and {more} more errors"] if more else [])


def _text(record: Record, name: str, problems: Problems, max_length: int = ID_LENGTH) -> str | None:
    value = record.values.get(name)
    if type(value) is str and 0 < len(value) <= max_length:  # the common case, checked once
        return value
    where = f"{record.file} line {record.line}"
    if value is None or value == "":
        problems.add(f"{where}: {name} is missing")
        return None
    if not isinstance(value, str):
        problems.add(f"{where}: {name} {value!r} is not a string")
        return None
    if len(value) > max_length:
        problems.add(f"{where}: {name} {value[:40]!r}... is longer than {max_length} characters")
        return None
    return value


def _unknown_fields(record: Record, allowed: set[str] | frozenset[str], what: str, problems: Problems) -> bool:
    if "" in record.values and isinstance(record.values[""], ImportBatchError):
        problems.add(str(record.values[""]))
        return True
    if record.values.keys() <= allowed:
        return False
    extra = sorted(set(record.values) - allowed)
    for name in extra:
        problems.add(
            f"{record.file} line {record.line}: field {name!r} (value {record.values[name]!r}) is not a field "
            f"of {what} (expected: {', '.join(sorted(allowed))})"
        )
    return bool(extra)


def _bool(record: Record, name: str, problems: Problems) -> bool:
    value = record.values.get(name)
    if value is None or value is False or value is True:
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", ""):
        return value.lower() == "true"
    problems.add(f"{record.file} line {record.line}: {name} {value!r} is not true or false")
    return False


class ObjectValidator:
    """Turns object records into `import_pending_objects` rows; repeats and bad fields are problems."""

    columns = ("pending_object_id", "object_type", "natural_key", "fields", "line")  # a row's keys, in order

    def __init__(self, registry: Registry, problems: Problems):
        self.registry, self.problems = registry, problems
        self.seen_ids: dict[str, int] = {}
        self.seen_keys: dict[tuple[str, str], int] = {}
        self.allowed = {t.name: {"pendingObjectId", "objectType", *t.fields} for t in registry.object_types.values()}

    def row(self, record: Record) -> dict[str, Any] | None:
        problems, where = self.problems, f"{record.file} line {record.line}"
        pending_id = _text(record, "pendingObjectId", problems)
        type_name = _text(record, "objectType", problems, 50)
        object_type = self.registry.object_types.get(type_name or "")
        if type_name and object_type is None:
            known = ", ".join(self.registry.object_types)
            problems.add(f"{where}: objectType {type_name!r} is not a known type (one of: {known})")
        if object_type is None:
            return None
        if _unknown_fields(record, self.allowed[object_type.name], type_name, problems):
            return None
        fields = {name: _text(record, name, problems, length) for name, length in object_type.fields.items()}
        if pending_id is None or any(v is None for v in fields.values()):
            return None
        if pending_id in self.seen_ids:
            problems.add(f"{where}: pendingObjectId {pending_id!r} repeats line {self.seen_ids[pending_id]}")
            return None
        self.seen_ids[pending_id] = record.line
        natural_key = fields[object_type.key]
        first = self.seen_keys.setdefault((type_name, natural_key), record.line)
        if first != record.line:
            problems.add(f"{where}: {type_name} {object_type.key} {natural_key!r} repeats line {first}")
            return None
        return {
            "pending_object_id": pending_id,
            "object_type": type_name,
            "natural_key": natural_key,
            "fields": fields,
            "line": record.line,
        }


class LinkValidator:
    """Turns link records into `import_pending_links` rows (references are checked later, in SQL)."""

    columns = (  # a row's keys, in order
        "pending_link_id", "link_type", "link_tag", "object_id", "reference_id", "separate_dependent_link_create", "line"
    )

    def __init__(self, registry: Registry, problems: Problems):
        self.registry, self.problems = registry, problems
        self.seen_ids: dict[str, int] = {}

    def row(self, record: Record) -> dict[str, Any] | None:
        problems, where = self.problems, f"{record.file} line {record.line}"
        if _unknown_fields(record, ALLOWED_LINK_FIELDS, "a link", problems):
            return None
        pending_id = _text(record, "pendingLinkId", problems)
        link_type = _text(record, "linkType", problems, 12)
        if link_type is not None and link_type not in LINK_TYPES:
            problems.add(f"{where}: linkType {link_type!r} is not Dependent or Independent")
            link_type = None
        tag = _text(record, "linkTag", problems, 50)
        if tag is not None and tag not in self.registry.link_tags:
            problems.add(f"{where}: linkTag {tag!r} is not a known tag (one of: {', '.join(self.registry.link_tags)})")
            tag = None
        child, parent = _text(record, "objectId", problems), _text(record, "referenceId", problems)
        separate = _bool(record, "separateDependentLinkCreate", problems)
        if None in (pending_id, link_type, tag, child, parent):
            return None
        if pending_id in self.seen_ids:
            problems.add(f"{where}: pendingLinkId {pending_id!r} repeats line {self.seen_ids[pending_id]}")
            return None
        self.seen_ids[pending_id] = record.line
        return {
            "pending_link_id": pending_id,
            "link_type": link_type,
            "link_tag": tag,
            "object_id": child,
            "reference_id": parent,
            "separate_dependent_link_create": separate,
            "line": record.line,
        }
