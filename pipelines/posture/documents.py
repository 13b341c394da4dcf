"""The lite dynamic state document `{"liteDynamicStateObjects": [...]}`, read and written as a stream.

An export is one JSON object whose `liteDynamicStateObjects` array may hold millions of objects
(`ExportedLiteDynamicStateObject`: responsibilitySlug, serviceName, status, boundarySlug,
componentSlug). The reader decodes one array element at a time (the C decoder of `json` on a rolling
buffer), so memory does not grow with the document; other top-level fields (an import request's
`config`) are kept in `DocumentReader.extra`.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Any, Literal, TextIO

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from pipelines.core.object_store import ObjectStore
from pipelines.posture.errors import PostureError

DOCUMENT_KEY = "liteDynamicStateObjects"
FIELDS = ("responsibilitySlug", "serviceName", "status", "boundarySlug", "componentSlug")
STATUSES = ("PASSING", "FAILING")
SHOWN_ERRORS = 20

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_MAX_ELEMENT_CHARS = 1 << 20


@dataclass(frozen=True)
class DocumentSource:
    """Where an export document is: a key in the object store, or a local file (an upload)."""

    key: str | None = None
    path: str | None = None

    def describe(self) -> str:
        return f"file {self.path}" if self.path else f"object {self.key}"

    @contextmanager
    def open(self, store: ObjectStore) -> Iterator[TextIO]:
        if self.path:
            try:
                handle: IO[bytes] = open(Path(self.path), "rb")
            except OSError as exc:
                raise PostureError(f"uploadedFile {self.path!r} cannot be read: {exc.strerror}") from None
            with handle, io.TextIOWrapper(handle, encoding="utf-8", newline="") as text:
                yield text
            return
        assert self.key is not None
        with store.open_read(self.key) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
            yield text


@dataclass(frozen=True)
class ObjectError:
    index: int | None  # the object's index in the document; None for a request field
    field: str
    value: Any
    problem: str

    def __str__(self) -> str:
        where = "" if self.index is None else f"object {self.index}: "
        return f"{where}{self.field} {self.value!r} {self.problem}"


class ErrorCollector:
    """Collects every error of a document, keeps the first `SHOWN_ERRORS` to show, counts all."""

    def __init__(self) -> None:
        self.count = 0
        self.shown: list[ObjectError] = []

    def add(self, index: int | None, field: str, value: Any, problem: str) -> None:
        self.count += 1
        if len(self.shown) < SHOWN_ERRORS:
            self.shown.append(ObjectError(index, field, value, problem))

    def raise_if_any(self, what: str) -> None:
        if not self.count:
            return
        listed = "; ".join(str(e) for e in self.shown)
        more = f" (first {len(self.shown)} shown)" if self.count > len(self.shown) else ""
        raise PostureError(f"{what}: {self.count} invalid field(s){more}, nothing was written: {listed}")


Name = Annotated[str, StringConstraints(strict=True, min_length=1)]


class LiteDynamicStateObject(BaseModel):
    """One ExportedLiteDynamicStateObject, as an import reads it (other fields of an object are ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    responsibilitySlug: Name  # noqa: N815 - the seed's field names
    serviceName: Name  # noqa: N815
    status: Literal["PASSING", "FAILING"]
    boundarySlug: Name  # noqa: N815
    componentSlug: Name  # noqa: N815


_PROBLEMS = {
    "missing": "is missing",
    "literal_error": "is not PASSING or FAILING",
    "model_type": "is not a JSON object",
    "model_attributes_type": "is not a JSON object",
}
_OBJECT_VALIDATOR = LiteDynamicStateObject.__pydantic_validator__


def check_object_shape(index: int, obj: Any, errors: ErrorCollector) -> bool:
    """Every field present and a non-empty string, status PASSING or FAILING (`LiteDynamicStateObject`).
    Every problem of the object goes to `errors`. Returns whether the fields can be looked up in the
    catalog (a bad status is reported but does not stop that)."""
    try:
        _OBJECT_VALIDATOR.validate_python(obj)
    except ValidationError as exc:
        lookups = True
        for error in exc.errors(include_url=False, include_context=False):
            field = str(error["loc"][0]) if error["loc"] else "object"
            value = None if error["type"] == "missing" else error["input"]
            errors.add(index, field, value, _PROBLEMS.get(error["type"], "is not a non-empty string"))
            lookups = lookups and field == "status"
        return lookups
    return True


class DocumentReader:
    """Iterates the elements of `liteDynamicStateObjects` from a text stream, one at a time."""

    def __init__(self, stream: TextIO, *, source: str = "document", chunk_chars: int = 1 << 16):
        self.stream, self.source, self.chunk_chars = stream, source, chunk_chars
        self.extra: dict[str, Any] = {}
        self._buf, self._pos, self._offset, self._eof = "", 0, 0, False

    def objects(self) -> Iterator[Any]:
        self._expect("{")
        seen_objects = False
        if self._peek() == "}":
            self._pos += 1
        else:
            while True:
                key = self._value()
                if not isinstance(key, str):
                    self._fail(f"expected a field name, found {key!r}")
                self._expect(":")
                if key == DOCUMENT_KEY:
                    if seen_objects:
                        self._fail(f"{DOCUMENT_KEY} appears twice")
                    seen_objects = True
                    yield from self._array()
                else:
                    self.extra[key] = self._value()
                after = self._peek()
                self._pos += 1
                if after == "}":
                    break
                if after != ",":
                    self._pos -= 1
                    self._fail(f"expected ',' or '}}', found {after!r}")
        if self._peek() is not None:
            self._fail("unexpected text after the document")
        if not seen_objects:
            raise PostureError(f"malformed {self.source}: no {DOCUMENT_KEY} array")

    def _array(self) -> Iterator[Any]:
        if self._peek() != "[":
            self._fail(f"{DOCUMENT_KEY} is not an array")
        self._pos += 1
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            yield self._value()
            after = self._peek()
            self._pos += 1
            if after == "]":
                return
            if after != ",":
                self._pos -= 1
                self._fail(f"expected ',' or ']' in {DOCUMENT_KEY}, found {after!r}")

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self.stream.read(self.chunk_chars)
        if not chunk:
            self._eof = True
            return False
        if self._pos:
            self._offset += self._pos
            self._buf, self._pos = self._buf[self._pos :], 0
        self._buf += chunk
        return True

    def _peek(self) -> str | None:
        while True:
            self._pos = _WHITESPACE.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return None

    def _expect(self, char: str) -> None:
        found = self._peek()
        if found != char:
            self._fail(f"expected {char!r}, found {'end of input' if found is None else repr(found)}")
        self._pos += 1

    def _value(self) -> Any:
        if self._peek() is None:
            self._fail("unexpected end of input")
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                # Most often an element cut by the end of the buffer: read on, unless it is huge.
                if len(self._buf) - self._pos > _MAX_ELEMENT_CHARS or not self._fill():
                    self._fail(exc.msg, self._offset + exc.pos)
                continue
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(self._buf) and self._fill():
                continue
            self._pos = end
            return value

    def _fail(self, problem: str, at: int | None = None) -> None:
        where = self._offset + self._pos if at is None else at
        raise PostureError(f"malformed {self.source} at character {where}: {problem}")


def export_object(
    responsibility_slug: str, service_name: str, status: str, boundary_slug: str, component_slug: str
) -> dict[str, str]:
    """One ExportedLiteDynamicStateObject, fields in the seed's order."""
    return {
        "responsibilitySlug": responsibility_slug,
        "serviceName": service_name,
        "status": status,
        "boundarySlug": boundary_slug,
        "componentSlug": component_slug,
    }


def write_document(out: TextIO, objects: Iterable[Mapping[str, Any]]) -> int:
    """Write `{"liteDynamicStateObjects": [...]}`, one object per line; returns how many."""
    count = 0
    out.write('{"%s": [' % DOCUMENT_KEY)
    for obj in objects:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(obj, ensure_ascii=False))
        count += 1
    out.write("\n]}\n" if count else "]}\n")
    return count


def count_objects(source: DocumentSource, store: ObjectStore) -> int:
    """How many objects a stored document holds (read as a stream)."""
    with source.open(store) as text:
        return sum(1 for _ in DocumentReader(text, source=source.describe()).objects())
