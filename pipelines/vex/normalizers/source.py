"""A document's JSON, whole or streamed: what the normalizers read.

A small document is parsed whole (`json.loads`, fastest). A large one (over `STREAM_ABOVE_BYTES`) is
never held as one tree: its top-level members are parsed except the big lists the normalizer names
(`statements`, `vulnerabilities`, `components`), and those are read one item at a time with ijson,
each item a small tree dropped once normalized. The bytes are read once per streamed list, so peak
memory is the bytes plus one item plus what the normalizer keeps (product keys, statements).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import ijson

from pipelines.vex.normalizers.base import DocumentError

STREAM_ABOVE_BYTES = 8 * 1024 * 1024
_KINDS = {"start_array": "a list", "start_map": "an object", "string": "a string", "number": "a number",
          "boolean": "a boolean", "null": "null"}


class Source:
    """`header`: the top-level object without the streamed lists; `items(name)`: a top-level list's items."""

    def __init__(self, header: dict[str, Any], lists: dict[str, Any], content: bytes | bytearray | None = None):
        self.header = header
        self._lists = lists  # name -> the list (whole) or the kind of the value (streamed)
        self._content = content

    @classmethod
    def whole(cls, document: dict[str, Any]) -> Source:
        return cls(document, {})

    @classmethod
    def streamed(cls, content: bytes | bytearray, lists: tuple[str, ...]) -> Source:
        """Parse `content`'s top level, leaving the members named in `lists` to `items`."""
        header, kinds = _header(content, frozenset(lists))
        return cls(header, kinds, content)

    def get(self, name: str) -> Any:
        return self.header.get(name)

    def has(self, name: str) -> bool:
        return name in self.header or name in self._lists

    def items(self, name: str) -> Iterator[Any] | None:
        """The items of top-level list `name`; None when absent; DocumentError when not a list."""
        if self._content is None or name not in self._lists:
            value = self.header.get(name)
            if value is None:
                return None
            if not isinstance(value, list):
                raise DocumentError(f"{name} is {_kind_of(value)}, expected a list")
            return iter(value)
        kind = self._lists[name]
        if kind == "null":
            return None
        if kind != "a list":
            raise DocumentError(f"{name} is {kind}, expected a list")
        return _stream_items(self._content, name)


class _Reader:
    """A file over the document's buffer, without copying it (BytesIO copies a bytearray)."""

    def __init__(self, content: bytes | bytearray):
        self._view, self._at = memoryview(content), 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size < 0 else min(len(self._view), self._at + size)
        chunk, self._at = bytes(self._view[self._at : end]), end
        return chunk


def _stream_items(content: bytes | bytearray, name: str) -> Iterator[Any]:
    try:
        yield from ijson.items(_Reader(content), f"{name}.item", use_float=True)
    except ijson.JSONError as exc:
        raise DocumentError(f"not JSON: {exc}") from None


def _header(content: bytes | bytearray, streamed: frozenset[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The top-level members not in `streamed`, built; the kinds of those in it (value not built)."""
    header: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    builder: ijson.ObjectBuilder | None = None
    key: str | None = None
    try:
        events = ijson.parse(_Reader(content), use_float=True)
        prefix, event, value = next(events)
        if event != "start_map":
            raise DocumentError(f"a document must be a JSON object, not {_KINDS.get(event, event)}")
        for prefix, event, value in events:
            if prefix == "" and event == "map_key":
                key, builder = value, None
                continue
            if prefix == "" and event == "end_map":
                break
            if key is None:
                continue
            if prefix == key and key in streamed:
                kinds.setdefault(key, _KINDS.get(event, event))
                continue
            if key in streamed:
                continue  # inside a streamed list: tokenized, never built
            if builder is None:
                builder = ijson.ObjectBuilder()
            builder.event(event, value)
            if prefix == key and event not in ("start_map", "start_array", "map_key"):
                header[key] = builder.value  # a scalar, or the end of a container
                builder = None
        return header, kinds
    except ijson.JSONError as exc:
        raise DocumentError(f"not JSON: {exc}") from None
    except StopIteration:
        raise DocumentError("not JSON: empty document") from None


def load(content: bytes | bytearray, lists: tuple[str, ...]) -> Source:
    """`content` as a Source: whole when small, streamed when large."""
    if len(content) > STREAM_ABOVE_BYTES:
        return Source.streamed(content, lists)
    try:
        document = json.loads(content)
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise DocumentError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise DocumentError("not usable JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise DocumentError(f"a document must be a JSON object, not {_kind_of(document)}")
    return Source.whole(document)


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")
