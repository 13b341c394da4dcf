"""Fixtures of the import_batches tests: batch files written to a real object store."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from pipelines.core.object_store import ObjectStore
from pipelines.core.rfc4180 import write_rows


def put_batch(
    store: ObjectStore,
    batch_id: str,
    objects: Sequence[dict[str, Any]],
    links: Sequence[dict[str, Any]] = (),
    fmt: str = "jsonl",
) -> str:
    """Write a batch's files under imports/inbox/{batch_id}/ as JSON lines or CSV."""
    for kind, records in (("links", links), ("objects", objects)):
        if not records and kind == "links":
            continue
        key = f"imports/inbox/{batch_id}/{kind}.{fmt}"
        if fmt == "jsonl":
            store.put_bytes(key, "".join(json.dumps(r) + "\n" for r in records).encode())
        else:
            header = list(dict.fromkeys(k for r in records for k in r))
            import io

            text = io.StringIO(newline="")
            write_rows(text, header, ([r.get(h) for h in header] for r in records))
            store.put_bytes(key, text.getvalue().encode())
    return batch_id


def obj(pending_id: str, object_type: str, **fields: str) -> dict[str, Any]:
    return {"pendingObjectId": pending_id, "objectType": object_type, **fields}


def link(
    pending_id: str, tag: str, child: str, parent: str, link_type: str = "Dependent", separate: bool = False
) -> dict[str, Any]:
    record = {"pendingLinkId": pending_id, "linkType": link_type, "linkTag": tag, "objectId": child, "referenceId": parent}
    if separate:
        record["separateDependentLinkCreate"] = True
    return record


def catalog_roots() -> list[dict[str, Any]]:
    """A service, a component and a boundary every component instance of the tests hangs from."""
    return [
        obj("svc", "service", name="payments"),
        obj("cmp", "component", slug="api", name="API"),
        obj("bnd", "boundary", slug="prod", name="Production"),
    ]


def ci(pending_id: str, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A component instance with its three required Dependent links."""
    return obj(pending_id, "component_instance", name=name), [
        link(f"{pending_id}-svc", "ci_service", pending_id, "svc"),
        link(f"{pending_id}-cmp", "ci_component", pending_id, "cmp"),
        link(f"{pending_id}-bnd", "ci_boundary", pending_id, "bnd"),
    ]


@pytest.fixture
def put(local_store) -> Callable[..., str]:
    return lambda batch_id, objects, links=(), fmt="jsonl": put_batch(local_store, batch_id, objects, links, fmt)


def rows(database, statement: sa.Select) -> list[tuple]:
    with database.begin() as conn:
        return [tuple(r) for r in conn.execute(statement)]
