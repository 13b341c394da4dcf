import dagster as dg

from pipelines.tenant_archives import jobs
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines.tenant_archives.partitions import tenants
from pipelines.tenant_archives.sensors import backup_jobs_sensor


def _tick(instance, resources, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"database": resources["database"]})
    return backup_jobs_sensor(context)


def test_pending_jobs_become_runs_keyed_by_job_id_and_new_tenants_become_partitions(database, resources):
    generate_tenants(database, ["acme", "globex"], TenantSize(users=1, events=1))
    first = jobs.schedule_backup(database, "acme")
    second = jobs.schedule_backup(database, "globex")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(tenants.name, ["acme"])
        result = _tick(instance, resources)
    assert [(r.run_key, r.partition_key) for r in result.run_requests] == [
        (str(first.job_id), "acme"), (str(second.job_id), "globex"),
    ]
    assert result.run_requests[0].run_config["ops"]["tenant_archives"]["config"]["jobId"] == str(first.job_id)
    assert result.run_requests[0].tags["backup_job_id"] == str(first.job_id)
    [add] = result.dynamic_partitions_requests
    assert (add.partitions_def_name, list(add.partition_keys)) == ("tenants", ["globex"])
    assert result.cursor == second.created_at.isoformat()


def test_no_pending_job_skips_and_running_jobs_are_not_requested_again(database, resources):
    generate_tenants(database, ["acme"], TenantSize(users=1, events=1))
    with dg.instance_for_test() as instance:
        assert isinstance(_tick(instance, resources), dg.SkipReason)
        job = jobs.schedule_backup(database, "acme")
        cursor = _tick(instance, resources).cursor
        jobs.start_job(database, job.job_id)
        skipped = _tick(instance, resources, cursor)
    assert isinstance(skipped, dg.SkipReason) and skipped.skip_message == "no pending backup job"
