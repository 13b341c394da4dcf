"""Format detection, whole-document failures, and a property test: mutated corpus documents never
make an exception escape the normalizer (they give statements, skips, or a typed failure)."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.vex.normalizers import (
    JUSTIFICATIONS,
    STATUSES,
    Normalized,
    NormalizeFailure,
    detect_format,
    normalize_document,
    provider_of,
)
from pipelines_tests.vex.conftest import corpus_bytes, corpus_files


def test_every_corpus_document_is_detected_by_its_folder():
    detected = {name: detect_format(json.loads(corpus_bytes(name))) for name in corpus_files()}
    assert detected == {name: name.split("/")[0] for name in corpus_files()}
    assert len(detected) == 17


def test_providers_are_read_from_the_documents():
    assert provider_of(json.loads(corpus_bytes("csaf/2022-evd-uc-01-a-001.json"))) == "Example Company ProductCERT"
    assert provider_of(json.loads(corpus_bytes("cyclonedx/use-case-7.vex.json"))) == "Acme, Inc."
    assert provider_of(json.loads(corpus_bytes("cyclonedx/use-case-1.vex.json"))) is None
    assert provider_of(json.loads(corpus_bytes("openvex/v020-1.vex.json"))) == "John Doe"


def test_non_json_bytes_fail_with_the_reason():
    assert normalize_document(b"\x89PNG\r\n") == NormalizeFailure("not UTF-8 text: invalid start byte at byte 0")
    assert normalize_document(b'{"a": ') == NormalizeFailure("not JSON: Expecting value at line 1 column 7")


def test_json_of_no_known_format_fails():
    assert normalize_document(b'{"spdxVersion": "SPDX-2.3"}') == NormalizeFailure(
        "JSON of none of the formats csaf, cyclonedx, openvex"
    )
    assert normalize_document(b"[1, 2]") == NormalizeFailure("a document must be a JSON object, not a list")


def test_a_stored_format_wins_over_detection():
    content = corpus_bytes("openvex/v020-1.vex.json")
    assert normalize_document(content, "csaf") == NormalizeFailure("document is null, expected an object", "csaf")


def test_deeply_nested_json_is_a_failure_not_a_crash():
    assert isinstance(normalize_document(b"[" * 100_000 + b"]" * 100_000), NormalizeFailure)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=8,
)


@lru_cache(maxsize=None)
def _parsed(name: str) -> Any:
    return json.loads(corpus_bytes(name))


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found.extend(_paths(child, prefix + (key,)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(_paths(child, prefix + (index,)))
    return found


def _mutate(document: Any, path: tuple, delete: bool, value: Any) -> Any:
    if not path:
        return value
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


def _assert_well_formed(result: Any) -> None:
    assert isinstance(result, (Normalized, NormalizeFailure))
    if isinstance(result, Normalized):
        keys = [s.key for s in result.statements]
        assert len(keys) == len(set(keys))
        for statement in result.statements:
            assert statement.status in STATUSES
            assert statement.justification is None or statement.justification in JUSTIFICATIONS
            assert isinstance(statement.vulnerability_id, str) and statement.vulnerability_id
            assert isinstance(statement.product_key, str) and statement.product_key


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_corpus_documents_never_raise(data):
    name = data.draw(st.sampled_from(corpus_files()), label="document")
    document = copy.deepcopy(_parsed(name))
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        path = data.draw(st.sampled_from(_paths(document)), label="path")
        delete = bool(path) and data.draw(st.booleans(), label="delete")
        document = _mutate(document, path, delete, None if delete else data.draw(JSON_VALUES, label="value"))
    _assert_well_formed(normalize_document(json.dumps(document).encode()))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_corrupted_corpus_bytes_never_raise(data):
    content = corpus_bytes(data.draw(st.sampled_from(corpus_files()), label="document"))
    cut = data.draw(st.integers(0, len(content)), label="cut")
    noise = data.draw(st.binary(max_size=8), label="noise")
    _assert_well_formed(normalize_document(content[:cut] + noise + content[cut:]))
    _assert_well_formed(normalize_document(content[:cut]))
