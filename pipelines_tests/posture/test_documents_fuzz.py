"""Fuzzing the posture document parser: random and mutated documents raise nothing but PostureError,
and an import they fail writes nothing. A fixed seed (derandomize) and bounded examples keep it a few
seconds long and repeatable."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore
from pipelines.posture.documents import DocumentReader, DocumentSource, ErrorCollector, check_object_shape
from pipelines.posture.errors import PostureError
from pipelines.posture.lite_import import import_lite_dynamic_state
from pipelines.posture.requests import ImportRequest

from .conftest import SERVICES, lite_object, table_counts

VALID = json.dumps(
    {"liteDynamicStateObjects": [lite_object(), lite_object(service=SERVICES[1], component="SERVICE")], "config": "INSERT"}
).encode()
FUZZ = settings(derandomize=True, max_examples=300, deadline=None, database=None)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The valid document with a few bytes replaced, inserted or deleted."""
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.sampled_from(b'{}[]",:0\\ \x00\xff\xc3e-'))
        if action == "replace":
            data[at] = byte
        elif action == "insert":
            data.insert(at, byte)
        else:
            del data[at]
    return bytes(data)


DOCUMENTS = st.one_of(st.binary(max_size=200), mutated(), st.text(max_size=100).map(str.encode))


def parse(data: bytes, chunk_chars: int) -> None:
    errors = ErrorCollector()
    reader = DocumentReader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=""), chunk_chars=chunk_chars)
    for index, obj in enumerate(reader.objects()):
        check_object_shape(index, obj, errors)
    errors.raise_if_any("document")


@FUZZ
@given(data=DOCUMENTS, chunk_chars=st.sampled_from([1, 3, 64, 1 << 16]))
@example(data=b"[" * 100_000, chunk_chars=1 << 16)
@example(data=b'{"liteDynamicStateObjects": [' + b"{" * 50_000, chunk_chars=1 << 16)
def test_random_and_mutated_documents_raise_only_posture_error(data, chunk_chars):
    try:
        parse(data, chunk_chars)
    except PostureError as exc:
        assert "\n" not in str(exc)


@pytest.fixture
def database(sqlite_url: str) -> Database:
    """SQLite only: the import's refusal happens before any write, whatever the backend."""
    db = Database(sqlite_url)
    db.upgrade()
    return db


@settings(FUZZ, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(mutated(), st.binary(max_size=100)))
def test_an_import_of_a_refused_document_writes_nothing(catalog, tmp_path, data):
    database, path = catalog.database, tmp_path / "fuzzed.json"
    before = table_counts(database)
    path.write_bytes(data)
    try:
        import_lite_dynamic_state(database, LocalObjectStore(str(tmp_path / "store")), DocumentSource(path=str(path)),
                                  ImportRequest())
    except PostureError:
        assert table_counts(database) == before
