"""The executor of every job: where its steps run, chosen when a run starts by `PIPELINES_EXECUTOR`.

Unset, it is Dagster's default (`multi_or_in_process_executor`: a process per step, or in-process by
run config). `celery` sends every step to Celery workers through dagster-celery (broker
`PIPELINES_CELERY_BROKER_URL`, results `PIPELINES_CELERY_BACKEND_URL`); the workers run
`pipelines.core.celery_worker`. The same run config works in both: its `retries` apply either way.
Switching needs no code edit and no new deployment of the code, only the variable where runs start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from dagster._core.definitions.executor_definition import ExecutorRequirement
from dagster._core.execution.retries import RetryMode

from pipelines.core import settings
from pipelines.core.errors import ConfigurationError

CELERY = "celery"
DEFAULT = dg.multi_or_in_process_executor


def celery_app_settings() -> dict[str, Any]:
    """Celery settings shared by the run that submits steps and the workers that run them.

    A step's message is acknowledged when the step ends, not when a worker takes it, so a worker that
    dies mid-step leaves the message to the broker, which hands it to another worker; that worker
    refuses to run it a second time (`celery_worker`) and the run fails, naming the lost worker.
    A worker whose broker connection drops stops its running step for the same reason: the broker
    will redeliver it, and one step must never run twice at once.
    """
    return {
        "task_acks_late": True,
        "task_reject_on_worker_lost": False,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
    }


def selected_executor() -> str | None:
    """`celery`, or None for Dagster's default; any other value is refused with one line."""
    choice = settings.PIPELINES_EXECUTOR.get()
    if choice is None:
        return None
    if choice.lower() != CELERY:
        raise ConfigurationError(
            settings.PIPELINES_EXECUTOR.name, f"{choice[:40]!r} is not an executor: set celery, or leave it unset"
        )
    return CELERY


def _requirements(config: Mapping[str, object]) -> Sequence[ExecutorRequirement]:
    if selected_executor() == CELERY:
        return dg.multiple_process_executor_requirements()
    return DEFAULT.get_requirements(config)


def _celery_executor(config: Mapping[str, Any]) -> dg.Executor:
    try:
        from dagster_celery.executor import CeleryExecutor
    except ImportError:
        raise ConfigurationError(
            settings.PIPELINES_EXECUTOR.name, "celery needs dagster-celery: pip install 'pipelines[celery]'"
        ) from None
    mode_config = next(iter(config.values()), {}) if config else {}
    return CeleryExecutor(
        retries=RetryMode.from_config(mode_config.get("retries", {"enabled": {}})),
        broker=settings.PIPELINES_CELERY_BROKER_URL.get(),
        backend=settings.PIPELINES_CELERY_BACKEND_URL.get(),
        config_source=celery_app_settings(),
    )


@dg.executor(name="pipelines", config_schema=DEFAULT.config_schema, requirements=_requirements)
def pipelines_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """Dagster's default executor, or Celery workers when `PIPELINES_EXECUTOR=celery` where the run
    starts; the run config (`multiprocess` / `in_process`, `retries`) is the default executor's."""
    if selected_executor() == CELERY:
        return _celery_executor(init_context.executor_config)
    return DEFAULT.executor_creation_fn(init_context)
