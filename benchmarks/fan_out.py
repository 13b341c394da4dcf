"""Fan-out on Celery workers: archive N tenants (R rows each) as N `tenant_archive_job` runs with one
worker, then with two, on the deployment of the e2e tests (PostgreSQL instance storage and
application database, the daemon and the webserver, `PIPELINES_EXECUTOR=celery`, RabbitMQ on
127.0.0.1:5672, objects in a local folder). Prints the wall-clock of each round, the ratio two / one
(goal < 0.8), and per run the launch overhead (the run's time outside its step: run worker start,
plan, Celery hand-off, the worker loading the code location) against the step's own time.

    .venv/bin/python benchmarks/fan_out.py                          # 8 tenants x 100k rows
    .venv/bin/python benchmarks/fan_out.py --tenants 4 --rows 20000   # for development
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.core.database import Database
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines_tests.support import dagster_instance as deployment

DEFAULT_URL = os.environ.get(
    "PIPELINES_BENCH_POSTGRES_URL",
    os.environ.get("PIPELINES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
RUNS = """query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results {
  runId status startTime endTime stepStats { stepKey startTime endTime } } } } }"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=8)
    parser.add_argument("--rows", type=int, default=100_000, help="rows per tenant (almost all events)")
    args = parser.parse_args()
    tenants = [f"tenant-{i:02d}" for i in range(args.tenants)]
    schema = f"bench_fan_out_{uuid.uuid4().hex[:8]}"
    admin = Database(DEFAULT_URL).engine
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    app_url = sa.make_url(DEFAULT_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    database = Database(app_url)
    try:
        database.upgrade()
        started = time.monotonic()
        size = TenantSize(events=max(args.rows - 200, 1))
        rows = generate_tenants(database, tenants, size)
        print(f"{len(tenants)} tenants, {rows // len(tenants):,} rows each, written in {time.monotonic() - started:.0f} s")
        with tempfile.TemporaryDirectory() as tmp:
            _rounds(Path(tmp), app_url, tenants)
    finally:
        database.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def _rounds(tmp: Path, app_url: str, tenants: list[str]) -> None:
    with ExitStack() as stack:
        broker_url = stack.enter_context(deployment.rabbitmq_vhost())
        home = stack.enter_context(deployment.postgres_instance_home(DEFAULT_URL, tmp))
        env = {
            **home.env,
            "PIPELINES_HOME": str(tmp / "home"),
            "PIPELINES_DATABASE_URL": app_url,
            "PIPELINES_EXECUTOR": "celery",
            "PIPELINES_CELERY_BROKER_URL": broker_url,
        }
        port = deployment.free_port()
        base_url = f"http://127.0.0.1:{port}"
        web = stack.enter_context(deployment.running("webserver", deployment.webserver_args(port), env, tmp))
        stack.enter_context(deployment.running("daemon", deployment.daemon_args(), env, tmp))
        deployment.wait_for_webserver(web, base_url)
        deployment.graphql(base_url, f'mutation {{ setConcurrencyLimit(concurrencyKey: "tenant_archives", limit: {len(tenants)}) }}')
        for tenant in tenants:
            deployment.graphql(
                base_url,
                """mutation Add($key: String!) { addDynamicPartition(repositorySelector: {
                     repositoryLocationName: "pipelines", repositoryName: "__repository__"},
                     partitionsDefName: "tenants", partitionKey: $key) { __typename } }""",
                {"key": tenant},
            )
        seconds = {}
        for workers in (1, 2):
            worker = stack.enter_context(deployment.running(f"w{workers}", deployment.celery_worker_args(f"w{workers}"), env, tmp))
            deployment.wait_for_celery_worker(worker)
            seconds[workers] = _round(base_url, tenants, workers)
        print(f"two workers / one: {seconds[2] / seconds[1]:.2f}x (goal < 0.8x)  load {_load()}")


def _round(base_url: str, tenants: list[str], workers: int) -> float:
    batch = {"bench/batch": uuid.uuid4().hex[:8]}
    started = time.monotonic()
    for tenant in tenants:
        deployment.launch_run(base_url, "tenant_archive_job", {**batch, "dagster/partition": tenant})
    while True:
        runs = deployment.graphql(base_url, RUNS, {"filter": {"tags": [{"key": k, "value": v} for k, v in batch.items()]}})
        results = runs["runsOrError"]["results"]
        if len(results) == len(tenants) and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in results):
            break
        if time.monotonic() - started > 1800:
            raise TimeoutError(f"round with {workers} worker(s) not done after 30 minutes")
        time.sleep(1.0)
    wall = time.monotonic() - started
    failed = [r["runId"] for r in results if r["status"] != "SUCCESS"]
    if failed:
        raise RuntimeError(f"runs failed: {failed}")
    steps = [s["endTime"] - s["startTime"] for r in results for s in r["stepStats"]]
    overheads = [(r["endTime"] - r["startTime"]) - sum(s["endTime"] - s["startTime"] for s in r["stepStats"]) for r in results]
    print(
        f"{workers} worker(s): {len(tenants)} archives in {wall:.1f} s wall-clock; per run: step "
        f"{statistics.mean(steps):.1f} s (median {statistics.median(steps):.1f}), launch overhead "
        f"{statistics.mean(overheads):.1f} s (median {statistics.median(overheads):.1f}) = "
        f"{statistics.mean(overheads) / statistics.mean(steps):.2f}x the step  load {_load()}"
    )
    return wall


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    print(f"started {dt.datetime.now(dt.UTC):%H:%M:%S} UTC, load {_load()}")
    main()
