"""Run assets in-process (the CLI and the demo), with the same definitions the UI uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from pipelines.core.errors import PipelinesError


_console_log_level = "INFO"


def set_console_log_level(level: str) -> None:
    """The level of Dagster's console log in runs started here (the CLI keeps it quiet without -v)."""
    global _console_log_level
    _console_log_level = level


def cli_instance() -> dg.DagsterInstance:
    """The instance of $DAGSTER_HOME when set (runs then show in the UI), else an ephemeral one."""
    if dg.EnvVar("DAGSTER_HOME").get_value():
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def run_assets(
    defs: dg.Definitions,
    selection: Sequence[str] | dg.AssetSelection,
    *,
    instance: dg.DagsterInstance,
    partition_key: str | None = None,
    run_config: Mapping[str, Any] | dg.RunConfig | None = None,
    tags: Mapping[str, str] | None = None,
    resources: Mapping[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize `selection` (asset key paths like "posture/x" or an AssetSelection) in-process.

    A `PipelinesError` raised inside an asset is re-raised as itself, so callers print one line.
    """
    if not isinstance(selection, dg.AssetSelection):
        selection = dg.AssetSelection.assets(*[dg.AssetKey.from_user_string(s) for s in selection])
    all_resources = {**(defs.resources or {}), **(resources or {})}
    if isinstance(run_config, dg.RunConfig):
        run_config = {name: value for name, value in run_config.to_config_dict().items() if value}
    config = {"loggers": {"console": {"config": {"log_level": _console_log_level}}}, **(run_config or {})}
    try:
        return dg.materialize(
            [*(defs.assets or []), *(defs.asset_checks or [])],
            selection=selection,
            instance=instance,
            partition_key=partition_key,
            run_config=config,
            tags=tags,
            resources=all_resources,
        )
    except Exception as exc:  # unwrap Dagster's step error to the user's own error
        cause = user_error(exc)
        if cause is not None and cause is not exc:
            raise cause from None
        raise


def user_error(exc: BaseException) -> PipelinesError | None:
    """The `PipelinesError` at the root of a (Dagster-wrapped) exception, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, PipelinesError):
            return current
        seen.add(id(current))
        current = getattr(current, "user_exception", None) or current.__cause__ or current.__context__
    return None


def numeric_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, float | int]]:
    """Per materialized asset, its int/float metadata (what the demo and CLIs summarize)."""
    summary: dict[str, dict[str, float | int]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        values = {
            name: entry.value
            for name, entry in materialization.metadata.items()
            if isinstance(entry, (dg.IntMetadataValue, dg.FloatMetadataValue)) and entry.value is not None
        }
        summary[materialization.asset_key.to_user_string()] = values
    return summary
