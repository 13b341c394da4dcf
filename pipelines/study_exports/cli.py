"""`pipelines exports ...`: run an export request through the same asset the UI and the sensor use.

    pipelines exports instant --study s1 --study s2 [--end 2016-10-04T00:00:00Z] [--tag manual]
    pipelines exports run REQUEST.json        (any request, with the seed's field names; - for stdin)
    pipelines exports watermarks              (every study's last_export_date_time)

Each prints a JSON summary (records, files, windows per study, keys, re-drives).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipelines.study_exports.errors import StudyExportError
from pipelines.study_exports.request import ExportRequest


def register(commands: argparse._SubParsersAction) -> None:
    exports = commands.add_parser("exports", help="study exports: instant, any request, watermarks")
    sub = exports.add_subparsers(dest="exports_command", required=True)

    instant = sub.add_parser("instant", help="an INSTANT export of some studies up to now (or --end)")
    instant.add_argument("--study", action="append", dest="studies", help="a study id (repeat for more)")
    instant.add_argument("--end", help="ISO 8601 end, e.g. 2016-10-04T00:00:00Z (default: now - 1 minute)")
    instant.add_argument("--tag", help="a label stored in the export log")
    instant.set_defaults(func=_instant)

    run = sub.add_parser("run", help="run one export request read from a JSON file ('-': stdin)")
    run.add_argument("request", help="path of a JSON request like the seed's re-export message")
    run.set_defaults(func=_run)

    watermarks = sub.add_parser("watermarks", help="print every study's last_export_date_time")
    watermarks.set_defaults(func=_watermarks)


def _instant(args: argparse.Namespace) -> int:
    message: dict[str, Any] = {"exportType": "INSTANT"}
    if args.studies:
        message["studyWhitelist"] = args.studies
    if args.end:
        message["endDateTime"] = args.end
    if args.tag:
        message["tag"] = args.tag
    return _export(message)


def _run(args: argparse.Namespace) -> int:
    try:
        text = sys.stdin.read() if args.request == "-" else Path(args.request).read_text(encoding="utf-8")
    except OSError as exc:
        raise StudyExportError(f"request file {args.request!r}: {exc.strerror}") from None
    try:
        message = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StudyExportError(f"request file {args.request!r}: not JSON ({exc})") from None
    return _export(message)


def _export(message: dict[str, Any]) -> int:
    from pipelines.core.resources import DatabaseResource
    from pipelines.core.runner import cli_instance, run_assets
    from pipelines.definitions import defs
    from pipelines.study_exports.export import resolve_studies

    # A bad request (a field, or a study that does not exist) stops here, before any run starts.
    request = ExportRequest.parse(message)
    resolve_studies(DatabaseResource().get_database(), request)
    result = run_assets(
        defs(),
        ["study_exports_on_request"],
        instance=cli_instance(),
        run_config={"ops": {"study_exports_on_request": {"config": request.to_message()}}},
    )
    [event] = result.get_asset_materialization_events()
    metadata = event.step_materialization_data.materialization.metadata
    [summary] = metadata["summary"].value
    print(json.dumps(summary, indent=2))
    return 0


def _watermarks(args: argparse.Namespace) -> int:
    from pipelines.core.resources import DatabaseResource
    from pipelines.study_exports.watermarks import read_export_times

    times = read_export_times(DatabaseResource().get_database())
    print(json.dumps({s: t.isoformat() if t else None for s, t in times.items()}, indent=2))
    return 0
