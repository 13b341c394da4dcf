"""`pipelines posture export` / `pipelines posture import`: the seed's admin endpoints as commands.

Both take the seed's JSON request body (a file, or `-` for stdin), run the same assets the UI runs,
and print the seed's response JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.posture.errors import PostureError

IMPORT_CONFIGS = ("INSERT", "REPLACE_ALL")


def register(commands: argparse._SubParsersAction) -> None:
    posture = commands.add_parser("posture", help="refresh, export and import the lite dynamic state")
    sub = posture.add_subparsers(dest="posture_command", required=True)

    export = sub.add_parser(
        "export",
        help='export the aggregate view; body {"serviceNames": [...]}; prints {"liteDynamicStateObjects": [...]}',
    )
    export.add_argument("request", nargs="?", help="request body file, '-' for stdin; none: every service")
    export.add_argument("--no-refresh", action="store_true", help="export the view as it is, without refreshing it")
    export.set_defaults(func=_export)

    imp = sub.add_parser(
        "import",
        help='import {"liteDynamicStateObjects": [...], "config": "REPLACE_ALL"}; prints the counts',
    )
    imp.add_argument("request", nargs="?", help="request body (or export document) file, '-' for stdin")
    imp.add_argument("--key", help="import an export document already in the object store instead")
    imp.add_argument("--config", choices=IMPORT_CONFIGS, help="overrides the body's config (default REPLACE_ALL)")
    imp.add_argument("--batch-size", type=int, help="objects per round of lookups and writes (default 500)")
    imp.set_defaults(func=_import)


def _export(args: argparse.Namespace) -> int:
    from pipelines.core.resources import ObjectStoreResource
    from pipelines.posture.lite_export import ExportRequest

    body = None
    if args.request:
        with _request_file(args.request) as path:
            body = _load_json(path)
    request = ExportRequest.parse(body)
    selection = ["lite_dynamic_state_export"] if args.no_refresh else [
        "responsive_responsibility_aggregate",
        "lite_dynamic_state_export",
    ]
    service_names = list(request.serviceNames) if request.serviceNames is not None else None
    metadata = _run(selection, "lite_dynamic_state_export", {"serviceNames": service_names})
    key = metadata["key"].value
    print(f"exported {metadata['objects'].value} objects to {key}", file=sys.stderr)
    with ObjectStoreResource().get_store().open_read(key) as document:
        shutil.copyfileobj(document, sys.stdout.buffer, 1024 * 1024)
    sys.stdout.flush()
    return 0


def _import(args: argparse.Namespace) -> int:
    from pipelines.posture.documents import DocumentReader
    from pipelines.posture.lite_import import ImportOptions

    if bool(args.request) == bool(args.key):
        raise PostureError("give a request file (or '-') or --key, not both and not neither")
    run_config: dict[str, Any] = {}
    if args.batch_size is not None:
        run_config["batchSize"] = args.batch_size
    with _request_file(args.request) if args.request else _no_file() as path:
        if path is not None:
            run_config["uploadedFile"] = str(path)
            with open(path, encoding="utf-8", newline="") as text:
                reader = DocumentReader(text, source=f"request {args.request}")
                for _ in reader.objects():
                    pass
            if "config" in reader.extra:
                run_config["config"] = reader.extra["config"]
        else:
            run_config["exportKey"] = args.key
        if args.config:
            run_config["config"] = args.config
        ImportOptions.parse(run_config.get("config"), run_config.get("batchSize"))  # fail before the run
        metadata = _run(["lite_dynamic_state_import"], "lite_dynamic_state_import", run_config)
    print(json.dumps(metadata["response"].value, indent=2))
    return 0


def _run(selection: list[str], asset: str, config: dict[str, Any]) -> dict[str, Any]:
    from pipelines.core.runner import cli_instance, run_assets
    from pipelines.definitions import defs

    result = run_assets(defs(), selection, instance=cli_instance(), run_config={"ops": {asset: {"config": config}}})
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.to_user_string() == asset:
            return dict(materialization.metadata)
    raise PostureError(f"{asset} was not materialized")


@contextmanager
def _request_file(name: str) -> Iterator[Path]:
    """The request body as a file: the named one, or stdin spooled to a temporary file."""
    if name != "-":
        path = Path(name)
        if not path.is_file():
            raise PostureError(f"request file {name!r} does not exist")
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="posture-request-") as folder:
        path = Path(folder) / "request.json"
        with open(path, "wb") as spool:
            shutil.copyfileobj(sys.stdin.buffer, spool, 1024 * 1024)
        yield path


@contextmanager
def _no_file() -> Iterator[None]:
    yield None


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "null")
    except json.JSONDecodeError as exc:
        raise PostureError(f"request body is not JSON: {exc}") from None
