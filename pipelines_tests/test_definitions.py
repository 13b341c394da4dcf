"""The code location loads fast and without I/O."""

import subprocess
import sys
import textwrap

from pipelines_tests.support.code_location import ASSET_GROUPS

PROBE = textwrap.dedent(
    """
    import time
    import dagster  # the frameworks' own import time is not ours to cut; measure what we add
    import sqlalchemy as sa

    connects = []
    sa.event.listen(sa.pool.Pool, "connect", lambda *a: connects.append(a))
    started = time.monotonic()
    import pipelines.definitions as d
    elapsed = time.monotonic() - started
    from pipelines.core import database
    assert d.defs() is not None
    print(len(connects), len(database._engines), round(elapsed, 3))
    """
)


def test_importing_definitions_opens_no_connection_and_is_fast(tmp_path):
    import os

    env = {
        **os.environ,
        # An unreachable server: any connection attempt at import would show (or hang).
        "PIPELINES_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/app",
        "PIPELINES_HOME": str(tmp_path / "home"),
    }
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    connects, engines, seconds = result.stdout.split()
    assert (connects, engines) == ("0", "0")
    assert float(seconds) < 2.0
    assert not (tmp_path / "home").exists()


def test_workspace_yaml_loads_the_code_location_with_every_asset_schedule_and_sensor():
    import dagster as dg
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    from pipelines_tests.support.dagster_instance import REPO

    with dg.instance_for_test() as instance, WorkspaceProcessContext(
        instance, WorkspaceFileTarget(paths=[str(REPO / "workspace.yaml")])
    ) as workspace:
        location = workspace.create_request_context().get_code_location("pipelines")
        repository = location.get_repository("__repository__")
        assets = {node.asset_key.to_user_string(): node.group_name for node in repository.get_asset_node_snaps()}
        schedules = {schedule.name for schedule in repository.get_schedules()}
        sensors = {sensor.name for sensor in repository.get_sensors()}

    assert assets == ASSET_GROUPS
    assert schedules == {
        "posture_daily",
        "study_exports_daily_schedule",
        "study_exports_hourly_schedule",
        "tenant_archive_retention_schedule",
        "tenant_archive_nightly_schedule",
    }
    assert sensors == {
        "study_exports_redrive_sensor",
        "vex_inbox_sensor",
        "vex_raw_documents_sensor",
        "default_automation_condition_sensor",  # vex_consensus follows vex_statements (eager)
        "backup_jobs_sensor",
        "import_batches_inbox_sensor",
        "run_failure_alert",
    }


def test_every_asset_names_its_owner_and_links_to_its_source():
    from pipelines.definitions import defs

    specs = list(defs().resolve_all_asset_specs())
    assert specs
    for spec in specs:
        assert spec.owners == ["team:platform-data"], spec.key
        [reference] = spec.metadata["dagster/code_references"].code_references
        assert reference.file_path.endswith(".py") and "/pipelines/" in reference.file_path, spec.key


def test_only_the_alert_backups_retention_and_dagsters_automation_start_running():
    """The README's production section lists what starts running by itself; everything else starts stopped."""
    import dagster as dg

    from pipelines.definitions import defs

    definitions = defs()
    running = {s.name for s in definitions.schedules if s.default_status == dg.DefaultScheduleStatus.RUNNING}
    running |= {s.name for s in definitions.sensors if s.default_status == dg.DefaultSensorStatus.RUNNING}
    assert running == {"run_failure_alert", "backup_jobs_sensor", "tenant_archive_retention_schedule"}
