"""The environment variables of tenant archives (read at run time, never at import).

Keys are secrets: they are read here and passed on as bytes; no message or log shows them.
"""

from __future__ import annotations

import base64
import binascii

from pipelines.core.settings import Setting
from pipelines.tenant_archives.errors import TenantArchiveError

ARCHIVE_SIGNING_KEY = Setting(
    "PIPELINES_ARCHIVE_SIGNING_KEY",
    None,
    "Secret for an HMAC-SHA256 over each archive's manifest.json (written as manifest.sig). Set: a "
    "restore refuses a manifest without a valid signature before anything is written.",
)
ARCHIVE_ENCRYPTION_KEY = Setting(
    "PIPELINES_ARCHIVE_ENCRYPTION_KEY",
    None,
    "32 bytes, base64 (`openssl rand -base64 32`): every archive part is written encrypted with "
    "AES-256-GCM in 1 MiB chunks; a restore of an encrypted archive needs the same key.",
)
ARCHIVE_STALE_SECONDS = Setting(
    "PIPELINES_ARCHIVE_STALE_SECONDS",
    "3600",
    "A backup job pending this long without a run, or running this long after its run is gone, "
    "is marked failed by the backup-jobs sensor.",
)

TENANT_ARCHIVE_SETTINGS = (ARCHIVE_SIGNING_KEY, ARCHIVE_ENCRYPTION_KEY, ARCHIVE_STALE_SECONDS)


def signing_key() -> bytes | None:
    value = ARCHIVE_SIGNING_KEY.get()
    return value.encode("utf-8") if value else None


def encryption_key() -> bytes | None:
    value = ARCHIVE_ENCRYPTION_KEY.get()
    if not value:
        return None
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise TenantArchiveError(
            f"{ARCHIVE_ENCRYPTION_KEY.name}: not 32 bytes in base64 (make one with `openssl rand -base64 32`)"
        )
    return key


def stale_seconds() -> float:
    value = ARCHIVE_STALE_SECONDS.get() or "3600"
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise TenantArchiveError(f"{ARCHIVE_STALE_SECONDS.name}: {value!r} is not a positive number of seconds")
    return seconds
