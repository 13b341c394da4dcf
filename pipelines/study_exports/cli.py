"""`pipelines exports ...`: run an export request through the same asset the UI and the sensor use.

    pipelines exports instant --study s1 --study s2 [--end 2016-10-04T00:00:00Z] [--tag manual]
    pipelines exports run REQUEST.json        (any request, with the seed's field names; - for stdin)
    pipelines exports watermarks              (every study's last_export_date_time)

Each prints a JSON summary (records, files, windows per study, keys, re-drives).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pipelines.study_exports.errors import StudyExportError
from pipelines.study_exports.requests import ExportRequest, ExportType


@click.group("exports")
def cli() -> None:
    """Study exports: instant, any request, watermarks."""


@cli.command()
@click.option("--study", "studies", multiple=True, help="A study id (repeat for more).")
@click.option("--end", default=None, help="ISO 8601 end, e.g. 2016-10-04T00:00:00Z (default: now - 1 minute).")
@click.option("--tag", default=None, help="A label stored in the export log.")
def instant(studies: tuple[str, ...], end: str | None, tag: str | None) -> None:
    """An INSTANT export of some studies up to now (or --end)."""
    request = ExportRequest.parse(
        {"exportType": ExportType.INSTANT, "studyWhitelist": list(studies) or None, "endDateTime": end, "tag": tag}
    )
    _export(request)


@cli.command()
@click.argument("request_file", metavar="REQUEST")
def run(request_file: str) -> None:
    """Run one export request read from a JSON file ('-': stdin), with the seed's field names."""
    try:
        content = sys.stdin.buffer.read() if request_file == "-" else Path(request_file).read_bytes()
    except OSError as exc:
        raise StudyExportError(f"request file {request_file!r}: {exc.strerror}") from None
    _export(ExportRequest.parse_json(content, source=f"request file {request_file!r}"))


def _export(request: ExportRequest) -> None:
    import dagster as dg

    from pipelines.core.resources import DatabaseResource
    from pipelines.core.runner import cli_instance, run_assets
    from pipelines.definitions import defs
    from pipelines.study_exports.export import resolve_studies

    # A study that does not exist stops here, before any run starts.
    resolve_studies(DatabaseResource().get_database(), request)
    result = run_assets(
        defs(),
        ["study_exports_on_request"],
        instance=cli_instance(),
        run_config=dg.RunConfig(ops={"study_exports_on_request": request}),
    )
    [event] = result.get_asset_materialization_events()
    metadata = event.step_materialization_data.materialization.metadata
    [summary] = metadata["summary"].value
    click.echo(json.dumps(summary, indent=2))


@cli.command()
def watermarks() -> None:
    """Print every study's last_export_date_time."""
    from pipelines.core.resources import DatabaseResource
    from pipelines.study_exports.watermarks import read_export_times

    times = read_export_times(DatabaseResource().get_database())
    click.echo(json.dumps({s: t.isoformat() if t else None for s, t in times.items()}, indent=2))


@cli.command()
@click.option(
    "--type", "export_type", type=click.Choice([t.value for t in ExportType]), default="DAILY",
    help="The exports' type.",
)
@click.option("--start", required=True, help="The window's start, ISO 8601 with offset (e.g. 2016-10-03T00:00:00Z).")
@click.option("--end", required=True, help="The window's end, ISO 8601 with offset (e.g. 2016-10-04T00:00:00Z).")
def current(export_type: str, start: str, end: str) -> None:
    """Per study, the current (newest published) export of a window: its manifest and files."""
    from pipelines.core.resources import DatabaseResource, ObjectStoreResource
    from pipelines.study_exports.publication import current_exports, read_manifest

    # The window read as a re-export of it would be: the same date-time rules and messages.
    window = ExportRequest.parse(
        {"exportType": "DAILY", "startDateTime": start, "endDateTime": end, "ignoreLastExportTime": True}
    )
    store = ObjectStoreResource().get_store()
    found = current_exports(DatabaseResource().get_database(), export_type, window.start, window.end)  # type: ignore[arg-type]
    manifests = {key: read_manifest(store, key) for key in set(found.values())}
    click.echo(json.dumps({
        study: {
            "manifest": key,
            "files": [f["key"] for f in manifests[key]["files"] if f["study_id"] == study],
        }
        for study, key in found.items()
    }, indent=2, ensure_ascii=False))
