"""A Dagster instance on the production deploy/dagster.yaml, backed by a fresh PostgreSQL database,
and the webserver / daemon processes on loopback. Shared by the instance, webserver, dagster dev and
e2e tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class InstanceHome:
    path: Path
    env: dict[str, str]
    database: str


@contextmanager
def postgres_instance_home(server_url: str, tmp_path: Path) -> Iterator[InstanceHome]:
    """DAGSTER_HOME with deploy/dagster.yaml; DAGSTER_PG_* point at a new database, dropped after."""
    url = sa.make_url(server_url)
    name = f"dagster_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_USER": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
        "DAGSTER_PG_DB": name,
    }
    try:
        yield InstanceHome(home, env, name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running(
    name: str, args: list[str], env: dict[str, str], log_dir: Path, cwd: Path = REPO
) -> Iterator[Service]:
    """Start a process in `cwd`, in its own process group; on exit, stop the whole group (SIGTERM, then
    SIGKILL)."""
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            args, cwd=cwd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    service = Service(name, process, log_path)
    try:
        yield service
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the process group, SIGKILL what is left after `grace`, and wait until none of it remains
    (children such as the code server are reparented when their parent exits, then reaped)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + grace
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if group_alive(process.pid):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=grace)
    deadline = time.monotonic() + grace
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def webserver_args(port: int) -> list[str]:
    return [str(BIN / "dagster-webserver"), "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)]


def daemon_args() -> list[str]:
    return [str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")]


def wait_for_webserver(service: Service, base_url: str, timeout: float = 120.0) -> None:
    """Wait until the webserver answers and its code location has loaded."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited with {service.process.returncode}:\n{service.log_tail()}")
        try:
            data = graphql(base_url, "{ workspaceOrError { ... on Workspace { locationEntries { name "
                           "locationOrLoadError { __typename } } } } }")
            entries = data["workspaceOrError"]["locationEntries"]
            kinds = [e["locationOrLoadError"] and e["locationOrLoadError"]["__typename"] for e in entries]
            if kinds and all(k == "RepositoryLocation" for k in kinds):
                return
            if any(k == "PythonError" for k in kinds):
                raise RuntimeError(f"code location failed to load:\n{service.log_tail()}")
            last = str(kinds)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = str(exc)
        time.sleep(1.0)
    raise TimeoutError(f"{service.name} not ready after {timeout:.0f} s ({last}):\n{service.log_tail()}")


def graphql(base_url: str, query: str, variables: dict | None = None, timeout: float = 30.0) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{base_url}/graphql", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.load(response)
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A fresh virtual host on the machine's RabbitMQ (guest may use it); yields its broker URL."""
    vhost = f"pipelines_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


def _rabbitmqctl(*args: str) -> None:
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None:
        raise RuntimeError("rabbitmqctl is not installed (.ci/run installs and starts RabbitMQ)")
    subprocess.run([rabbitmqctl, "-q", *args], check=True, capture_output=True, timeout=120)


def celery_worker_args(name: str) -> list[str]:
    """A Celery worker of the code location named `name@<host>`, one step at a time."""
    return [
        str(BIN / "celery"), "-A", "pipelines.core.celery_worker", "worker", "-n", f"{name}@%h",
        "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
    ]


def wait_for_celery_worker(service: Service, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"worker {service.name} exited with {service.process.returncode}:\n{service.log_tail()}")
        if " ready." in service.log_path.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise TimeoutError(f"worker {service.name} not ready after {timeout:.0f} s:\n{service.log_tail()}")


LAUNCH_RUN = """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""


def launch_run(base_url: str, job: str, tags: dict[str, str], run_config: dict | None = None) -> str:
    """Launch a run of `job` of the `pipelines` location through GraphQL, as the launchpad does."""
    params = {
        "selector": {"repositoryLocationName": "pipelines", "repositoryName": "__repository__", "jobName": job},
        "runConfigData": run_config or {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
    }
    result = graphql(base_url, LAUNCH_RUN, {"params": params})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"could not launch {job}: {result}")
    return result["run"]["runId"]
