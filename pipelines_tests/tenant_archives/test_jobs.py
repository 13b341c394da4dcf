import datetime as dt
import time
import uuid

import pytest

from pipelines.tenant_archives import jobs
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.generate import TenantSize, generate_tenants


@pytest.fixture
def acme(database):
    generate_tenants(database, ["acme", "globex"], TenantSize(users=1, events=1))
    return database


def test_schedule_creates_a_pending_job(acme):
    job = jobs.schedule_backup(acme, "acme")
    assert (job.tenant, job.status, job.error, job.manifest_key) == ("acme", "pending", None, None)
    assert job.created_at == job.updated_at
    assert jobs.get_job(acme, job.job_id) == job


def test_schedule_is_refused_while_the_tenant_has_a_pending_or_running_job(acme):
    job = jobs.schedule_backup(acme, "acme")
    with pytest.raises(TenantArchiveError, match=rf"^tenant 'acme' already has a pending backup job {job.job_id} \(created "):
        jobs.schedule_backup(acme, "acme")
    jobs.start_job(acme, job.job_id)
    with pytest.raises(TenantArchiveError, match=rf"already has a running backup job {job.job_id}.*wait for it to finish"):
        jobs.schedule_backup(acme, "acme")
    assert jobs.schedule_backup(acme, "globex").status == "pending"  # another tenant is not blocked
    jobs.complete_job(acme, job.job_id, "archives/acme/x/manifest.json")
    assert jobs.schedule_backup(acme, "acme").status == "pending"


def test_job_states_pending_running_completed(acme):
    job = jobs.schedule_backup(acme, "acme")
    running = jobs.start_job(acme, str(job.job_id))
    assert running.status == "running" and running.updated_at >= job.updated_at
    done = jobs.complete_job(acme, job.job_id, "archives/acme/j/manifest.json")
    assert (done.status, done.manifest_key, done.error) == ("completed", "archives/acme/j/manifest.json", None)
    with pytest.raises(TenantArchiveError, match=rf"^backup job {job.job_id} is completed, not pending: it cannot become running$"):
        jobs.start_job(acme, job.job_id)


def test_job_states_pending_running_failed_with_the_error(acme):
    job = jobs.schedule_backup(acme, "acme")
    jobs.start_job(acme, job.job_id)
    failed = jobs.fail_job(acme, job.job_id, "OSError: disk full")
    assert (failed.status, failed.error, failed.manifest_key) == ("failed", "OSError: disk full", None)


def test_jobs_list_in_the_seeds_format_newest_first(acme):
    first = jobs.schedule_backup(acme, "acme")
    second = jobs.schedule_backup(acme, "globex")
    listed = jobs.list_jobs(acme)
    assert [j.job_id for j in listed] == [second.job_id, first.job_id]
    item = listed[1].to_seed()
    assert item == {
        "jobId": str(first.job_id),
        "status": "pending",
        "createdAt": first.created_at.isoformat(),
        "lastUpdatedAt": first.updated_at.isoformat(),
    }
    assert dt.datetime.fromisoformat(item["createdAt"]).utcoffset() == dt.timedelta(0)
    assert [j.job_id for j in jobs.list_jobs(acme, "globex")] == [second.job_id]


def test_bad_input_is_refused_with_the_field(acme):
    with pytest.raises(TenantArchiveError, match=r"^tenant '../x' is not a tenant name"):
        jobs.schedule_backup(acme, "../x")
    with pytest.raises(TenantArchiveError, match=r"^tenant 'ghost' has no data to back up"):
        jobs.schedule_backup(acme, "ghost")
    with pytest.raises(TenantArchiveError, match=r"^job_id 'nope' is not a UUID$"):
        jobs.get_job(acme, "nope")
    missing = uuid.UUID(int=1)
    with pytest.raises(TenantArchiveError, match=rf"^backup job {missing} does not exist$"):
        jobs.get_job(acme, missing)
    assert jobs.list_jobs(acme) == []


def test_the_warn_check_names_failed_and_stuck_backup_jobs_and_passes_otherwise(database, monkeypatch):
    import dagster as dg

    from pipelines.tenant_archives.assets import backup_jobs_health

    generate_tenants(database, ["acme", "globex"], TenantSize(users=1, events=1))
    check = lambda: backup_jobs_health(database)  # noqa: E731
    assert check().passed is True  # no job at all

    failed = jobs.schedule_backup(database, "acme")
    jobs.start_job(database, failed.job_id)
    jobs.fail_job(database, failed.job_id, "OSError: disk full")
    pending = jobs.schedule_backup(database, "globex")
    monkeypatch.setenv("PIPELINES_ARCHIVE_STALE_SECONDS", "3600")
    result = check()
    assert (result.passed, result.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert result.description == f"acme: failed {failed.job_id}"  # globex's job is pending, not yet stuck
    rows = [r.data for r in result.metadata["backup_jobs"].records]
    assert [(r["tenant"], r["status"], r["error"]) for r in rows] == [
        ("acme", "failed", "OSError: disk full"), ("globex", "pending", "")
    ]

    monkeypatch.setenv("PIPELINES_ARCHIVE_STALE_SECONDS", "0.001")
    time.sleep(0.01)  # the pending job is older than that (on a fast machine the test can take less)
    assert check().description == f"acme: failed {failed.job_id}; globex: pending {pending.job_id}"

    redone = jobs.schedule_backup(database, "acme")
    jobs.start_job(database, redone.job_id)
    jobs.complete_job(database, redone.job_id, "archives/acme/x/manifest.json")
    jobs.start_job(database, pending.job_id)
    jobs.complete_job(database, pending.job_id, "archives/globex/y/manifest.json")
    assert check().passed is True
