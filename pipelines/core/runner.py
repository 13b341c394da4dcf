"""Run assets in-process (the CLI and the demo), with the same definitions the UI uses."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from pipelines.core.errors import ConfigurationError, ConnectionLostError, PipelinesError
from pipelines.core.secrets import mask


_console_log_level = "INFO"


def set_console_log_level(level: str) -> None:
    """The level of Dagster's console log in runs started here (the CLI keeps it quiet without -v)."""
    global _console_log_level
    _console_log_level = level


def cli_instance() -> dg.DagsterInstance:
    """The instance of $DAGSTER_HOME when set (runs then show in the UI), else an ephemeral one.

    An instance that cannot be loaded (a DAGSTER_PG_* variable unset, its PostgreSQL unreachable) is a
    `ConfigurationError` naming the variable, not Dagster's page of traceback.
    """
    home = dg.EnvVar("DAGSTER_HOME").get_value()
    if not home:
        return dg.DagsterInstance.ephemeral()
    try:
        return dg.DagsterInstance.get()
    except Exception as exc:  # noqa: BLE001 - every way an instance fails to load is a setting's fault
        raise ConfigurationError(*_instance_problem(home, exc)) from None


_UNSET_VARIABLE = re.compile(r'environment variable "(?P<name>[A-Z0-9_]+)" which is not set')


def _instance_problem(home: str, exc: BaseException) -> tuple[str, str]:
    """(setting, problem) of an instance that failed to load."""
    text = str(exc)
    unset = _UNSET_VARIABLE.search(text)
    if unset:
        return unset.group("name"), f"not set; {home}/dagster.yaml reads it (see README: Run it like production)"
    root = exc
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
    if _is_connection_error(root) or _is_connection_error(exc):
        return "DAGSTER_PG_HOST", f"cannot connect to the instance's PostgreSQL ({home}/dagster.yaml): {_first_line(root)}"
    return "DAGSTER_HOME", f"cannot load the instance in {home}: {_first_line(exc)}"


def run_assets(
    defs: dg.Definitions,
    selection: Sequence[str] | dg.AssetSelection,
    *,
    instance: dg.DagsterInstance,
    partition_key: str | None = None,
    run_config: dg.RunConfig | Mapping[str, Any] | None = None,
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
        run_config = {section: value for section, value in run_config.to_config_dict().items() if value}
    config = dict(run_config or {})
    config["loggers"] = {"console": {"config": {"log_level": _console_log_level}}, **(config.get("loggers") or {})}
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
    """The `PipelinesError` at the root of a (Dagster-wrapped) exception, if any; a lost or refused
    database connection becomes one too (`ConnectionLostError`), so the CLI prints one line."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, PipelinesError):
            return current
        if _is_connection_error(current):
            return ConnectionLostError(
                f"the database connection failed or was lost: {_first_line(current)}; "
                "what was committed before stays, the rest was rolled back"
            )
        seen.add(id(current))
        current = getattr(current, "user_exception", None) or current.__cause__ or current.__context__
    return None


def _is_connection_error(exc: BaseException) -> bool:
    """A PostgreSQL connection refused, lost or terminated (psycopg 3 for the application, psycopg2
    for Dagster's instance); not a lock timeout or a cancelled statement, which are errors of their own."""
    import sqlalchemy.exc

    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    driver_error = getattr(exc, "orig", None) or exc
    if type(driver_error).__name__ != "OperationalError" and not _is_connection_state(driver_error):
        return False
    if not type(driver_error).__module__.startswith(("psycopg", "psycopg2")):
        return False
    state = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "pgcode", None)
    return _is_connection_state(driver_error) or state is None


def _is_connection_state(exc: BaseException) -> bool:
    # SQLSTATE class 08: connection exception; 57P01-57P03: the server shut down or terminated us.
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None) or ""
    return state.startswith("08") or state in ("57P01", "57P02", "57P03")


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(getattr(exc, "orig", None) or exc).splitlines() if line.strip()]
    return mask(lines[0][:300]) if lines else type(exc).__name__


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
