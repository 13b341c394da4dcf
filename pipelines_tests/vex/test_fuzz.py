"""Fuzz of the VEX document parsers (fixed seed, bounded): whatever the bytes, landing detection and
both normalizer paths (whole and streamed) end in a result or the domain's error, never another
exception, and the same statements when both normalize; a document that fails writes no statement."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.vex.errors import VexError
from pipelines.vex.ingest import _signature, raw_document
from pipelines.vex.normalizers import Normalized, NormalizeFailure, normalize_document
from pipelines.vex.normalizers import source as source_module
from pipelines_tests.vex.conftest import corpus_bytes, corpus_files

AT = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


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
