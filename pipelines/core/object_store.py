"""The object store: S3 in production, a local folder by default, one interface for both.

Keys are `/`-separated relative paths (`archives/acme/<job>/users.csv`). Large objects stream in both
directions: `open_write` spools to a temporary file (S3 multipart upload on close) and `open_read`
returns a buffered stream; nothing holds a whole object in memory unless asked (`get_bytes`).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pipelines.core.errors import ConfigurationError, PipelinesError

_SPOOL_BYTES = 8 * 1024 * 1024
_TMP_PREFIX = ".tmp-"


class ObjectNotFoundError(PipelinesError):
    def __init__(self, store: ObjectStore, key: str):
        self.key = key
        super().__init__(f"object {key!r} not found in {store.describe()}")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: dt.datetime


def check_key(key: str) -> str:
    if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in key.split("/")):
        raise PipelinesError(f"invalid object key {key!r}: use a relative path like 'folder/name.json'")
    return key


class ObjectStore(ABC):
    """put / get / list / exists / delete of keys, streaming large objects."""

    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    @contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        """A binary stream; the object appears, whole, only when the block exits without error."""

    @abstractmethod
    @contextmanager
    def open_read(self, key: str) -> Iterator[IO[bytes]]: ...

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with `prefix`, in key order."""

    @abstractmethod
    def info(self, key: str) -> ObjectInfo | None: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; removing one that is not there is not an error."""

    def check(self) -> None:
        """Raise `ConfigurationError` when the store cannot be used."""

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under `prefix` (a folder-like prefix ending in "/")."""
        for found in list(self.list(prefix)):
            self.delete(found.key)

    def location(self, key: str) -> str:
        """Where a reader finds `key`: a local path, or an `s3://` URI."""
        return f"{self.describe().rstrip('/')}/{key}"

    def exists(self, key: str) -> bool:
        return self.info(key) is not None

    def size(self, key: str) -> int:
        found = self.info(key)
        if found is None:
            raise ObjectNotFoundError(self, key)
        return found.size

    def put_bytes(self, key: str, data: bytes) -> None:
        with self.open_write(key) as out:
            out.write(data)

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        with open(path, "rb") as src, self.open_write(key) as out:
            shutil.copyfileobj(src, out, 1024 * 1024)

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as src:
            return src.read()

    def copy(self, source: str, target: str) -> None:
        with self.open_read(source) as src, self.open_write(target) as out:
            shutil.copyfileobj(src, out, 1024 * 1024)

    def move(self, source: str, target: str) -> None:
        self.copy(source, target)
        self.delete(source)


class LocalObjectStore(ObjectStore):
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return str(self.root)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    @contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                yield out
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextmanager
    def open_read(self, key: str) -> Iterator[IO[bytes]]:
        try:
            handle = open(self.path(key), "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectNotFoundError(self, key) from None
        with handle:
            yield handle

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        keys = []
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith(_TMP_PREFIX):
                    continue
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        for key in sorted(keys):
            found = self.info(key)
            if found is not None:
                yield found

    def info(self, key: str) -> ObjectInfo | None:
        try:
            stat = self.path(key).stat()
        except FileNotFoundError:
            return None
        if not self.path(key).is_file():
            return None
        return ObjectInfo(key, stat.st_size, dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc))

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        # The folder itself, with the temporary files of writes that never finished.
        folder = self.root / check_key(prefix.rstrip("/"))
        if prefix.endswith("/") and folder.is_dir():
            shutil.rmtree(folder)
        else:
            super().delete_prefix(prefix)


class S3ObjectStore(ObjectStore):
    def __init__(self, client: Any, bucket: str, prefix: str = "", endpoint_url: str | None = None):
        self.client, self.bucket, self.endpoint_url = client, bucket, endpoint_url
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            problem = "does not exist" if code in ("404", "NoSuchBucket") else f"is not accessible ({code})"
            raise ConfigurationError("PIPELINES_S3_BUCKET", f"bucket {self.bucket!r} {problem}{self._where()}") from None
        except BotoCoreError as exc:
            raise ConfigurationError(
                "PIPELINES_S3_BUCKET", f"cannot reach bucket {self.bucket!r}{self._where()}: {exc}"
            ) from None

    def _where(self) -> str:
        return f" at {self.endpoint_url}" if self.endpoint_url else ""

    @contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        full = self._key(key)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            yield spool  # type: ignore[misc]
            spool.seek(0)
            self.client.upload_fileobj(spool, self.bucket, full)

    @contextmanager
    def open_read(self, key: str) -> Iterator[IO[bytes]]:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectNotFoundError(self, key) from None
            raise
        stream = io.BufferedReader(_BodyReader(body), buffer_size=1024 * 1024)
        try:
            yield stream  # type: ignore[misc]
        finally:
            stream.close()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", []):
                yield ObjectInfo(item["Key"][len(self.prefix) :], item["Size"], item["LastModified"])

    def info(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(key, head["ContentLength"], head["LastModified"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def copy(self, source: str, target: str) -> None:
        self.client.copy({"Bucket": self.bucket, "Key": self._key(source)}, self.bucket, self._key(target))


class _BodyReader(io.RawIOBase):
    """botocore's StreamingBody as a raw stream, so it can be buffered and wrapped as text."""

    def __init__(self, body: Any):
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._body.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self._body.close()
        super().close()
