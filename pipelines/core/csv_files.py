"""Rows ordered by a group into one RFC 4180 CSV object per group, streamed into the object store.

Rows are `(id, *group, *rest)`: the first field identifies the row, the next `group_size` fields
name its file (rows arrive ordered by them), and a row whose last field is NULL is not written (its
id is *rejected*). Two sources, the same bytes: Python values (`write_rows`, formatted with
`core.rfc4180`), or the buffers of PostgreSQL's `COPY ... TO STDOUT WITH (FORMAT csv)`
(`core.database.copy_out_csv`, one LF-ended row each: Python only finds where the group changes and
turns each LF into CRLF). A file the store cannot write is dropped and the ids of all its rows are
rejected; the other files go on. Each written file is a `CsvFile` with its row count and sha256.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO, Any

from pipelines.core import rfc4180
from pipelines.core.object_store import ObjectStore

log = logging.getLogger(__name__)

_BATCH = 5_000
# COPY rows are gathered into blocks of about this size before they are written.
BLOCK = 256 * 1024
_QUOTE = 34


@dataclass(frozen=True)
class CsvFile:
    key: str
    group: tuple[str, ...]
    rows: int
    sha256: str
    bytes: int


class GroupedCsvWriter:
    """One CSV per group of rows; `files` are the written ones, `rejected` the ids not written."""

    def __init__(
        self,
        store: ObjectStore,
        header: Sequence[str],
        key_for: Callable[[tuple[str, ...]], str],
        *,
        group_size: int = 1,
        logger: Any = None,
    ):
        self.store, self.key_for, self.group_size = store, key_for, group_size
        self.header = rfc4180.format_row(header).encode("utf-8")
        self.logger = logger or log
        self.files: list[CsvFile] = []
        self.rejected: list[str] = []

    def write_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Rows of Python values, ordered by their group fields."""
        size = self.group_size
        for group, grouped in itertools.groupby(rows, key=lambda r: tuple(r[1 : 1 + size])):
            self._write_group(group, grouped)

    def _write_group(self, group: tuple[str, ...], rows: Iterator[Sequence[Any]]) -> None:
        kept = self._kept(rows)
        first = next(kept, None)
        if first is None:
            return
        kept = itertools.chain((first,), kept)
        key = self.key_for(group)
        file = _OpenFile(self, key, group)
        middle = "," + ",".join(rfc4180.format_field(g) for g in group) + ","
        for batch in _batched(kept, _BATCH):
            file.ids.extend(str(row[0]) for row in batch)  # before the write: a failing write rejects them
            file.write(_lines(batch, middle, 1 + self.group_size).encode("utf-8"))
        file.finish(bytearray())

    def _kept(self, rows: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        for row in rows:
            if row[-1] is None:
                self.rejected.append(str(row[0]))
                continue
            yield row

    def write_copy(self, rows: Iterable[Any]) -> None:
        """`write_rows` for COPY CSV rows (one LF-ended buffer each), ordered by their group fields.

        A row whose id is unquoted belongs to the current file when the bytes after its first comma
        are the file's `,group...,`; any other row is parsed (a new group, or an id that needed
        quotes). A NULL last field (a row ending in ",\\n") is a rejected row.
        """
        rejected = self.rejected
        size = self.group_size
        file: _OpenFile | None = None
        ids: list[str | bytearray] = []  # the current file's
        middle = b"\0"  # matches no row: the first row opens the first file
        buf = bytearray()
        block = BLOCK
        try:
            for row in rows:
                start = len(buf)
                buf += row
                comma = buf.find(b",", start)
                if buf[start] == _QUOTE or not buf.startswith(middle, comma):
                    fields = rfc4180.parse_record(bytes(row)[:-1].decode("utf-8"))
                    group = tuple(fields[1 : 1 + size])
                    if file is None or file.group != group:
                        del buf[start:]
                        if file is not None:
                            file.finish(buf)
                        file = _OpenFile(self, self.key_for(group), group)  # type: ignore[arg-type]
                        ids = file.ids
                        middle = ("," + ",".join(rfc4180.format_field(g) for g in group) + ",").encode()
                        buf = bytearray(row)
                        start = 0
                    if fields[-1] is None:
                        rejected.append(fields[0])  # type: ignore[arg-type]
                        del buf[start:]
                        continue
                    ids.append(fields[0])  # type: ignore[arg-type]
                elif buf.endswith(b",\n"):
                    rejected.append(buf[start:comma].decode())
                    del buf[start:]
                    continue
                else:
                    ids.append(buf[start:comma])
                buf.insert(-1, 13)  # one COPY row per buffer: its last byte is the LF that ends it
                if len(buf) >= block:
                    file.write(buf)  # type: ignore[union-attr]
                    buf = bytearray()
            if file is not None:
                file.finish(buf)
        except BaseException as exc:
            if file is not None:
                file.abort(exc)
            raise


class _OpenFile:
    """One group's file: opened at its first row, written in blocks, hashed as written; a store
    error drops the file and rejects its rows (those to come too)."""

    def __init__(self, writer: GroupedCsvWriter, key: str, group: tuple[str, ...]):
        self.writer, self.key, self.group = writer, key, group
        self.ids: list[str | bytearray] = []  # ids of the rows written, as text or as their COPY bytes
        self.failed = False
        self.size = 0
        self._hash = hashlib.sha256()
        self._context: AbstractContextManager[IO[bytes]] | None = None
        self._out: IO[bytes] | None = None

    def write(self, block: bytes | bytearray) -> None:
        if self.failed:
            self._reject_ids()
            return
        try:
            if self._context is None:
                context = self.writer.store.open_write(self.key)
                self._out = context.__enter__()
                self._context = context
                self._out.write(self.writer.header)
                self._hash.update(self.writer.header)
                self.size += len(self.writer.header)
            assert self._out is not None
            self._out.write(block)
            self._hash.update(block)
            self.size += len(block)
        except Exception as exc:  # noqa: BLE001 - any store error fails this file only
            self._fail(exc)

    def finish(self, block: bytearray) -> None:
        if block:
            self.write(block)
        if self.failed:
            self._reject_ids()
            return
        if self._context is None:
            return  # every row of the group was rejected: no file
        context, self._context = self._context, None
        try:
            context.__exit__(None, None, None)
        except Exception as exc:  # noqa: BLE001 - any store error fails this file only
            self._fail(exc)
            self._reject_ids()
            return
        self.writer.files.append(CsvFile(self.key, self.group, len(self.ids), self._hash.hexdigest(), self.size))

    def _fail(self, exc: Exception) -> None:
        self.writer.logger.warning(f"cannot write {self.key}: {exc}; its rows are rejected")
        self.failed = True
        if self._context is not None:
            self.abort(exc)

    def _reject_ids(self) -> None:
        self.writer.rejected.extend(i if isinstance(i, str) else i.decode() for i in self.ids)
        self.ids.clear()  # the same list `write_copy` appends to

    def abort(self, exc: BaseException) -> None:
        """Discard the file being written (the store never shows a partial object)."""
        context, self._context = self._context, None
        if context is not None:
            with contextlib.suppress(Exception):  # the original error is the one to report
                context.__exit__(type(exc), exc, exc.__traceback__)


def _lines(rows: Sequence[Sequence[Any]], middle: str, rest_from: int) -> str:
    """`rfc4180.format_row` of many rows of one group: the group fields are formatted once."""
    field, value = rfc4180.format_field, rfc4180.format_value
    return "".join(
        f"{field(value(row[0]))}{middle}{','.join(field(value(v)) for v in row[rest_from:])}{rfc4180.CRLF}"
        for row in rows
    )


def _batched(items: Iterable[Any], size: int) -> Iterator[tuple[Any, ...]]:
    # itertools.batched arrived in Python 3.12.
    iterator = iter(items)
    while batch := tuple(itertools.islice(iterator, size)):
        yield batch
