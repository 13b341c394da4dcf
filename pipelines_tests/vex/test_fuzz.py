"""Fuzz of the VEX document parsers (fixed seed, bounded): whatever the bytes, landing detection and
both normalizer paths (whole and streamed) end in a result or the domain's error, never another
exception, and the same statements when both normalize. Nothing is written for what is refused: a
landing whose signature sidecar is refused leaves every VEX table and the inbox as they were, and a
document that fails to normalize gets no statement, no done-mark and no consensus work (both backends)."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.vex.backfill import backfill_statements
from pipelines.vex.errors import VexError
from pipelines.vex.ingest import INBOX_PREFIX, SIGNATURE_SUFFIX, _signature, land, land_inbox, raw_document
from pipelines.vex.normalizers import Normalized, NormalizeFailure, normalize_document
from pipelines.vex.normalizers import source as source_module
from pipelines.vex.requests import BackfillRequest
from pipelines.vex.tables import (
    vex_consensus,
    vex_consensus_pending,
    vex_normalized_documents,
    vex_raw_documents,
    vex_statements,
)
from pipelines_tests.support.fuzz import bounded
from pipelines_tests.support.snapshots import store_objects, table_rows
from pipelines_tests.vex.conftest import corpus_bytes, corpus_files

AT = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
FUZZ = bounded(120)
WRITING = bounded(20)
TABLES = (vex_raw_documents, vex_statements, vex_normalized_documents, vex_consensus_pending, vex_consensus)
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from(["\x00", "\ud800"]),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                           max_leaves=8)
COUNTER = itertools.count()


def mutated(data) -> bytes:
    content = corpus_bytes(data.draw(st.sampled_from(corpus_files()), label="document"))
    cut = data.draw(st.integers(0, len(content)), label="cut")
    noise = data.draw(st.binary(max_size=12) | st.sampled_from([b"\\u0000", b"\xff\xfe", b"[" * 50, b'"\\ud800"']), label="noise")
    return content[:cut] + noise + content[cut + data.draw(st.integers(0, 40), label="drop"):]


def both_paths(content: bytes) -> list:
    """The whole and the streamed result; when both normalize, to the same statements."""
    whole = normalize_document(content)
    saved = source_module.STREAM_ABOVE_BYTES
    source_module.STREAM_ABOVE_BYTES = 0
    try:
        streamed = normalize_document(content)
    finally:
        source_module.STREAM_ABOVE_BYTES = saved
    if isinstance(whole, Normalized) and isinstance(streamed, Normalized):
        assert streamed == whole
    return [whole, streamed]


@FUZZ
@given(data=st.data())
def test_corrupted_documents_normalize_or_fail_cleanly_on_both_paths(data):
    content = mutated(data)
    for result in both_paths(content):
        assert isinstance(result, (Normalized, NormalizeFailure))
    try:
        document = raw_document(content, "fuzz://x", AT)
    except VexError:
        return
    assert document.digest.startswith("sha256:")


@FUZZ
@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                          max_leaves=12))
def test_any_json_value_as_a_document_or_a_sidecar(value):
    content = json.dumps(value).encode()
    for result in both_paths(content):
        assert isinstance(result, (Normalized, NormalizeFailure))
    try:
        signature = _signature(content, "x.json")
    except VexError:
        return
    assert isinstance(signature, dict)


@WRITING
@given(data=st.data())
def test_a_landing_with_a_refused_sidecar_writes_nothing(database, local_store, data):
    name = f"{INBOX_PREFIX}fuzz-{next(COUNTER)}.json"
    local_store.put_bytes(name, corpus_bytes(data.draw(st.sampled_from(corpus_files()), label="document")))
    sidecar = data.draw(st.binary(max_size=60) | JSON_VALUES.map(lambda v: json.dumps(v).encode("utf-8", "surrogatepass"))
                        | st.sampled_from([b"[" * 100_000, b'{"sig": "\\u0000"}', b'{"a": "\\ud800"}']), label="sidecar")
    local_store.put_bytes(name + SIGNATURE_SUFFIX, sidecar)
    rows, objects = table_rows(database, TABLES), store_objects(local_store)
    try:
        land_inbox(database, local_store, now=AT)
    except VexError as exc:
        assert "\n" not in str(exc)
        assert (table_rows(database, TABLES), store_objects(local_store)) == (rows, objects)
    else:
        assert not local_store.exists(name)  # landed, then moved to vex/landed/
    for info in list(local_store.list(INBOX_PREFIX)):
        local_store.delete(info.key)  # the next example starts from an empty inbox


@settings(WRITING, max_examples=10)
@given(data=st.data())
def test_documents_that_fail_to_normalize_write_no_statement(database, data):
    documents = {d.digest: d for d in (raw_document(mutated(data), f"fuzz://{next(COUNTER)}", AT) for _ in range(8))}
    land(database, list(documents.values()))
    rows = table_rows(database, TABLES[1:])
    summary = backfill_statements(database, BackfillRequest())
    failed = set(summary.failed_digests)
    assert summary.failures == len(failed) and failed <= set(documents)
    with database.begin() as conn:
        for table, column in ((vex_statements, vex_statements.c.document_digest), (vex_normalized_documents, vex_normalized_documents.c.digest)):
            assert conn.scalar(sa.select(sa.func.count()).select_from(table).where(column.in_(failed))) == 0
        # A failed document is tried again by every backfill: not by the next example's.
        conn.execute(sa.delete(vex_raw_documents).where(vex_raw_documents.c.digest.in_(failed)))
    if len(failed) == len(documents):
        assert table_rows(database, TABLES[1:]) == rows
