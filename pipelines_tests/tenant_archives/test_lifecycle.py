"""The stuck-job rule and retention (issue 13, 5)."""

from __future__ import annotations

import datetime as dt
import uuid

import dagster as dg

from pipelines.tenant_archives import jobs
from pipelines.tenant_archives.archive import archive_tenant
from pipelines.tenant_archives.assets import tenant_archive_retention
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines.tenant_archives.integrity import manifest_digest
from pipelines.tenant_archives.requests import RetentionRequest, retention_run_config
from pipelines.tenant_archives.schedules import tenant_archive_retention_schedule
from pipelines.tenant_archives.sensors import backup_jobs_sensor
from pipelines.tenant_archives.tables import backup_jobs

HOUR = dt.timedelta(hours=1)


def _age(database, job_id, by: dt.timedelta) -> None:
    job = jobs.get_job(database, job_id)
    with database.begin() as conn:
        conn.execute(
            backup_jobs.update().where(backup_jobs.c.job_id == job_id)
            .values(created_at=job.created_at - by, updated_at=job.updated_at - by)
        )


def test_a_pending_job_without_a_run_for_too_long_fails_with_the_reason(database):
    generate_tenants(database, ["acme", "globex"], TenantSize(users=1, events=1))
    old = jobs.schedule_backup(database, "acme")
    fresh = jobs.schedule_backup(database, "globex")
    _age(database, old.job_id, 2 * HOUR)
    failed = jobs.fail_stale_jobs(database, lambda job: None, HOUR)
    assert [(j.job_id, j.status, j.error) for j in failed] == [(old.job_id, "failed", "pending for more than 3600 s without a run")]
    assert jobs.get_job(database, fresh.job_id).status == "pending"
    assert jobs.schedule_backup(database, "acme").status == "pending"  # the tenant can be scheduled again


def test_a_pending_job_whose_run_is_queued_is_left_alone(database):
    generate_tenants(database, ["acme"], TenantSize(users=1, events=1))
    job = jobs.schedule_backup(database, "acme")
    _age(database, job.job_id, 2 * HOUR)
    assert jobs.fail_stale_jobs(database, lambda job: "QUEUED", HOUR) == []
    assert jobs.get_job(database, job.job_id).status == "pending"


def test_a_running_job_whose_run_ended_or_is_gone_fails_with_the_reason(database):
    generate_tenants(database, ["acme", "globex", "initech"], TenantSize(users=1, events=1))
    ended = jobs.schedule_backup(database, "acme")
    jobs.start_job(database, ended.job_id, "run-ended")
    gone = jobs.schedule_backup(database, "globex")
    jobs.start_job(database, gone.job_id, "run-gone")
    _age(database, gone.job_id, 2 * HOUR)
    young = jobs.schedule_backup(database, "initech")
    jobs.start_job(database, young.job_id, "run-of-another-instance")
    statuses = {"run-ended": "FAILURE", "run-gone": None, "run-of-another-instance": None}
    failed = jobs.fail_stale_jobs(database, lambda job: statuses[job.run_id], HOUR)
    assert sorted((j.tenant, j.error) for j in failed) == [
        ("acme", "its run run-ended ended FAILURE while the job was running"),
        ("globex", "running for more than 3600 s without a run (the run run-gone is gone)"),
    ]
    assert jobs.get_job(database, young.job_id).status == "running"


def test_the_sensor_applies_the_rule_with_the_configured_time(database, resources, monkeypatch):
    monkeypatch.setenv("PIPELINES_ARCHIVE_STALE_SECONDS", "60")
    generate_tenants(database, ["acme"], TenantSize(users=1, events=1))
    job = jobs.schedule_backup(database, "acme")
    jobs.start_job(database, job.job_id, str(uuid.uuid4()))  # a run this instance never had
    _age(database, job.job_id, dt.timedelta(seconds=61))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"database": resources["database"]})
        result = backup_jobs_sensor(context)
    assert isinstance(result, dg.SkipReason)
    failed = jobs.get_job(database, job.job_id)
    assert (failed.status, failed.error) == ("failed", f"running for more than 60 s without a run (the run {failed.run_id} is gone)")


def _completed_archive(database, store, tenant, age_hours):
    job = jobs.schedule_backup(database, tenant)
    jobs.start_job(database, job.job_id)
    key, manifest = archive_tenant(database, store, tenant, str(job.job_id))
    jobs.complete_job(database, job.job_id, key, manifest_digest(manifest.to_bytes()))
    _age(database, job.job_id, dt.timedelta(hours=age_hours))
    return job.job_id, key


def test_retention_keeps_the_last_n_completed_archives_per_tenant(database, resources):
    store = resources["object_store"].get_store()
    generate_tenants(database, ["acme", "globex"], TenantSize(users=1, events=3))
    oldest = _completed_archive(database, store, "acme", 30)
    middle = _completed_archive(database, store, "acme", 20)
    newest = _completed_archive(database, store, "acme", 10)
    other = _completed_archive(database, store, "globex", 40)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [tenant_archive_retention], instance=instance, resources=resources,
            run_config=retention_run_config(RetentionRequest(keep_last=2)),
        )
    metadata = result.asset_materializations_for_node("tenant_archive_retention")[0].metadata
    assert (metadata["archives_deleted"].value, metadata["keep_last"].value, metadata["tenants"].value) == (1, 2, 2)
    table = metadata["backup_jobs"].value
    assert [(r.data["tenant"], r.data["job_id"], r.data["status"]) for r in table.records] == [
        ("acme", str(newest[0]), "completed"), ("globex", str(other[0]), "completed"),
    ]
    assert list(store.list(f"archives/acme/{oldest[0]}/")) == []
    for _, key in (middle, newest, other):
        assert store.exists(key)
    expired = jobs.get_job(database, oldest[0])
    assert (expired.status, expired.manifest_key, expired.error) == (
        "completed", None, "archive deleted by retention (keep the last 2)",
    )


def test_the_retention_schedule_requests_the_retention_job_daily():
    assert tenant_archive_retention_schedule.cron_schedule == "30 3 * * *"
    assert tenant_archive_retention_schedule.job_name == "tenant_archive_retention_job"
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=dt.datetime(2026, 12, 1, 3, 30))
        [request] = tenant_archive_retention_schedule.evaluate_tick(context).run_requests
    assert request.run_config["ops"]["tenant_archive_retention"]["config"] == {"keepLast": 7}
