"""A production-shaped deployment on loopback, shared by the e2e scenarios of one test session:
`dagster-daemon run` and `dagster-webserver` on deploy/dagster.yaml (PostgreSQL instance storage,
a fresh database) and workspace.yaml; the application database in a fresh PostgreSQL schema; the object
store in a temporary folder; SQS on the session's moto server.

Stopping the deployment stops both process groups; the fixture checks that none of them is left.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore, ObjectStore
from pipelines_tests.support.dagster_instance import (
    Service,
    daemon_args,
    free_port,
    graphql,
    group_alive,
    postgres_instance_home,
    running,
    wait_for_webserver,
    webserver_args,
)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LOCATION = "pipelines"
REPOSITORY = "__repository__"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.postgres)


@dataclass
class Deployment:
    base_url: str
    env: dict[str, str]
    database: Database
    store: ObjectStore
    moto_endpoint: str
    webserver: Service
    daemon: Service

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        return graphql(self.base_url, query, variables)

    def wait_for(self, what: str, probe: Callable[[], object], timeout: float = 120.0, every: float = 2.0):
        """Poll `probe` until it returns something truthy; fail with `what` and the logs on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            for service in (self.daemon, self.webserver):
                if service.process.poll() is not None:
                    pytest.fail(f"{service.name} died while waiting for {what}:\n{service.log_tail()}")
            time.sleep(every)
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\ndaemon log:\n{self.daemon.log_tail(60)}")

    def selector(self, name_key: str, name: str) -> dict:
        return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, name_key: name}

    def runs(self, tags: dict[str, str] | None = None) -> list[dict]:
        filters = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        data = self.graphql(
            """query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs {
                 results { runId status tags { key value } assetSelection { path } } } } }""",
            {"filter": filters},
        )
        return data["runsOrError"]["results"]


@pytest.fixture(scope="session")
def deployment(postgres_server: str, moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("e2e")
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    admin = Database(postgres_server).engine
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    app_url = (
        sa.make_url(postgres_server)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    store_root = tmp / "home" / "objects"  # the embedded object store: $PIPELINES_HOME/objects
    try:
        with postgres_instance_home(postgres_server, tmp) as home:
            env = {
                **home.env,
                "PIPELINES_HOME": str(tmp / "home"),
                "PIPELINES_DATABASE_URL": app_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
            env.update(_scenario_env(moto_server))
            Database(app_url).upgrade()  # what `pipelines db upgrade` does, without a second interpreter
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            with running("webserver", webserver_args(port), env, tmp) as web, running(
                "daemon", daemon_args(), env, tmp
            ) as daemon:
                wait_for_webserver(web, base_url)
                yield Deployment(
                    base_url=base_url,
                    env=env,
                    database=Database(app_url),
                    store=LocalObjectStore(store_root),
                    moto_endpoint=moto_server,
                    webserver=web,
                    daemon=daemon,
                )
                started = [web.process.pid, daemon.process.pid]
            left = [pid for pid in started if group_alive(pid)]
            assert left == [], f"processes left behind after stopping the deployment: {left}"
    finally:
        Database(app_url).dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def _scenario_env(moto_server: str) -> dict[str, str]:
    """Settings the scenarios need from the deployment (the re-drive queue on moto's SQS)."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName=f"redrive-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return {
        "PIPELINES_REDRIVE_QUEUE_URL": queue_url,
        "PIPELINES_SQS_ENDPOINT_URL": moto_server,
        # Redeliver an unacknowledged message after 2 s, so the second delivery comes within a tick.
        "PIPELINES_REDRIVE_VISIBILITY_SECONDS": "2",
    }
