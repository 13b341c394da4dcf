"""The nightly fan-out: one archive run per tenant that changed since its last completed archive."""

import datetime as dt
import uuid

import dagster as dg
import sqlalchemy as sa

from pipelines.tenant_archives import jobs
from pipelines.tenant_archives.archive import archive_tenant
from pipelines.tenant_archives.fan_out import changed_tenants
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines.tenant_archives.partitions import tenants
from pipelines.tenant_archives.schedules import tenant_archive_nightly_schedule
from pipelines.tenant_archives.tables import application_events

UTC = dt.timezone.utc


def _archived(database, store, tenant):
    job = jobs.schedule_backup(database, tenant)
    jobs.start_job(database, job.job_id)
    key, _manifest = archive_tenant(database, store, tenant, str(job.job_id))
    jobs.complete_job(database, job.job_id, key)


def _four_tenants(database, store):
    """acme archived and untouched; globex archived, then an event added; hooli archived, then an event
    deleted; initech never archived; umbrella with a backup job pending."""
    generate_tenants(database, ["acme", "globex", "hooli", "initech", "umbrella"], TenantSize(users=2, events=3))
    for tenant in ("acme", "globex", "hooli"):
        _archived(database, store, tenant)
    jobs.schedule_backup(database, "umbrella")
    with database.begin() as conn:
        conn.execute(
            application_events.insert().values(
                tenant="globex", id=uuid.uuid4(), performed_at=dt.datetime.now(UTC), performed_by="u",
                event_type=1, message="login", severity=1, subject="s",
            )
        )
        victim = conn.scalar(sa.select(application_events.c.id).where(application_events.c.tenant == "hooli").limit(1))
        conn.execute(application_events.delete().where(application_events.c.id == victim))


def test_changed_tenants_are_the_new_the_touched_and_the_shrunk_ones(database, store):
    _four_tenants(database, store)
    assert changed_tenants(database, store) == ["globex", "hooli", "initech"]


def test_the_nightly_schedule_requests_one_run_per_changed_tenant_keyed_by_tenant_and_day(database, store, resources):
    _four_tenants(database, store)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(tenants.name, ["acme", "globex"])
        # `with`: the context's resources are torn down here, not left open for later tests.
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 12, 2, 2, 0, tzinfo=UTC), resources=resources
        ) as context:
            requests = tenant_archive_nightly_schedule(context)
        partitions = sorted(instance.get_dynamic_partitions(tenants.name))
    assert [(r.run_key, r.partition_key) for r in requests] == [
        ("globex:2026-12-02", "globex"),
        ("hooli:2026-12-02", "hooli"),
        ("initech:2026-12-02", "initech"),
    ]
    # No job id: the run creates its backup job, already running, so the backup-jobs sensor never starts it twice.
    assert requests[0].run_config["ops"]["tenant_archives"]["config"] == {
        "partSizeBytes": 104_857_600, "tenantColumn": "tenant", "tables": [],
    }
    assert partitions == ["acme", "globex", "hooli", "initech"]



def test_a_run_without_a_job_creates_its_job_running_for_itself(database, resources):
    """The sensor requests runs for *pending* jobs; the fan-out's job is never pending, so no second run."""
    from pipelines.core.runner import run_assets
    from pipelines.definitions import defs
    from pipelines.tenant_archives.requests import ArchiveRequest, archive_run_config

    generate_tenants(database, ["initech"], TenantSize(users=1, events=1))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(tenants.name, ["initech"])
        result = run_assets(
            defs(), ["tenant_archives"], instance=instance, partition_key="initech",
            run_config=archive_run_config(ArchiveRequest()), resources=resources,
        )
    [job] = jobs.list_jobs(database, "initech")
    assert (job.status, job.run_id) == ("completed", result.run_id)
    assert jobs.pending_jobs(database) == []
