"""A document's JSON, whole or streamed: what the normalizers read.

A small document is parsed whole (`json.loads`, fastest). A large one (over `STREAM_ABOVE_BYTES`) is
never held as one tree. One pass over its bytes builds the top-level members except the big lists
the normalizers name (`statements`, `vulnerabilities`, `components`, `services`: only their kind is
noted), and builds the members a normalizer names with a *schema* (CSAF's `product_tree`) pruned to
the fields it reads. The big lists are then read one item at a time (a later pass over the bytes per
list), each item a small tree dropped once normalized, whole or, with a schema, pruned too. So a
member may come before or after the list that refers to it, and peak memory is the bytes plus one
item plus what the normalizer keeps (product keys, statements).

A schema is `KEEP` (the value whole), `{key: schema}` (an object: other keys are dropped), or
`[schema]` (a list, each item by that schema); it may refer to itself (nested CSAF branches). A value
of another kind than its schema expects is kept as an empty object or list (a scalar as it is): the
normalizer then sees a value of the wrong kind, as it would in the whole document.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import ijson

from pipelines.vex.normalizers.base import DocumentError

STREAM_ABOVE_BYTES = 8 * 1024 * 1024
KEEP: Any = None
_KINDS = {"start_array": "a list", "start_map": "an object", "string": "a string", "number": "a number",
          "boolean": "a boolean", "null": "null"}
_STARTS = ("start_map", "start_array")
_ENDS = ("end_map", "end_array")
_SKIP = object()  # the schema of a value not kept


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
    def streamed(
        cls, content: bytes | bytearray, lists: tuple[str, ...], pruned: Mapping[str, Any] | None = None
    ) -> Source:
        """Parse `content`'s top level, leaving the members named in `lists` to `items` and building
        those named in `pruned` by their schema."""
        header, kinds = _header(content, frozenset(lists), pruned or {})
        return cls(header, kinds, content)

    def get(self, name: str) -> Any:
        return self.header.get(name)

    def take(self, name: str) -> Any:
        """A top-level member, no longer held here (the normalizer drops it when done with it)."""
        return self.header.pop(name, None)

    def has(self, name: str) -> bool:
        return name in self.header or name in self._lists

    def items(self, name: str, schema: Any = KEEP) -> Iterator[Any] | None:
        """The items of top-level list `name` (streamed with a `schema`: pruned by it, and equal strings
        within an item one object); None when absent; DocumentError when not a list."""
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
        if schema is KEEP:
            return _stream_items(self._content, name)
        return _pruned_items(self._content, name, schema)


class _Reader:
    """A file over the document's buffer, without copying it (BytesIO copies a bytearray)."""

    def __init__(self, content: bytes | bytearray):
        self._view, self._at = memoryview(content), 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size < 0 else min(len(self._view), self._at + size)
        chunk, self._at = bytes(self._view[self._at : end]), end
        return chunk


class _Pruned:
    """One JSON value built from ijson's basic events, keeping what its schema names; `done` once
    the value is complete. `share`: one string object per distinct string value (a CSAF
    vulnerability names the same product ids in its statuses, flags, threats and remediations)."""

    __slots__ = ("value", "done", "_stack", "_skipping", "_share")

    def __init__(self, schema: Any, share: dict[str, str] | None = None):
        self.value: Any = None
        self.done = False
        # Open containers (the first: the value's place): [container, the object's schema, the next
        # value's schema, the next value's key].
        self._stack: list[list[Any]] = [[None, KEEP, schema, None]]
        self._skipping = 0  # depth inside a value that is not kept
        self._share = share

    def event(self, event: str, value: Any) -> None:
        if self._skipping:
            if event in _STARTS:
                self._skipping += 1
            elif event in _ENDS:
                self._skipping -= 1
                if not self._skipping and len(self._stack) == 1:
                    self.done = True
            return
        top = self._stack[-1]
        if event == "map_key":
            schema = top[1]
            top[2] = KEEP if schema is KEEP else schema.get(value, _SKIP)
            top[3] = value
            return
        if event in _ENDS:
            self._stack.pop()
            if len(self._stack) == 1:
                self.done = True
            return
        schema = top[2]
        if schema is _SKIP:
            if event in _STARTS:
                self._skipping = 1
            elif len(self._stack) == 1:
                self.done = True
            return
        if event == "start_map":
            if schema is KEEP or isinstance(schema, dict):
                container: Any = {}
                self._place(top, container)
                self._stack.append([container, schema, _SKIP, None])
            else:  # a list was expected
                self._place(top, {})
                self._skipping = 1
            return
        if event == "start_array":
            if schema is KEEP or isinstance(schema, list):
                container = []
                self._place(top, container)
                item = KEEP if schema is KEEP else schema[0]
                self._stack.append([container, None, item, None])
            else:  # an object was expected
                self._place(top, [])
                self._skipping = 1
            return
        if self._share is not None and event == "string":
            value = self._share.setdefault(value, value)
        self._place(top, value)
        if len(self._stack) == 1:
            self.done = True

    def _place(self, top: list[Any], value: Any) -> None:
        container = top[0]
        if len(self._stack) == 1:
            self.value = value
        elif isinstance(container, list):
            container.append(value)
        else:
            container[top[3]] = value


def _stream_items(content: bytes | bytearray, name: str) -> Iterator[Any]:
    try:
        yield from ijson.items(_Reader(content), f"{name}.item", use_float=True)
    except ijson.JSONError as exc:
        raise DocumentError(f"not JSON: {exc}") from None


def _skip(events: Iterator[tuple[str, Any]], first: str) -> None:
    """Consume the rest of a value whose first event was `first`."""
    if first not in _STARTS:
        return
    depth = 1
    for event, _ in events:
        if event in _STARTS:
            depth += 1
        elif event in _ENDS:
            depth -= 1
            if not depth:
                return


def _build(
    events: Iterator[tuple[str, Any]], event: str, value: Any, schema: Any, share: dict[str, str] | None = None
) -> Any:
    """The value whose first event is (`event`, `value`), the rest read from `events`, by `schema`."""
    pruned = _Pruned(schema, share)
    pruned.event(event, value)
    while not pruned.done:
        pruned.event(*next(events))
    return pruned.value


def _pruned_items(content: bytes | bytearray, name: str, schema: Any) -> Iterator[Any]:
    try:
        events = ijson.basic_parse(_Reader(content), use_float=True)
        next(events)  # the document's start_map (checked by the header's pass)
        for event, key in events:
            if event != "map_key":
                return
            event, value = next(events)
            if key != name or event != "start_array":
                _skip(events, event)
                continue
            for event, value in events:
                if event == "end_array":
                    return
                yield _build(events, event, value, schema, {})
    except ijson.JSONError as exc:
        raise DocumentError(f"not JSON: {exc}") from None
    except StopIteration:
        raise DocumentError("not JSON: the document ends early") from None


def _header(
    content: bytes | bytearray, streamed: frozenset[str], pruned: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The top-level members not in `streamed`, built (those in `pruned` by their schema); the kinds
    of those in `streamed` (value not built)."""
    header: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    try:
        events = ijson.basic_parse(_Reader(content), use_float=True)
        event, _ = next(events)
        if event != "start_map":
            raise DocumentError(f"a document must be a JSON object, not {_KINDS.get(event, event)}")
        for event, key in events:
            if event != "map_key":
                break  # the document's end_map
            event, value = next(events)
            if key in streamed:
                kinds.setdefault(key, _KINDS.get(event, event))
                _skip(events, event)  # tokenized, never built
            else:
                header[key] = _build(events, event, value, pruned.get(key, KEEP))
        for _ in events:  # the rest must be JSON too (nothing, or a parse error)
            pass
        return header, kinds
    except ijson.JSONError as exc:
        raise DocumentError(f"not JSON: {exc}") from None
    except StopIteration:
        raise DocumentError("not JSON: the document ends early") from None


def load(content: bytes | bytearray, lists: tuple[str, ...], pruned: Mapping[str, Any] | None = None) -> Source:
    """`content` as a Source: whole when small, streamed when large (see the module docstring)."""
    if len(content) > STREAM_ABOVE_BYTES:
        return Source.streamed(content, lists, pruned)
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
