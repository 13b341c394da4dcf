"""`pipelines imports submit DIR [--batch-id ID] | status BATCH | run BATCH`."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import click

from pipelines.core.errors import PipelinesError
from pipelines.import_batches.batch_files import FORMATS, batch_prefix
from pipelines.import_batches.errors import ImportBatchError
from pipelines.import_batches.requests import check_batch_id

ASSET = "import_batches"

cli = click.Group("imports", help="Import batches of pending objects and links.")


def new_batch_id() -> str:
    return f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def submit_batch(store, folder: Path, batch_id: str | None = None) -> str:
    """Copy a batch's files into the inbox: links first, objects last (the sensor waits for objects)."""
    batch_id = check_batch_id(batch_id or new_batch_id())
    files = {kind: [folder / f"{kind}.{fmt}" for fmt in FORMATS if (folder / f"{kind}.{fmt}").is_file()] for kind in ("objects", "links")}
    if not files["objects"]:
        raise ImportBatchError(f"{folder}: no objects.jsonl or objects.csv")
    for kind, found in files.items():
        if len(found) > 1:
            raise ImportBatchError(f"{folder}: both {found[0].name} and {found[1].name}; keep one")
    prefix = batch_prefix(batch_id)
    if any(True for _ in store.list(prefix)):
        raise ImportBatchError(f"batch {batch_id} is already in the inbox ({prefix})")
    for kind in ("links", "objects"):
        for path in files[kind]:
            store.put_file(prefix + path.name, path)
    return batch_id


@cli.command()
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--batch-id", default=None, help="The batch id (default: a new one from the time).")
def submit(folder: Path, batch_id: str | None) -> None:
    """Copy a batch folder (objects.jsonl|csv, optionally links.jsonl|csv) into imports/inbox/ and
    print its batch id."""
    from pipelines.core.resources import ObjectStoreResource

    click.echo(submit_batch(ObjectStoreResource().get_store(), folder, batch_id))


@cli.command()
@click.argument("batch_id", metavar="BATCH")
def status(batch_id: str) -> None:
    """Print a batch's state as JSON."""
    from pipelines.core.resources import DatabaseResource
    from pipelines.import_batches.processing import batch_state

    batch_id = check_batch_id(batch_id)
    database = DatabaseResource().get_database()
    database.check()  # a database that is down is one line, naming the setting
    database.upgrade()
    click.echo(json.dumps(batch_state(database, batch_id).as_json(), indent=2))


@cli.command()
@click.argument("batch_id", metavar="BATCH")
def run(batch_id: str) -> None:
    """Process a submitted batch now (in-process), then print its state."""
    from pipelines.core.resources import DatabaseResource
    from pipelines.core.runner import cli_instance, run_assets
    from pipelines.definitions import defs
    from pipelines.import_batches.partitions import import_batch_partitions
    from pipelines.import_batches.processing import batch_state

    batch_id = check_batch_id(batch_id)
    database = DatabaseResource().get_database()
    database.check()  # a database that is down is one line, naming the setting
    database.upgrade()
    instance = cli_instance()
    instance.add_dynamic_partitions(import_batch_partitions.name, [batch_id])
    try:
        run_assets(defs(), [ASSET], instance=instance, partition_key=batch_id)
    finally:
        # The state as far as it got; the run's own error (raised on) is the one the user sees.
        try:
            state = batch_state(database, batch_id)
        except PipelinesError:
            state = None
        if state is not None:
            click.echo(json.dumps(state.as_json(), indent=2))
