"""Encryption at rest of archive parts: AES-256-GCM over 1 MiB chunks, streamed.

A sealed part is `PAE1` + an 8-byte random prefix, then chunks of `CHUNK` plaintext bytes (the last
may be shorter, or empty), each followed by its 16-byte tag. Chunk `i` uses the nonce prefix + `i`
(4 bytes, big endian) and the associated data `b"last"` for the last chunk and `b"more"` otherwise,
so chunks cannot be reordered, dropped or cut off at the end without the check failing. A wrong key
fails on the first chunk.
"""

from __future__ import annotations

import io
import os
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"PAE1"
SCHEME = "aes-256-gcm-chunked-v1"
CHUNK = 1024 * 1024
TAG = 16
_PREFIX = 8


class DecryptionError(ValueError):
    """A chunk does not authenticate: the wrong key, or the file was changed."""


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + index.to_bytes(4, "big")


class EncryptingWriter:
    """Writes the sealed form of what is written to it into `out`; `close()` seals the last chunk."""

    def __init__(self, out: IO[bytes], key: bytes):
        self._out, self._aead = out, AESGCM(key)
        self._prefix = os.urandom(_PREFIX)
        self._buffer = bytearray()
        self._index = 0
        out.write(MAGIC + self._prefix)

    def write(self, data: bytes | memoryview) -> None:
        self._buffer += data
        while len(self._buffer) > CHUNK:  # a full chunk is sealed only once more follows it
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]

    def _seal(self, chunk: bytes, last: bool) -> None:
        aad = b"last" if last else b"more"
        self._out.write(self._aead.encrypt(_nonce(self._prefix, self._index), chunk, aad))
        self._index += 1

    def close(self) -> None:
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()


class DecryptingReader(io.RawIOBase):
    """The plaintext of a sealed part, as a raw stream (wrap it in `io.BufferedReader`)."""

    def __init__(self, source: IO[bytes], key: bytes):
        super().__init__()
        self._source, self._aead = source, AESGCM(key)
        head = _read_exactly(source, len(MAGIC) + _PREFIX)
        if head[: len(MAGIC)] != MAGIC:
            raise DecryptionError("not an encrypted archive part")
        self._prefix = head[len(MAGIC):]
        self._index = 0
        self._pending = _read_exactly(source, CHUNK + TAG)
        self._plain = b""
        self._offset = 0
        self._done = False

    def _next_chunk(self) -> None:
        sealed = self._pending
        self._pending = _read_exactly(self._source, CHUNK + TAG)
        last = not self._pending
        try:
            self._plain = self._aead.decrypt(_nonce(self._prefix, self._index), sealed, b"last" if last else b"more")
        except InvalidTag:
            raise DecryptionError("a chunk does not authenticate: the wrong key, or the file was changed") from None
        self._offset = 0
        self._index += 1
        self._done = last

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._take(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _take(self, size: int) -> bytes:
        parts = []
        wanted = size
        while wanted > 0:
            if self._offset >= len(self._plain):
                if self._done:
                    break
                self._next_chunk()
                continue
            take = min(wanted, len(self._plain) - self._offset)
            parts.append(self._plain[self._offset : self._offset + take])
            self._offset += take
            wanted -= take
        return b"".join(parts)

    def readable(self) -> bool:
        return True


def _read_exactly(source: IO[bytes], size: int) -> bytes:
    parts, left = [], size
    while left > 0:
        chunk = source.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)
