"""The assets through Dagster: a daily partition, a 30-partition backfill as one run, the instant job."""

import dagster as dg
import pytest

from pipelines.definitions import defs as load_defs
from pipelines.study_exports.assets import study_exports_daily, study_exports_hourly, study_exports_on_request
from pipelines.study_exports.definitions import defs as study_exports_defs
from pipelines.study_exports.resources import StudyExportsResource
from pipelines.study_exports.watermarks import read_export_times
from pipelines_tests.study_exports.conftest import at, exported_ids, seed

code_location = load_defs()

ASSETS = [study_exports_daily, study_exports_hourly, study_exports_on_request]
# Records of January 2024: one per study per day, at noon.
JANUARY = [
    (f"{study}-{day:02d}", study, at("10-01 12:00").replace(year=2024, month=1, day=day), "survey", {"day": day})
    for study in ("s1", "s2")
    for day in range(1, 32)
]


@pytest.fixture
def export_resources(resources):
    return {**resources, "study_exports": StudyExportsResource()}


def metadata_of_event(event):
    return {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}


def metadata_of(result):
    """The metadata of the run's (first) materialization."""
    event = result.get_asset_materialization_events()[0]
    return {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}


def test_a_daily_partition_exports_its_window_and_moves_the_watermarks(database, export_resources):
    seed(database, JANUARY, study_ids=("s1", "s2"))
    result = dg.materialize(ASSETS, selection=[study_exports_daily], partition_key="2024-01-05",
                            resources=export_resources)
    metadata = metadata_of(result)
    assert (metadata["records_exported"], metadata["files_written"], metadata["watermarks_moved"]) == (2, 2, 2)
    assert read_export_times(database) == {s: at("10-06 00:00").replace(year=2024, month=1) for s in ("s1", "s2")}
    store = export_resources["object_store"].get_store()
    assert exported_ids(store, [i.key for i in store.list("study_exports/exports/")]) == ["s1-05", "s2-05"]


def test_a_30_partition_backfill_runs_as_one_run_and_ignores_the_watermarks(database, export_resources):
    seed(database, JANUARY, study_ids=("s1", "s2"))
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        ASSETS,
        selection=[study_exports_daily],
        instance=instance,
        resources=export_resources,
        tags={
            "dagster/asset_partition_range_start": "2024-01-01",
            "dagster/asset_partition_range_end": "2024-01-30",
            "dagster/backfill": "test-backfill",
        },
    )
    assert result.success
    assert len(instance.get_run_ids()) == 1
    partitions = instance.get_materialized_partitions(dg.AssetKey("study_exports_daily"))
    assert len(partitions) == 30 and min(partitions) == "2024-01-01" and max(partitions) == "2024-01-30"
    per_partition = {
        e.partition: (metadata_of_event(e)["records_exported"], metadata_of_event(e)["watermarks_moved"])
        for e in result.get_asset_materialization_events()
    }
    assert per_partition == {f"2024-01-{day:02d}": (2, 0) for day in range(1, 31)}
    assert read_export_times(database) == {}


def test_a_7_partition_single_run_backfill_records_each_days_own_counts_and_links(database, export_resources):
    seed(database, [r for r in JANUARY if r[0] not in ("s1-03", "s2-03", "s2-05")], study_ids=("s1", "s2"))
    result = dg.materialize(
        ASSETS,
        selection=[study_exports_daily],
        resources=export_resources,
        tags={
            "dagster/asset_partition_range_start": "2024-01-01",
            "dagster/asset_partition_range_end": "2024-01-07",
            "dagster/backfill": "seven-days",
        },
    )
    events = {e.partition: metadata_of_event(e) for e in result.get_asset_materialization_events()}
    assert {day: (m["records_exported"], m["files_written"], m["windows"]) for day, m in events.items()} == {
        "2024-01-01": (2, 2, 1),
        "2024-01-02": (2, 2, 1),
        "2024-01-03": (0, 0, 1),
        "2024-01-04": (2, 2, 1),
        "2024-01-05": (1, 1, 1),
        "2024-01-06": (2, 2, 1),
        "2024-01-07": (2, 2, 1),
    }
    store = export_resources["object_store"].get_store()
    manifests = {day: m["manifest"] for day, m in events.items()}
    assert len(set(manifests.values())) == 7  # an export, and a manifest, per day
    assert all(path.startswith(str(store.root)) and path.endswith(".json") for path in manifests.values())
    [key] = [line for line in events["2024-01-05"]["files"].splitlines() if "s1/survey.csv" in line]
    assert "/daily/20240105T000000Z--20240106T000000Z/s1/survey.csv" in key


def test_the_instant_job_exports_a_whitelisted_study_up_to_the_end(database, resources):
    seed(database, JANUARY, study_ids=("s1", "s2"))
    defs = dg.Definitions.merge(study_exports_defs, dg.Definitions(resources=resources))
    result = defs.resolve_job_def("study_exports_instant_job").execute_in_process(
        run_config={"ops": {"study_exports_on_request": {"config": {
            "studyWhitelist": ["s2"], "endDateTime": "2024-01-03T18:00:00Z"}}}},
    )
    metadata = metadata_of(result)
    assert metadata["records_exported"] == 1  # INSTANT starts at the start of the end's day
    assert read_export_times(database) == {"s2": at("10-03 18:00").replace(year=2024, month=1)}


def test_the_daily_schedule_runs_the_day_before_after_midnight_utc():
    schedule = code_location.resolve_schedule_def("study_exports_daily_schedule")
    context = dg.build_schedule_context(scheduled_execution_time=at("10-05 01:00").replace(year=2024, month=1))
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2024-01-04"
    assert schedule.cron_schedule == "0 1 * * *"


def test_the_hourly_schedule_runs_the_hour_before():
    schedule = code_location.resolve_schedule_def("study_exports_hourly_schedule")
    context = dg.build_schedule_context(scheduled_execution_time=at("10-05 10:05").replace(year=2024, month=1))
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2024-01-05-09:00"


def test_the_definitions_name_the_assets_jobs_schedules_and_sensor():
    repository = code_location.get_repository_def()
    assert {k.to_user_string() for k in repository.asset_graph.get_all_asset_keys()} >= {
        "study_exports_daily", "study_exports_hourly", "study_exports_on_request"}
    assert {s.name for s in repository.schedule_defs} >= {
        "study_exports_daily_schedule", "study_exports_hourly_schedule"}
    assert "study_exports_redrive_sensor" in {s.name for s in repository.sensor_defs}
    assert repository.has_job("study_exports_instant_job")
    assert study_exports_daily.backfill_policy == dg.BackfillPolicy.single_run()
    assert "study_exports" in code_location.resources


def test_failed_steps_are_not_run_retried_and_only_transient_errors_are_retried_by_the_step():
    import psycopg
    import sqlalchemy as sa

    from pipelines.study_exports.assets import _transient
    from pipelines.study_exports.errors import StudyExportError

    for job in ("study_exports_daily_job", "study_exports_hourly_job", "study_exports_instant_job",
                "study_exports_redrive_job"):
        assert code_location.resolve_job_def(job).tags["dagster/retry_on_asset_or_op_failure"] == "false"
    assert _transient(psycopg.OperationalError("terminating connection due to administrator command"))
    assert _transient(sa.exc.OperationalError("COPY", {}, Exception("server closed the connection")))
    assert _transient(OSError("simulated store failure"))
    assert not _transient(StudyExportError("studyWhitelist: unknown study id(s) 'nope'"))
    assert not _transient(ValueError("a bug"))
