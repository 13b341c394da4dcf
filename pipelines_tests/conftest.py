"""Fixtures every test module shares: both database backends, a moto S3 server, a clean environment.

PostgreSQL: `PIPELINES_TEST_POSTGRES_URL` (default postgresql://postgres@127.0.0.1:5432/test); each test
gets its own fresh schema. When `CI` is set, a PostgreSQL test that cannot connect fails, never skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore, ObjectStore
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.core.settings import ALL_SETTINGS

POSTGRES_URL = os.environ.get("PIPELINES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reaches PostgreSQL, through whatever fixture, carries the `postgres` marker."""
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No test sees the developer's PIPELINES_* settings; each gets its own PIPELINES_HOME."""
    for setting in ALL_SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = tmp_path / "pipelines-home"
    monkeypatch.setenv("PIPELINES_HOME", str(home))
    return home


def _admin_engine() -> sa.Engine:
    return Database(POSTGRES_URL).engine


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL URL, once checked; skips locally when there is none, fails in CI."""
    try:
        with _admin_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means the same here
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable: {str(exc).splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: PostgreSQL tests must run)")
        pytest.skip(message + " (skipped locally; with CI set this fails)")
    return POSTGRES_URL


def _with_search_path(url: str, schema: str) -> str:
    parsed = sa.make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@contextmanager
def fresh_schema_url(server_url: str = POSTGRES_URL) -> Iterator[str]:
    """A URL whose connections live in a new, empty schema of the server's database, dropped after:
    one application of its own beside the others on the same server."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = _admin_engine()
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = _with_search_path(server_url, schema)
    try:
        yield url
    finally:
        Database(url).dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose connections live in a fresh, empty schema, dropped after the test."""
    with fresh_schema_url(postgres_server) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each backend in turn."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(fixture)


@pytest.fixture
def database(database_url: str) -> Database:
    """A migrated database on each backend in turn."""
    db = Database(database_url)
    db.upgrade()
    return db


@pytest.fixture
def pg_database(postgres_url: str) -> Database:
    """A migrated PostgreSQL database, for what only PostgreSQL does (COPY, kill tests)."""
    db = Database(postgres_url)
    db.upgrade()
    return db


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's S3/SQS server on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    saved = {name: os.environ.get(name) for name in AWS_TEST_ENV}
    os.environ.update(AWS_TEST_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def s3_bucket(moto_server: str) -> str:
    """A fresh, empty bucket on the moto server."""
    import boto3

    name = f"bucket-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_resource(moto_server: str, s3_bucket: str) -> ObjectStoreResource:
    return ObjectStoreResource(bucket=s3_bucket, endpoint_url=moto_server, region_name="us-east-1", max_attempts=1)


@pytest.fixture(params=["local", "s3"])
def object_store_resource(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStoreResource:
    """The object store on each backend in turn: a local folder, then S3 on moto."""
    if request.param == "local":
        return ObjectStoreResource(root=str(tmp_path / "objects"))
    return request.getfixturevalue("s3_resource")


@pytest.fixture
def object_store(object_store_resource: ObjectStoreResource) -> ObjectStore:
    return object_store_resource.get_store()


@pytest.fixture
def local_store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects")


@pytest.fixture
def resources(database: Database, tmp_path: Path) -> dict:
    """Dagster resources on the test's database and a local object store."""
    return {
        "database": DatabaseResource(url=database.url.render_as_string(hide_password=False)),
        "object_store": ObjectStoreResource(root=str(tmp_path / "objects")),
    }


@pytest.fixture(scope="session")
def launchpad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One dagster-webserver for the session's launchpad tests (its GraphQL validates and launches run
    config as the UI's launchpad does); its base URL. No test may leave a run behind in it."""
    from pipelines_tests.support.dagster_instance import free_port, running, wait_for_webserver, webserver_args

    folder = tmp_path_factory.mktemp("launchpad")
    home = folder / "dagster_home"
    home.mkdir()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with running("webserver", webserver_args(port), {"DAGSTER_HOME": str(home)}, folder) as web:
        wait_for_webserver(web, base_url)
        yield base_url


@pytest.fixture(autouse=True)
def no_leaked_defs_state_storage() -> Iterator[None]:
    """A Dagster context built with resources and never closed (a sensor or schedule context, a direct
    invocation) leaves Dagster's current defs-state storage pointing at an instance it disposes; every
    later repository build in the process then fails ("undefined DagsterInstance weakref"). Each test
    starts and ends with none."""
    from dagster._core.storage.defs_state import base

    base._current_storage.set(None)
    yield
    base._current_storage.set(None)
