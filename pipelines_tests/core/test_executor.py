"""`PIPELINES_EXECUTOR` picks where steps run when a run starts; the same run config works either way.
The steps really running on workers is the e2e test's (`pipelines_tests/e2e/test_celery.py`)."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.in_process import InProcessExecutor
from dagster._core.executor.multiprocess import MultiprocessExecutor
from dagster._core.system_config.objects import ResolvedRunConfig
from dagster_celery.executor import CeleryExecutor

from pipelines.core.celery_worker import RunsEachStepOnce, worker_app
from pipelines.core.errors import ConfigurationError
from pipelines.definitions import defs


def executor_for(run_config: dict | None = None) -> dg.Executor:
    """The executor a run of tenant_archive_job gets, as Dagster creates it at run launch."""
    job = defs().resolve_job_def("tenant_archive_job")
    config = ResolvedRunConfig.build(job, run_config or {}).execution.execution_engine_config
    with dg.instance_for_test() as instance:
        context = dg.InitExecutorContext(
            job=InMemoryJob(job), executor_def=job.executor_def, executor_config=config, instance=instance
        )
        return job.executor_def.executor_creation_fn(context)


def test_every_job_runs_on_the_pipelines_executor():
    jobs = {job.name: job.executor_def.name for job in defs().resolve_all_job_defs()}
    assert "posture_refresh_export_import" in jobs and "tenant_archive_job" in jobs
    assert set(jobs.values()) == {"pipelines"}


def test_unset_keeps_dagsters_default_multiprocess_or_in_process_by_run_config():
    assert isinstance(executor_for(), MultiprocessExecutor)
    assert isinstance(executor_for({"execution": {"config": {"in_process": {}}}}), InProcessExecutor)


def test_celery_sends_steps_to_the_configured_broker_with_late_acknowledgement(monkeypatch):
    monkeypatch.setenv("PIPELINES_EXECUTOR", "celery")
    monkeypatch.setenv("PIPELINES_CELERY_BROKER_URL", "pyamqp://guest:guest@broker.internal:5672/prod")
    executor = executor_for()
    assert isinstance(executor, CeleryExecutor)
    assert (executor.broker, executor.backend) == ("pyamqp://guest:guest@broker.internal:5672/prod", "rpc://")
    assert executor.config_source.task_acks_late is True
    assert executor.config_source.worker_prefetch_multiplier == 1
    assert executor.retries == RetryMode.ENABLED


def test_celery_keeps_the_run_configs_retry_mode(monkeypatch):
    monkeypatch.setenv("PIPELINES_EXECUTOR", "Celery")
    executor = executor_for({"execution": {"config": {"multiprocess": {"retries": {"disabled": {}}}}}})
    assert isinstance(executor, CeleryExecutor)
    assert executor.broker == "pyamqp://guest:guest@127.0.0.1:5672//"
    assert executor.retries == RetryMode.DISABLED


def test_an_unknown_executor_is_refused_with_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("PIPELINES_EXECUTOR", "spark")
    with pytest.raises(ConfigurationError) as raised:
        executor_for()
    assert str(raised.value) == "PIPELINES_EXECUTOR: 'spark' is not an executor: set celery, or leave it unset"


def test_the_worker_app_runs_dagster_celerys_task_once_per_delivery(monkeypatch):
    monkeypatch.setenv("PIPELINES_CELERY_BROKER_URL", "pyamqp://guest:guest@broker.internal:5672/prod")
    app = worker_app()
    task = app.tasks["execute_plan"]
    assert isinstance(task, RunsEachStepOnce)
    assert app.conf.broker_url == "pyamqp://guest:guest@broker.internal:5672/prod"
    assert (app.conf.task_acks_late, app.conf.worker_prefetch_multiplier) == (True, 1)
    assert [queue.name for queue in app.conf.task_queues] == ["dagster"]
