"""The repo's dagster.yaml is a working production instance: PostgreSQL run storage."""

import pytest
import sqlalchemy as sa

import dagster as dg
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.core.runner import run_assets
from pipelines.definitions import defs as load_defs
from pipelines_tests.support.dagster_instance import postgres_instance_home

defs = load_defs()

pytestmark = pytest.mark.postgres


def test_dagster_yaml_keeps_runs_in_postgres(postgres_server, sqlite_url, tmp_path, monkeypatch):
    with postgres_instance_home(postgres_server, tmp_path) as home:
        for name, value in home.env.items():
            monkeypatch.setenv(name, value)
        instance = dg.DagsterInstance.from_config(str(home.path))
        try:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
            # Only runs that died without a failed step are retried (a failed step fails again).
            assert (instance.run_retries_enabled, instance.run_retries_max_retries) == (True, 1)
            assert instance.run_retries_retry_on_asset_or_op_failure is False
            database = DatabaseResource(url=sqlite_url)
            database.get_database().upgrade()
            result = run_assets(
                defs,
                ["responsive_responsibility_aggregate"],
                instance=instance,
                resources={"database": database, "object_store": ObjectStoreResource(root=str(tmp_path / "o"))},
            )
            assert result.success
        finally:
            instance.dispose()

        run_db = sa.make_url(postgres_server).set(drivername="postgresql+psycopg", database=home.database)
        engine = sa.create_engine(run_db)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT run_id, status FROM runs")).all()
        engine.dispose()
        assert rows == [(result.run_id, "SUCCESS")]
