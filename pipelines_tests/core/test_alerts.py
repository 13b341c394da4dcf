"""The run-failure alert posts a Slack-compatible body to the webhook, and only logs without one."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from pipelines.core.alerts import run_failure_alert


@pytest.fixture
def webhook():
    """A webhook on loopback that keeps every body posted to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/T000/secret-path", received
    server.shutdown()


@dg.asset
def always_fails() -> None:
    raise ValueError("the catalog is gone")


def _failed_run_context(instance: dg.DagsterInstance) -> dg.RunFailureSensorContext:
    result = dg.materialize([always_fails], instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()


def test_a_failed_run_is_posted_with_job_run_id_error_and_link(webhook, monkeypatch):
    url, received = webhook
    monkeypatch.setenv("PIPELINES_ALERT_WEBHOOK_URL", url)
    monkeypatch.setenv("PIPELINES_UI_URL", "http://dagster.example:3000/")
    with dg.instance_for_test() as instance:
        context = _failed_run_context(instance)
        run_failure_alert(context)
        run_id = context.dagster_run.run_id

    assert received == [
        {
            "text": f":red_circle: __ephemeral_asset_job__ failed: ValueError: the catalog is gone "
            f"<http://dagster.example:3000/runs/{run_id}|run {run_id[:8]}>",
            "job": "__ephemeral_asset_job__",
            "run_id": run_id,
            "error": "ValueError: the catalog is gone",
            "run_url": f"http://dagster.example:3000/runs/{run_id}",
        }
    ]


def test_without_a_webhook_the_alert_only_logs(webhook, monkeypatch):
    _url, received = webhook
    monkeypatch.delenv("PIPELINES_ALERT_WEBHOOK_URL", raising=False)
    with dg.instance_for_test() as instance:
        run_failure_alert(_failed_run_context(instance))
    assert received == []


def test_an_unreachable_webhook_fails_the_tick_without_printing_the_url(monkeypatch):
    monkeypatch.setenv("PIPELINES_ALERT_WEBHOOK_URL", "http://127.0.0.1:1/hooks/T000/Hunter2Secret")
    with dg.instance_for_test() as instance:
        context = _failed_run_context(instance)
        with pytest.raises(dg.Failure) as failure:
            run_failure_alert(context)
    assert str(failure.value.description).startswith(
        f"alert for run {context.dagster_run.run_id} could not be posted to 127.0.0.1: "
    )
    assert "Hunter2Secret" not in str(failure.value.description)
