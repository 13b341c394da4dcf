"""What makes an edited manifest fail: its sha256 recorded in `backup_jobs`, and an optional HMAC.

- The digest (sha256 of the manifest's bytes) is written to the archive's backup job when it
  completes. A restore in the same environment (a database that holds that job) refuses a manifest
  whose bytes hash differently.
- With `PIPELINES_ARCHIVE_SIGNING_KEY` set, the archive writes `manifest.sig`, the hex HMAC-SHA256 of
  the manifest's bytes under that key, and a restore refuses a manifest without a matching one, before
  anything is written. The manifest lists every file's size and sha256, so a valid signature covers
  every file too. The key is never printed.
"""

from __future__ import annotations

import hashlib
import hmac

from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.settings import ARCHIVE_SIGNING_KEY

SIGNATURE_NAME = "manifest.sig"


def manifest_digest(manifest_bytes: bytes) -> str:
    return hashlib.sha256(manifest_bytes).hexdigest()


def signature(manifest_bytes: bytes, key: bytes) -> str:
    return hmac.new(key, manifest_bytes, hashlib.sha256).hexdigest()


def check_signature(manifest_bytes: bytes, found: bytes | None, key: bytes | None, where: str) -> bool:
    """With a key: the signature must be there and match (else the error). Returns whether one was checked."""
    if key is None:
        return False
    if found is None:
        raise TenantArchiveError(
            f"archive {where!r} has no {SIGNATURE_NAME}, and {ARCHIVE_SIGNING_KEY.name} is set: "
            "only signed archives are restored"
        )
    if not hmac.compare_digest(found.strip().decode("ascii", "replace"), signature(manifest_bytes, key)):
        raise TenantArchiveError(
            f"archive {where!r}: the manifest's signature does not match under {ARCHIVE_SIGNING_KEY.name}: "
            "the manifest was edited, or signed with another key"
        )
    return True


def check_recorded_digest(manifest_bytes: bytes, recorded: str | None, job_id: str, where: str) -> bool:
    """The manifest's bytes hash to what its backup job recorded (when this environment has the job)."""
    if recorded is None:
        return False
    if not hmac.compare_digest(manifest_digest(manifest_bytes), recorded):
        raise TenantArchiveError(
            f"archive {where!r}: the manifest's sha256 is not the one backup job {job_id} recorded when the "
            "archive completed: the manifest was edited"
        )
    return True
