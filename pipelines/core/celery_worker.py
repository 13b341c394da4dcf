"""The Celery app of the workers that run steps when `PIPELINES_EXECUTOR=celery`:

    celery -A pipelines.core.celery_worker worker -n w1@%h --concurrency 1 --loglevel INFO

It is dagster-celery's app and task (the broker and backend from `PIPELINES_CELERY_*`, the settings of
`executor.celery_app_settings`), with one change: a step's message that the broker delivers again,
because the worker that had it died or lost its connection mid-step, is not run a second time. The
worker records why on the run (an engine event of the step) and fails the task, so the run fails and
its retry policy (`run_retries` in deploy/dagster.yaml) decides what happens next.
"""

from __future__ import annotations

from typing import Any

import celery
import dagster as dg
from dagster._core.events import EngineEventData
from dagster._core.execution.retries import RetryMode
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import unpack_value
from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from pipelines.core import settings
from pipelines.core.executor import celery_app_settings


class StepRedelivered(Exception):
    """A step's message came back from the broker: the worker that ran it was lost mid-step."""


class RunsEachStepOnce(celery.Task):
    """dagster-celery's `execute_plan` task, refusing a redelivered message."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if (self.request.delivery_info or {}).get("redelivered"):
            message = (
                f"{self.request.hostname} received this step again from the broker: the worker that took it "
                "was lost (killed, or its host or broker connection went down) before the step finished. "
                "It is not run a second time within this run; the run fails and its retry policy decides."
            )
            _record_on_run(kwargs["execute_step_args_packed"], message)
            raise StepRedelivered(message)
        return super().__call__(*args, **kwargs)


def _record_on_run(packed_args: dict, message: str) -> None:
    args = unpack_value(packed_args, as_type=ExecuteStepArgs)
    instance = dg.DagsterInstance.from_ref(args.instance_ref)
    run = instance.get_run_by_id(args.run_id)
    if run is None:
        return
    step_keys = args.step_keys_to_execute or []
    instance.report_engine_event(
        message,
        run,
        EngineEventData({"step_keys": ", ".join(step_keys)}),
        CeleryExecutor,
        step_key=step_keys[0] if len(step_keys) == 1 else None,
    )


def worker_app() -> celery.Celery:
    executor = CeleryExecutor(
        retries=RetryMode.DISABLED,  # the run's retry mode travels with each step's message
        broker=settings.PIPELINES_CELERY_BROKER_URL.get(),
        backend=settings.PIPELINES_CELERY_BACKEND_URL.get(),
        config_source=celery_app_settings(),
    )
    application = make_app(executor.app_args())
    # Registered now and in this app only, so no task of the same name another app shares replaces it.
    create_task(application, base=RunsEachStepOnce, shared=False, lazy=False)
    return application


app = worker_app()
