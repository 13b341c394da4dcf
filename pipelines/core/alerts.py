"""Failed runs reach a person: a run-failure sensor posts a short JSON message to a webhook.

The webhook is `PIPELINES_ALERT_WEBHOOK_URL` (a Slack incoming webhook, or anything that takes a
Slack-compatible body: `text`, plus the same facts as fields). Unset, the sensor only logs. The link
to the run uses `PIPELINES_UI_URL` (default http://127.0.0.1:3000). The webhook URL is a secret: it
never appears in a log line or an error.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

import dagster as dg

from pipelines.core.secrets import mask
from pipelines.core.settings import PIPELINES_ALERT_WEBHOOK_URL, PIPELINES_UI_URL

log = logging.getLogger(__name__)
MAX_ERROR_CHARACTERS = 500
TIMEOUT_SECONDS = 10


def failure_message(job_name: str, run_id: str, error: str | None, ui_url: str) -> dict[str, Any]:
    """The body posted for one failed run (Slack-compatible: `text` is what a channel shows)."""
    link = f"{ui_url.rstrip('/')}/runs/{run_id}"
    lines = (error or "").strip().splitlines()
    reason = mask(lines[0] if lines else "no error message")[:MAX_ERROR_CHARACTERS]
    return {
        "text": f":red_circle: {job_name} failed: {reason} <{link}|run {run_id[:8]}>",
        "job": job_name,
        "run_id": run_id,
        "error": reason,
        "run_url": link,
    }


def post_message(url: str, body: dict[str, Any]) -> int:
    """POST `body` as JSON; returns the HTTP status. Errors name the host, never the whole URL."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - an https URL we were given
        return response.status


def _root_cause(error: Any) -> Any:
    """The user's own exception inside Dagster's "Error occurred while executing op" wrapper."""
    while error.cause is not None:
        error = error.cause
    return error


@dg.run_failure_sensor(
    name="run_failure_alert",
    description="Posts every failed run (job, run id, error, a link to the run) to PIPELINES_ALERT_WEBHOOK_URL; "
    "logs only when it is unset.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    error = context.failure_event.message
    step_failures = context.get_step_failure_events()
    if step_failures and step_failures[0].step_failure_data.error is not None:
        error = _root_cause(step_failures[0].step_failure_data.error).message
    body = failure_message(run.job_name, run.run_id, error, PIPELINES_UI_URL.get() or "http://127.0.0.1:3000")
    url = PIPELINES_ALERT_WEBHOOK_URL.get()
    if url is None:
        context.log.info(f"run failed (no webhook set): {body['text']}")
        return
    try:
        status = post_message(url, body)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        host = urllib.request.urlparse(url).hostname or "?"
        # The sensor tick fails, so the UI shows it, and the message is not lost silently.
        raise dg.Failure(f"alert for run {run.run_id} could not be posted to {host}: {mask(str(exc))}") from None
    context.log.info(f"alert for run {run.run_id} posted ({status})")
