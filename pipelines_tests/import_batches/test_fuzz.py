"""Fuzzing the batch file parsers (hypothesis, fixed seed, bounded examples): random and mutated
`objects` / `links` files, JSON lines and CSV, never raise anything but ImportBatchError, and a batch
they put in `error` has nothing written (no pending object or link, no status or awaited step, no
catalog row created: every table but the batch's own row holds what it held; both backends)."""

from __future__ import annotations

import itertools
import json

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from pipelines.import_batches.creators import REGISTRY
from pipelines.import_batches.errors import ImportBatchError
from pipelines.import_batches.processing import load_batch
from pipelines.import_batches.tables import (
    import_awaiting_steps,
    import_batches,
    import_link_statuses,
    import_object_statuses,
    import_pending_links,
    import_pending_objects,
)
from pipelines.posture import tables as catalog
from pipelines_tests.support.fuzz import bounded, edited_bytes
from pipelines_tests.support.snapshots import table_rows

from .conftest import catalog_roots, ci, rows

WRITTEN_TABLES = (import_pending_objects, import_pending_links, import_object_statuses, import_link_statuses,
                  import_awaiting_steps, catalog.services, catalog.components, catalog.boundaries,
                  catalog.responsibilities, catalog.component_instances, catalog.component_instance_responsibilities,
                  catalog.component_instance_responsibility_fulfillments)

FUZZ = bounded(40)
NAMES = ["pendingObjectId", "objectType", "name", "slug", "title", "pendingLinkId", "linkType", "linkTag",
         "objectId", "referenceId", "separateDependentLinkCreate", ""]
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.sampled_from(
    ["service", "component_instance", "Dependent", "ci_service", "svc", "a", "true", "\x00", "\ud800", "x" * 500]
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=6)
RECORDS = st.lists(st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=6), VALUES, max_size=7), max_size=6)


def valid_files() -> dict[str, bytes]:
    a, links = ci("a", "ci-a")
    return {
        "objects.jsonl": "".join(json.dumps(r) + "\n" for r in [*catalog_roots(), a]).encode(),
        "links.jsonl": "".join(json.dumps(r) + "\n" for r in links).encode(),
        "objects.csv": b'pendingObjectId,objectType,name\nsvc,service,payments\n"q,""x""",service,"a\r\nb"\n',
        "links.csv": b"pendingLinkId,linkType,linkTag,objectId,referenceId,separateDependentLinkCreate\nl,Dependent,ci_parent,a,b,TRUE\n",
    }


def mutated(content: bytes) -> st.SearchStrategy[bytes]:
    return edited_bytes(content, [b'"', b",", b"\n", b"{", b"\xff", b"\\u0000"])


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode("utf-8", "surrogatepass")


def csv_of(records: list[dict]) -> bytes:
    header = list(dict.fromkeys(k for r in records for k in r))
    quote = lambda v: '"' + str(v).replace('"', '""') + '"'  # noqa: E731
    lines = [",".join(quote(h) for h in header)] + [",".join(quote(r.get(h, "")) for h in header) for r in records]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8", "surrogatepass")


FILES = st.one_of(
    st.tuples(st.sampled_from(["objects.jsonl", "objects.csv"]), st.binary(max_size=200)),
    *(st.tuples(st.just(name), mutated(content)) for name, content in valid_files().items() if name.startswith("objects")),
    st.tuples(st.just("objects.jsonl"), RECORDS.map(jsonl)),
    st.tuples(st.just("objects.csv"), RECORDS.map(csv_of)),
)
LINK_FILES = st.none() | st.one_of(
    *(st.tuples(st.just(name), mutated(content)) for name, content in valid_files().items() if name.startswith("links")),
    st.tuples(st.just("links.jsonl"), RECORDS.map(jsonl)),
    st.tuples(st.just("links.csv"), RECORDS.map(csv_of)),
)


@FUZZ
@given(objects=FILES, links=LINK_FILES)
def test_batch_files_refuse_with_import_batch_error_only_and_write_nothing(database, local_store, objects, links):
    batch_id = f"fuzz-{next(COUNTER)}"
    for name, content in [objects, *([links] if links else [])]:
        local_store.put_bytes(f"imports/inbox/{batch_id}/{name}", content)

    before = table_rows(database, WRITTEN_TABLES)
    try:
        load_batch(database, local_store, batch_id, REGISTRY)
    except ImportBatchError:
        pass  # the only error a file may cause

    (status, pk), = rows(database, sa.select(import_batches.c.status, import_batches.c.id).where(import_batches.c.batch_id == batch_id))
    if status == "error":
        for table in (import_pending_objects, import_pending_links):
            assert rows(database, sa.select(sa.func.count()).where(table.c.batch_id == pk)) == [(0,)]
        assert table_rows(database, WRITTEN_TABLES) == before
    else:
        assert status == "pending"


COUNTER = itertools.count()


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b'{"pendingObjectId": "s"}\n\xff\xfe\n', "objects.jsonl: not UTF-8 text (invalid start byte: b'\\xff')"),
        (b"[" * 100_000 + b"\n", "objects.jsonl line 1: JSON nested too deep"),
    ],
    ids=["not-utf8", "nested-deep"],
)
def test_a_file_that_is_not_utf8_or_nested_too_deep_is_one_line(database, local_store, content, error):
    local_store.put_bytes("imports/inbox/odd/objects.jsonl", content)

    load_batch(database, local_store, "odd", REGISTRY)

    assert rows(database, sa.select(import_batches.c.status, import_batches.c.errors)) == [("error", [error])]
