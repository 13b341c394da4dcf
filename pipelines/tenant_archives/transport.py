"""Archives as files: take an archive out of the object store (a folder or one .zip), and bring one in.

`download_archive` copies a completed backup job's manifest (and `manifest.sig`) and every file it
lists, checking each file's sha256 on the way. `upload_archive` checks a downloaded archive on disk
first (the manifest, its signature, completeness, every file's size and sha256, the encryption key),
then uploads it under `uploads/{tenant}/{upload_id}/`, manifest last, for `restore_archive`, which
checks it again in the store before anything is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from pipelines.core.database import Database
from pipelines.core.object_store import ObjectStore
from pipelines.core.requests import shorten
from pipelines.tenant_archives.archive import ArchiveKeys
from pipelines.tenant_archives.entities import check_tenant
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.integrity import SIGNATURE_NAME
from pipelines.tenant_archives.jobs import get_job
from pipelines.tenant_archives.manifest import MANIFEST_NAME, Manifest, folder_of
from pipelines.tenant_archives.restore import (
    check_file,
    check_manifest,
    files_by_entity,
)

_CHUNK = 1024 * 1024


def download_archive(database: Database, store: ObjectStore, job_id: str, to: Path) -> Path:
    """Write the archive of backup job `job_id` to the folder `to`, or to one zip when `to` ends in .zip."""
    to = Path(to)
    _check_new(to)
    job = get_job(database, job_id)
    if job.status != "completed" or job.manifest_key is None:
        raise TenantArchiveError(f"backup job {job.job_id} is {job.status} and has no archive to download")
    folder = folder_of(job.manifest_key)
    body = store.get_bytes(job.manifest_key)
    signature = store.get_bytes(folder + SIGNATURE_NAME) if store.exists(folder + SIGNATURE_NAME) else None
    manifest = Manifest.parse(body, job.manifest_key)
    files_by_entity(manifest, job.manifest_key)
    with _target(to) as write:
        for listed in manifest.files:
            digest = hashlib.sha256()
            with store.open_read(folder + listed.name) as source, write(listed.name) as out:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != listed.sha256:
                raise TenantArchiveError(
                    f"archive file {folder + listed.name!r} has sha256 {digest.hexdigest()}, the manifest says "
                    f"{listed.sha256}: not downloaded"
                )
        if signature is not None:
            with write(SIGNATURE_NAME) as out:
                out.write(signature)
        with write(MANIFEST_NAME) as out:
            out.write(body)
    return to


@contextlib.contextmanager
def _target(to: Path) -> Iterator:
    """A function `write(name)` giving a writable file of the download; nothing is left if it fails."""
    _check_new(to)
    if to.suffix.lower() == ".zip":
        to.parent.mkdir(parents=True, exist_ok=True)
        partial = to.with_name(to.name + ".partial")
        try:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                yield lambda name: archive.open(name, "w", force_zip64=True)
            partial.replace(to)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return
    created = not to.exists()
    to.mkdir(parents=True, exist_ok=True)
    try:
        yield lambda name: (to / name).open("wb")
    except BaseException:
        if created:
            shutil.rmtree(to, ignore_errors=True)
        raise


def _check_new(to: Path) -> None:
    if to.exists() and (to.is_file() or any(to.iterdir())):
        raise TenantArchiveError(f"--to {str(to)!r} already exists and is not an empty folder: choose a new path")


class _Source:
    """A downloaded archive: a folder or a zip, read by file name."""

    def __init__(self, path: Path):
        self.path = path
        if not path.exists():
            raise TenantArchiveError(f"--from {str(path)!r} does not exist")
        self.zip = zipfile.ZipFile(path) if path.is_file() else None
        if path.is_file() and not zipfile.is_zipfile(path):
            raise TenantArchiveError(f"--from {str(path)!r} is neither a folder nor a .zip")

    def names(self) -> set[str]:
        if self.zip is not None:
            return set(self.zip.namelist())
        return {p.name for p in self.path.iterdir() if p.is_file()}

    def size(self, name: str) -> int:
        return self.zip.getinfo(name).file_size if self.zip is not None else (self.path / name).stat().st_size

    def open(self, name: str) -> IO[bytes]:
        return self.zip.open(name) if self.zip is not None else (self.path / name).open("rb")

    def read(self, name: str) -> bytes | None:
        if name not in self.names():
            return None
        with self.open(name) as source:
            return source.read()

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def upload_archive(store: ObjectStore, source_path: Path, new_tenant: str, keys: ArchiveKeys | None = None) -> str:
    """Check every file of the downloaded archive at `source_path`, then upload it; returns the manifest's key."""
    keys = keys or ArchiveKeys.from_environment()
    check_tenant(new_tenant, "new tenant")
    source = _Source(Path(source_path))
    try:
        where = str(source_path)
        body = source.read(MANIFEST_NAME)
        if body is None:
            raise TenantArchiveError(f"archive {where!r} has no {MANIFEST_NAME}")
        checked = check_manifest(body, source.read(SIGNATURE_NAME), f"{where}/{MANIFEST_NAME}", keys)
        names = source.names()
        for listed in checked.manifest.files:
            if listed.name not in names:
                raise TenantArchiveError(f"archive file {shorten(listed.name)} listed in the manifest is missing from {where!r}")
            with source.open(listed.name) as opened:
                check_file(opened, listed, f"{where}/{listed.name}", source.size(listed.name), bool(checked.manifest.encryption), keys)
        prefix = f"uploads/{new_tenant}/{uuid.uuid4()}/"
        for listed in checked.manifest.files:
            with source.open(listed.name) as opened, store.open_write(prefix + listed.name) as out:
                shutil.copyfileobj(opened, out, _CHUNK)
        signature = source.read(SIGNATURE_NAME)
        if signature is not None:
            store.put_bytes(prefix + SIGNATURE_NAME, signature)
        store.put_bytes(prefix + MANIFEST_NAME, body)
        return prefix + MANIFEST_NAME
    finally:
        source.close()
