import dagster as dg
import pytest

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore
from pipelines.core.resources import ObjectStoreResource
from pipelines.tenant_archives import jobs
from pipelines.tenant_archives.assets import tenant_archives, tenant_restore
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines.tenant_archives.manifest import manifest_key
from pipelines.tenant_archives.partitions import tenants
from pipelines.tenant_archives.requests import ArchiveRequest, RestoreRequest, archive_run_config, restore_run_config
from pipelines_tests.tenant_archives.conftest import tenant_rows


class StatusRecordingStore(LocalObjectStore):
    """A real local store that notes the job's status each time a file is written."""

    def __init__(self, root, database, seen: list[str], fail: bool = False):
        super().__init__(root)
        self.database, self.seen, self.fail = database, seen, fail

    def open_write(self, key):
        self.seen.extend(job.status for job in jobs.list_jobs(self.database))
        if self.fail:
            raise OSError(f"object store unavailable: cannot write {key}")
        return super().open_write(key)


SEEN: list[str] = []  # job statuses the store saw while files were written (runs are in-process)


class RecordingStoreResource(ObjectStoreResource):
    database_url: str
    fail: bool = False

    def get_store(self):
        return StatusRecordingStore(self.root, Database(self.database_url), SEEN, self.fail)


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(tenants.name, ["acme"])
        yield instance


def _store_resource(resources, database, fail=False):
    SEEN.clear()
    url = database.url.render_as_string(hide_password=False)
    return RecordingStoreResource(root=resources["object_store"].root, database_url=url, fail=fail)


def test_a_run_takes_its_job_pending_running_completed(database, resources, instance):
    generate_tenants(database, ["acme"], TenantSize(users=3, events=20))
    job = jobs.schedule_backup(database, "acme")
    result = dg.materialize(
        [tenant_archives], partition_key="acme", instance=instance, run_config=archive_run_config(ArchiveRequest(job_id=str(job.job_id))),
        resources={**resources, "object_store": _store_resource(resources, database)},
    )
    assert result.success
    assert set(SEEN) == {"running"}
    done = jobs.get_job(database, job.job_id)
    assert (done.status, done.manifest_key, done.error) == ("completed", manifest_key("acme", str(job.job_id)), None)
    metadata = result.asset_materializations_for_node("tenant_archives")[0].metadata
    assert metadata["rows"].value == 1 + 1 + 3 + 3 + 3 + 3 + 20 + 14 + 14
    assert metadata["files"].value == 9


def test_a_run_marks_its_job_failed_with_the_error_when_the_store_fails(database, resources, instance):
    generate_tenants(database, ["acme"], TenantSize(users=3, events=20))
    job = jobs.schedule_backup(database, "acme")
    with pytest.raises(OSError, match="object store unavailable"):
        dg.materialize(
            [tenant_archives], partition_key="acme", instance=instance, run_config=archive_run_config(ArchiveRequest(job_id=str(job.job_id))),
            resources={**resources, "object_store": _store_resource(resources, database, fail=True)},
        )
    assert SEEN == ["running"]
    failed = jobs.get_job(database, job.job_id)
    assert failed.status == "failed"
    assert failed.error.startswith("OSError: object store unavailable: cannot write archives/acme/")
    assert failed.manifest_key is None


def test_materializing_a_tenant_without_a_job_creates_one(database, resources, instance):
    generate_tenants(database, ["acme"], TenantSize(users=1, events=1))
    assert dg.materialize([tenant_archives], partition_key="acme", instance=instance, resources=resources).success
    [job] = jobs.list_jobs(database, "acme")
    assert job.status == "completed" and job.manifest_key.startswith(f"archives/acme/{job.job_id}/")


def test_a_run_refuses_a_job_of_another_tenant(database, resources, instance):
    generate_tenants(database, ["acme", "globex"], TenantSize(users=1, events=1))
    job = jobs.schedule_backup(database, "globex")
    with pytest.raises(TenantArchiveError, match=rf"backup job {job.job_id} is of tenant 'globex', not of partition 'acme'"):
        dg.materialize(
            [tenant_archives], partition_key="acme", instance=instance,
            run_config=archive_run_config(ArchiveRequest(job_id=str(job.job_id))), resources=resources,
        )
    assert jobs.get_job(database, job.job_id).status == "pending"


def test_restore_asset_loads_the_archive_and_adds_the_tenant_partition(database, target_database, resources, instance):
    generate_tenants(database, ["acme"], TenantSize(users=4, events=30))
    dg.materialize([tenant_archives], partition_key="acme", instance=instance, resources=resources)
    [job] = jobs.list_jobs(database, "acme")
    target = {**resources, "database": type(resources["database"])(url=target_database.url.render_as_string(hide_password=False))}
    result = dg.materialize(
        [tenant_restore], instance=instance, resources=target, run_config=restore_run_config(RestoreRequest(manifest_key=job.manifest_key, tenant="acme-2"))
    )
    assert result.asset_materializations_for_node("tenant_restore")[0].metadata["rows"].value == 1 + 1 + 3 * 4 + 3 + 30 + 28
    assert tenant_rows(target_database, "acme-2") == tenant_rows(database, "acme")
    assert instance.get_dynamic_partitions(tenants.name) == ["acme", "acme-2"]
