"""Retention: keep the newest N completed archives of each tenant; delete the objects of the others."""

from __future__ import annotations

import logging

from pipelines.core.database import Database
from pipelines.core.object_store import ObjectStore
from pipelines.tenant_archives.jobs import BackupJob, expired_jobs, mark_expired
from pipelines.tenant_archives.manifest import folder_of

log = logging.getLogger(__name__)


def apply_retention(database: Database, store: ObjectStore, keep_last: int) -> list[BackupJob]:
    """Delete every file of each expired archive, manifest first (so no half archive looks whole)."""
    expired = expired_jobs(database, keep_last)
    for job in expired:
        assert job.manifest_key is not None
        folder = folder_of(job.manifest_key)
        store.delete(job.manifest_key)
        for found in list(store.list(folder)):
            store.delete(found.key)
        mark_expired(database, job.job_id, keep_last)
        log.info("retention: deleted %s", folder)
    return expired
