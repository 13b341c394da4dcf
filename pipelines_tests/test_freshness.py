"""Freshness (Dagster's FreshnessPolicy, evaluated by the daemon's freshness loop): the aggregate view
turns stale 26 hours after its last refresh, the daily export when yesterday's run is late. Real
daemon code, on a frozen clock."""

import datetime as dt

import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._daemon.freshness import FreshnessDaemon

from pipelines_tests.support.dagster_instance import REPO

UTC = dt.timezone.utc
AGGREGATE = dg.AssetKey("responsive_responsibility_aggregate")
DAILY = dg.AssetKey("study_exports_daily")


@pytest.fixture
def workspace():
    """The code location as the daemon loads it (workspace.yaml), on a fresh instance."""
    with dg.instance_for_test() as instance, WorkspaceProcessContext(
        instance, WorkspaceFileTarget(paths=[str(REPO / "workspace.yaml")])
    ) as context:
        yield context


def _states_at(workspace: WorkspaceProcessContext, when: dt.datetime, keys: list[dg.AssetKey]) -> dict[str, str]:
    """One iteration of the daemon's freshness loop at `when`, then each asset's freshness state."""
    with freeze_time(when):
        for _ in FreshnessDaemon().run_iteration(workspace):
            pass
    records = workspace.instance.get_freshness_state_records(keys)
    return {key.to_user_string(): records[key].freshness_state.value for key in keys if key in records}


def _materialized_at(instance: dg.DagsterInstance, key: dg.AssetKey, when: dt.datetime, partition: str | None = None) -> None:
    with freeze_time(when):
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))


def test_the_aggregate_view_turns_stale_26_hours_after_its_last_refresh(workspace):
    refreshed = dt.datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
    _materialized_at(workspace.instance, AGGREGATE, refreshed)
    assert _states_at(workspace, refreshed + dt.timedelta(hours=25, minutes=59), [AGGREGATE]) == {
        "responsive_responsibility_aggregate": "PASS"
    }
    assert _states_at(workspace, refreshed + dt.timedelta(hours=26, minutes=1), [AGGREGATE]) == {
        "responsive_responsibility_aggregate": "FAIL"
    }
    _materialized_at(workspace.instance, AGGREGATE, refreshed + dt.timedelta(hours=27))
    assert _states_at(workspace, refreshed + dt.timedelta(hours=27, minutes=5), [AGGREGATE]) == {
        "responsive_responsibility_aggregate": "PASS"
    }


def test_the_daily_export_is_late_when_yesterdays_run_did_not_happen_by_three(workspace):
    # The schedule's run of 2026-11-29 at 01:00 exported 2026-11-28.
    _materialized_at(workspace.instance, DAILY, dt.datetime(2026, 11, 29, 1, 2, tzinfo=UTC), partition="2026-11-28")
    assert _states_at(workspace, dt.datetime(2026, 11, 29, 3, 30, tzinfo=UTC), [DAILY]) == {
        "study_exports_daily": "PASS"
    }
    # No run on 2026-11-30: at 03:00 the export is late.
    assert _states_at(workspace, dt.datetime(2026, 11, 30, 3, 1, tzinfo=UTC), [DAILY]) == {
        "study_exports_daily": "FAIL"
    }
