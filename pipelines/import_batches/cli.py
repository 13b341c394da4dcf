"""`pipelines imports submit DIR | status BATCH | run BATCH`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import uuid
from pathlib import Path

from pipelines.import_batches.batch_files import FORMATS, batch_prefix, check_batch_id
from pipelines.import_batches.errors import ImportBatchError

ASSET = "import_batches"


def register(commands: argparse._SubParsersAction) -> None:
    imports = commands.add_parser("imports", help="import batches of pending objects and links")
    sub = imports.add_subparsers(dest="imports_command", required=True)

    submit = sub.add_parser("submit", help="copy a batch folder into imports/inbox/ and print its batch id")
    submit.add_argument("dir", type=Path, help="folder with objects.jsonl|csv and optionally links.jsonl|csv")
    submit.add_argument("--batch-id", help="the batch id (default: a new one from the time)")
    submit.set_defaults(func=_submit)

    status = sub.add_parser("status", help="print a batch's state as JSON")
    status.add_argument("batch_id")
    status.set_defaults(func=_status)

    run = sub.add_parser("run", help="process a submitted batch now (in-process), then print its state")
    run.add_argument("batch_id")
    run.set_defaults(func=_run)


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


def _submit(args: argparse.Namespace) -> int:
    from pipelines.core.resources import ObjectStoreResource

    print(submit_batch(ObjectStoreResource().get_store(), args.dir, args.batch_id))
    return 0


def _status(args: argparse.Namespace) -> int:
    from pipelines.core.resources import DatabaseResource
    from pipelines.import_batches.processing import batch_state

    database = DatabaseResource().get_database()
    database.upgrade()
    print(json.dumps(batch_state(database, args.batch_id).as_json(), indent=2))
    return 0


def _run(args: argparse.Namespace) -> int:
    from pipelines.core.resources import DatabaseResource
    from pipelines.core.runner import cli_instance, run_assets
    from pipelines.definitions import defs
    from pipelines.import_batches.partitions import import_batch_partitions
    from pipelines.import_batches.processing import batch_state

    batch_id = check_batch_id(args.batch_id)
    database = DatabaseResource().get_database()
    database.upgrade()
    instance = cli_instance()
    instance.add_dynamic_partitions(import_batch_partitions.name, [batch_id])
    try:
        run_assets(defs(), [ASSET], instance=instance, partition_key=batch_id)
    finally:
        print(json.dumps(batch_state(database, batch_id).as_json(), indent=2))
    return 0
