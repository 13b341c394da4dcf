"""`pipelines posture export` / `pipelines posture import`: the seed's admin endpoints as commands.

Both take the seed's JSON request body (a file, or `-` for stdin), run the same assets the UI runs,
and print the seed's response JSON on stdout.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import click
import dagster as dg

from pipelines.core.requests import json_value
from pipelines.posture.errors import PostureError
from pipelines.posture.requests import ExportRequest, ImportConfig, ImportRequest

EXPORT_ASSET = "lite_dynamic_state_export"
IMPORT_ASSET = "lite_dynamic_state_import"
REFRESH_ASSET = "responsive_responsibility_aggregate"


@click.group("posture")
def cli() -> None:
    """Refresh, export and import the lite dynamic state."""


@cli.command("export")
@click.argument("request", required=False, metavar="[REQUEST|-]")
@click.option("--no-refresh", is_flag=True, help="Export the view as it is, without refreshing it.")
def export(request: str | None, no_refresh: bool) -> None:
    """Export the aggregate view; REQUEST is a body file {"serviceNames": [...]} ('-': stdin; none:
    every service). Prints {"liteDynamicStateObjects": [...]}."""
    from pipelines.core.resources import ObjectStoreResource

    body = None
    if request:
        with _request_file(request) as path:
            body = _load_json(path, request)
    export_request = ExportRequest.parse(body, source=f"request {request}")
    selection = [EXPORT_ASSET] if no_refresh else [REFRESH_ASSET, EXPORT_ASSET]
    metadata = _run(selection, EXPORT_ASSET, export_request)
    key = metadata["key"].value
    click.echo(f"exported {metadata['objects'].value} objects to {key}", err=True)
    with ObjectStoreResource().get_store().open_read(key) as document:
        shutil.copyfileobj(document, sys.stdout.buffer, 1024 * 1024)
    sys.stdout.flush()


@cli.command("import")
@click.argument("request", required=False, metavar="[REQUEST|-]")
@click.option("--key", help="Import an export document already in the object store instead of REQUEST.")
@click.option(
    "--config",
    type=click.Choice([c.value for c in ImportConfig]),
    help="Overrides the body's config (the body's, else REPLACE_ALL).",
)
@click.option(
    "--batch-size",
    type=int,
    default=ImportRequest.model_fields["batch_size"].default,
    help="Objects per round of lookups and writes (1 to 100000).",
)
@click.option(
    "--dry-run", is_flag=True, help="Validate and print the counts the import would report, without writing."
)
def import_(request: str | None, key: str | None, config: str | None, batch_size: int, dry_run: bool) -> None:
    """Import REQUEST, a body {"liteDynamicStateObjects": [...], "config": "REPLACE_ALL"} (or an
    export document) file ('-': stdin), or --key. Prints the seed's response counts."""
    from pipelines.posture.documents import DocumentReader

    if bool(request) == bool(key):
        raise PostureError("give a request file (or '-') or --key, not both and not neither")
    with _request_file(request) if request else _no_file() as path:
        fields: dict[str, Any] = {"batchSize": batch_size}
        if path is not None:
            fields["uploadedFile"] = str(path)
            with open(path, encoding="utf-8", newline="") as text:
                reader = DocumentReader(text, source=f"request {request}")
                for _ in reader.objects():
                    pass
            if "config" in reader.extra:
                fields["config"] = reader.extra["config"]
        else:
            fields["exportKey"] = key
        if config:
            fields["config"] = config
        import_request = ImportRequest.parse(fields, source=f"request {request}" if request else None)
        if dry_run:
            response = _dry_run(import_request)
        else:
            response = _run([IMPORT_ASSET], IMPORT_ASSET, import_request)["response"].value
    click.echo(json.dumps(response, indent=2))


@cli.command("rollback")
@click.option("--key", help="The backup to restore (posture/backups/...); none: the latest one.")
def rollback(key: str | None) -> None:
    """Undo a REPLACE_ALL import: restore the script-created set it backed up before deleting, by the
    same REPLACE_ALL path (names, parents and statuses come back; the set replaced is backed up in
    turn). Prints the seed's response counts."""
    from pipelines.core.resources import ObjectStoreResource
    from pipelines.posture.backup import latest_backup_key

    key = key or latest_backup_key(ObjectStoreResource().get_store())
    request = ImportRequest(config=ImportConfig.REPLACE_ALL, export_key=key)
    metadata = _run([IMPORT_ASSET], IMPORT_ASSET, request)
    click.echo(f"restored {key}", err=True)
    click.echo(json.dumps(metadata["response"].value, indent=2))


def _dry_run(request: ImportRequest) -> dict[str, int]:
    """The import's logic itself, rolled back (no run, no materialization, nothing written)."""
    from pipelines.core.resources import DatabaseResource, ObjectStoreResource
    from pipelines.posture.documents import DocumentSource
    from pipelines.posture.lite_import import import_lite_dynamic_state

    source = DocumentSource.of(request)
    assert source is not None  # the command requires a file or --key
    database, store = DatabaseResource().get_database(), ObjectStoreResource().get_store()
    return import_lite_dynamic_state(database, store, source, request, dry_run=True).response()


def _run(selection: list[str], asset: str, request: ExportRequest | ImportRequest) -> dict[str, Any]:
    from pipelines.core.runner import cli_instance, run_assets
    from pipelines.definitions import defs

    result = run_assets(defs(), selection, instance=cli_instance(), run_config=dg.RunConfig(ops={asset: request}))
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.to_user_string() == asset:
            return dict(materialization.metadata)
    raise PostureError(f"{asset} was not materialized")


@contextmanager
def _request_file(name: str) -> Iterator[Path]:
    """The request body as a file in the upload folder (where a run may read it): the named file, or
    stdin, copied there as a stream, and removed afterwards. A file already there is used as it is."""
    from pipelines.posture.documents import upload_dirs

    source = None if name == "-" else Path(name)
    if source is not None and not source.is_file():
        raise PostureError(f"request file {name!r} does not exist")
    folders = upload_dirs()
    if source is not None and any(source.resolve().is_relative_to(folder) for folder in folders):
        yield source
        return
    folders[0].mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folders[0], prefix="cli-request-", suffix=".json") as spool:
        with open(source, "rb") if source is not None else nullcontext(sys.stdin.buffer) as body:
            shutil.copyfileobj(body, spool, 1024 * 1024)
        spool.flush()
        yield Path(spool.name)


@contextmanager
def _no_file() -> Iterator[None]:
    yield None


def _load_json(path: Path, name: str) -> Any:
    return json_value(path.read_bytes() or b"null", f"request {name}", PostureError)
