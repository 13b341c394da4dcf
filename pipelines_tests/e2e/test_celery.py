"""Steps on Celery workers (issue 16): the deployment of `conftest.py` with `PIPELINES_EXECUTOR=celery`,
objects on moto's S3, and two workers (`w1@%h`, `w2@%h`) as their own process groups on a fresh
RabbitMQ virtual host. The posture job and four tenant archives run at once on both workers and give
what an in-process run of the same data gives; a worker killed with SIGKILL mid-step fails its run
within seconds, with the reason on the run, and the retry writes no row or file twice.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import dagster as dg
import pytest
import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import ObjectStore
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.core.rfc4180 import read_records
from pipelines.core.runner import run_assets
from pipelines.definitions import defs
from pipelines.posture.sample_catalog import CatalogShape, write_catalog
from pipelines.tenant_archives.generate import generate_tenants
from pipelines.tenant_archives.manifest import Manifest
from pipelines.tenant_archives.tables import backup_jobs
from pipelines_tests.e2e.conftest import Deployment
from pipelines_tests.support.dagster_instance import (
    Service,
    celery_worker_args,
    daemon_args,
    free_port,
    group_alive,
    launch_run,
    postgres_instance_home,
    rabbitmq_vhost,
    running,
    wait_for_celery_worker,
    wait_for_webserver,
    webserver_args,
)

TENANTS = ["acme", "globex", "initech", "umbrella"]
# 8,119 posture objects.
CATALOG = CatalogShape(services=104, responsibilities_per_component=12)
POSTURE_JOB = "posture_refresh_export_import"
SCRIPT_CREATED = "lite-import-script"  # the seed's created_by of imported records

pytestmark = pytest.mark.timeout(600)


@dataclass
class CeleryDeployment:
    deployment: Deployment
    workers: dict[str, Service]
    database: Database
    store: ObjectStore


@pytest.fixture(scope="module")
def celery_deployment(
    postgres_server: str, moto_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryDeployment]:
    tmp = tmp_path_factory.mktemp("celery")
    schema = f"e2e_celery_{uuid.uuid4().hex[:10]}"
    admin = Database(postgres_server).engine
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    app_url = _schema_url(postgres_server, schema)
    bucket = f"e2e-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=bucket)
    database = Database(app_url)
    started: list[int] = []
    try:
        database.upgrade()
        _sample_data(database)
        with rabbitmq_vhost() as broker_url, postgres_instance_home(postgres_server, tmp) as home:
            env = {
                **home.env,
                "PIPELINES_HOME": str(tmp / "home"),
                "PIPELINES_DATABASE_URL": app_url,
                "PIPELINES_S3_BUCKET": bucket,
                "PIPELINES_S3_ENDPOINT_URL": moto_server,
                "PIPELINES_S3_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "PIPELINES_EXECUTOR": "celery",
                "PIPELINES_CELERY_BROKER_URL": broker_url,
            }
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            with running("webserver", webserver_args(port), env, tmp) as web, running(
                "daemon", daemon_args(), env, tmp
            ) as daemon, running("w1", celery_worker_args("w1"), env, tmp) as w1, running(
                "w2", celery_worker_args("w2"), env, tmp
            ) as w2:
                started = [p.process.pid for p in (web, daemon, w1, w2)]
                wait_for_webserver(web, base_url)
                for worker in (w1, w2):
                    wait_for_celery_worker(worker)
                store = ObjectStoreResource(bucket=bucket, endpoint_url=moto_server, region_name="us-east-1").get_store()
                yield CeleryDeployment(
                    deployment=Deployment(base_url, env, database, store, moto_server, web, daemon),
                    workers={"w1": w1, "w2": w2},
                    database=database,
                    store=store,
                )
            left = [pid for pid in started if group_alive(pid)]
            assert left == [], f"process groups left after stopping the deployment: {left}"
    finally:
        for pid in started:  # a failed start leaves nothing either
            if group_alive(pid):
                os.killpg(pid, signal.SIGKILL)
        database.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def _schema_url(server: str, schema: str) -> str:
    return sa.make_url(server).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def _sample_data(database: Database) -> None:
    write_catalog(database, CATALOG)
    generate_tenants(database, TENANTS)


EVENTS = """query Events($id: ID!) { logsForRun(runId: $id, limit: 10000) { __typename
  ... on EventConnection { events { __typename
    ... on MessageEvent { message stepKey }
    ... on EngineEvent { metadataEntries { label ... on TextMetadataEntry { text } } }
    ... on RunFailureEvent { error { message } }
    ... on ExecutionStepFailureEvent { error { message } } } } } }"""


def launch(deployment: Deployment, job: str, tags: dict[str, str], run_config: dict | None = None) -> str:
    return launch_run(deployment.base_url, job, tags, run_config)


def events(deployment: Deployment, run_id: str) -> list[dict]:
    data = deployment.graphql(EVENTS, {"id": run_id})["logsForRun"]
    assert data["__typename"] == "EventConnection", data
    return data["events"]


def workers_of(deployment: Deployment, run_id: str) -> dict[str, str]:
    """Step key -> the Celery worker that ran it, from the run's engine events."""
    ran: dict[str, str] = {}
    for event in events(deployment, run_id):
        for entry in event.get("metadataEntries") or []:
            if entry["label"] == "Celery worker":
                ran[event["stepKey"]] = entry["text"]
    return ran


def _failures(deployment: Deployment, run_ids: list[str]) -> str:
    lines = []
    for run_id in run_ids:
        for event in events(deployment, run_id):
            if event["__typename"] in ("RunFailureEvent", "ExecutionStepFailureEvent", "EngineEvent") and (
                event.get("error") or "fail" in (event.get("message") or "").lower()
            ):
                lines.append(f"{run_id[:8]} {event.get('stepKey')}: {event.get('message')} {event.get('error')}")
    return "\n".join(lines)


def finished(deployment: Deployment, tags: dict[str, str], count: int) -> list[dict]:
    runs = deployment.runs(tags)
    done = [run for run in runs if run["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
    return runs if len(runs) >= count and len(done) == len(runs) else []


def test_the_posture_job_and_four_tenant_archives_run_at_once_on_both_workers_as_in_process(
    celery_deployment: CeleryDeployment, pg_database: Database, tmp_path: Path
):
    deployment = celery_deployment.deployment
    repository = {"repositoryLocationName": "pipelines", "repositoryName": "__repository__"}
    for tenant in TENANTS:
        added = deployment.graphql(
            """mutation Add($repo: RepositorySelector!, $key: String!) { addDynamicPartition(
                 repositorySelector: $repo, partitionsDefName: "tenants", partitionKey: $key) { __typename } }""",
            {"repo": repository, "key": tenant},
        )["addDynamicPartition"]
        assert added["__typename"] == "AddDynamicPartitionSuccess", added
    # The instance's pools allow one step unless set: let the four tenants archive at once.
    assert deployment.graphql('mutation { setConcurrencyLimit(concurrencyKey: "tenant_archives", limit: 4) }')

    batch = {"e2e/batch": uuid.uuid4().hex[:8]}
    run_ids = [launch(deployment, POSTURE_JOB, batch)]
    run_ids += [launch(deployment, "tenant_archive_job", {**batch, "dagster/partition": t}) for t in TENANTS]
    runs = deployment.wait_for("the five runs", lambda: finished(deployment, batch, 5), timeout=300)
    assert {run["runId"]: run["status"] for run in runs} == {run_id: "SUCCESS" for run_id in run_ids}, (
        _failures(deployment, run_ids)
    )

    ran = {run_id: workers_of(deployment, run_id) for run_id in run_ids}
    assert sorted(ran[run_ids[0]]) == [
        "lite_dynamic_state_export", "lite_dynamic_state_import", "responsive_responsibility_aggregate"
    ]
    for run_id in run_ids[1:]:  # the archive, then its WARN check on the backup jobs, each a step
        assert sorted(ran[run_id]) == ["tenant_archives", "tenant_archives_backup_jobs_not_failed_or_stuck"], ran
    hosts = {worker.split("@")[0] for steps in ran.values() for worker in steps.values()}
    assert hosts == {"w1", "w2"}, f"steps ran on {ran}"

    # The same data, in-process, in another schema and a local folder.
    _sample_data(pg_database)
    url = pg_database.url.render_as_string(hide_password=False)
    resources = {"database": DatabaseResource(url=url), "object_store": ObjectStoreResource(root=str(tmp_path / "o"))}
    local = resources["object_store"].get_store()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", TENANTS)
    run_assets(defs(), dg.AssetSelection.groups("posture"), instance=instance, resources=resources)
    for tenant in TENANTS:
        run_assets(defs(), ["tenant_archives"], instance=instance, partition_key=tenant, resources=resources)

    assert _export_objects(celery_deployment.store) == _export_objects(local)
    assert _script_created(celery_deployment.database) == _script_created(pg_database)
    assert _script_created(pg_database)["component_instances"] == 8119
    for tenant in TENANTS:
        on_workers = _archive(celery_deployment.database, celery_deployment.store, tenant)
        in_process = _archive(pg_database, local, tenant)
        assert on_workers == in_process, tenant
        assert sum(len(records) for records in on_workers.values()) > 200


def test_a_worker_killed_mid_step_fails_its_run_with_the_reason_and_the_retry_writes_nothing_twice(
    celery_deployment: CeleryDeployment,
):
    deployment = celery_deployment.deployment
    exports_before = _export_keys(celery_deployment.store)
    batch = {"e2e/batch": uuid.uuid4().hex[:8]}
    # The import is held mid-step, deterministically: the test locks the fulfillments against writes
    # (reads go on), so the step's first write of them (its REPLACE_ALL delete) waits (a fixed sleep
    # was not enough once the whole step took less than a second).
    with celery_deployment.database.engine.connect() as blocker:
        held = blocker.begin()
        blocker.exec_driver_sql("LOCK TABLE component_instance_responsibility_fulfillments IN EXCLUSIVE MODE")
        run_id = launch(deployment, POSTURE_JOB, batch)

        def import_started() -> str:
            return workers_of(deployment, run_id).get("lite_dynamic_state_import", "")

        def import_waits() -> bool:
            waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            with celery_deployment.database.engine.connect() as conn:
                return bool(conn.exec_driver_sql(waiting).scalar())

        worker = deployment.wait_for("the import step on a worker", import_started, timeout=180, every=0.5)
        victim = celery_deployment.workers[worker.split("@")[0]]
        deployment.wait_for("the import to wait for the locked table", import_waits, timeout=60, every=0.2)
        assert deployment.runs(batch)[0]["status"] == "STARTED"
        killed_at = time.monotonic()
        os.killpg(victim.process.pid, signal.SIGKILL)
        held.rollback()  # the killed step's session gets the lock, finds its client gone and rolls back

    def failed() -> dict:
        return next((r for r in deployment.runs(batch) if r["runId"] == run_id and r["status"] == "FAILURE"), {})

    try:
        deployment.wait_for("the run of the killed worker to fail", failed, timeout=120, every=0.5)
    except BaseException:
        print("runs:", json.dumps(deployment.runs(batch), indent=1)[:3000])
        print("events:", "\n".join((e.get("message") or e["__typename"])[:300] for e in events(deployment, run_id)[-25:]))
        raise
    assert time.monotonic() - killed_at < 120
    messages = [e.get("message") or "" for e in events(deployment, run_id)]
    assert any("was lost" in m for m in messages), "no event says why:\n" + "\n".join(messages[-15:])
    failure = [e for e in events(deployment, run_id) if e["__typename"] == "RunFailureEvent"]
    assert failure and "was lost" in json.dumps(failure), failure

    # deploy/dagster.yaml retries a failed run once: the retry imports on the surviving worker.
    def retried() -> list[dict]:
        runs = deployment.runs({"dagster/parent_run_id": run_id})
        return runs if runs and runs[0]["status"] in ("SUCCESS", "FAILURE") else []

    try:
        retry = deployment.wait_for("the automatic retry", retried, timeout=240)
    except BaseException:
        print("runs:", json.dumps(deployment.runs(), indent=1)[:6000])
        print("events of the killed run:", "\n".join(m[:300] for m in messages))
        with celery_deployment.database.begin() as conn:
            activity = conn.execute(sa.text(
                "SELECT pid, state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).all()
        print("database sessions:", "\n".join(map(str, activity)))
        raise
    assert [r["status"] for r in retry] == ["SUCCESS"]
    survivor = {"w1", "w2"} - {victim.name}
    assert {w.split("@")[0] for w in workers_of(deployment, retry[0]["runId"]).values()} == survivor

    exports = _export_keys(celery_deployment.store)
    assert len(exports - exports_before) == 1, "the killed run's export, and no second one by the retry"
    # One of each per exported object: the killed import's writes were rolled back, none doubled.
    counts = _script_created(celery_deployment.database)
    assert counts == {"component_instances": 8119, "responsibilities": 8119, "fulfillments": 8119}


def _export_keys(store: ObjectStore) -> set[str]:
    return {info.key for info in store.list("posture/exports/")}


def _export_objects(store: ObjectStore) -> list[str]:
    (key,) = sorted(_export_keys(store))[:1]
    document = json.loads(store.get_bytes(key))
    return sorted(json.dumps(obj, sort_keys=True) for obj in document["liteDynamicStateObjects"])


def _script_created(database: Database) -> dict[str, int]:
    tables = {
        "component_instances": "component_instances",
        "responsibilities": "component_instance_responsibilities",
        "fulfillments": "component_instance_responsibility_fulfillments",
    }
    with database.begin() as conn:
        return {
            name: conn.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE created_by = :by"), {"by": SCRIPT_CREATED})
            for name, table in tables.items()
        }


def _archive(database: Database, store: ObjectStore, tenant: str) -> dict[str, list]:
    """Entity -> its archived records (header first, rows sorted), from the tenant's completed job."""
    with database.begin() as conn:
        (key,) = conn.execute(
            sa.select(backup_jobs.c.manifest_key).where(backup_jobs.c.tenant == tenant, backup_jobs.c.status == "completed")
        ).scalars().all()
    manifest = Manifest.parse(store.get_bytes(key), key)
    folder = key.rsplit("/", 1)[0]
    archived: dict[str, list] = {}
    for file in manifest.files:
        records = list(read_records(io.StringIO(store.get_bytes(f"{folder}/{file.name}").decode("utf-8"), newline="")))
        header, rows = records[0], sorted(records[1:], key=repr)
        archived.setdefault(file.entity, [header]).extend(rows)
    return archived
