"""Fuzzing the posture document parser: random and mutated documents raise nothing but PostureError,
and an import they fail writes nothing (every posture table holds the same rows, the object store the
same objects; both backends). A fixed seed (derandomize) and bounded examples keep it a few
seconds long and repeatable."""

from __future__ import annotations

import io
import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipelines.core.object_store import LocalObjectStore
from pipelines.posture.documents import DocumentReader, DocumentSource, ErrorCollector, check_object_shape
from pipelines.posture.errors import PostureError
from pipelines.posture.lite_import import import_lite_dynamic_state
from pipelines.posture.requests import ImportRequest
from pipelines.posture.tables import (
    boundaries,
    component_instance_responsibilities,
    component_instance_responsibility_fulfillments,
    component_instances,
    components,
    responsibilities,
    services,
)
from pipelines_tests.support.fuzz import bounded
from pipelines_tests.support.snapshots import store_objects, table_rows

from .conftest import SERVICES, lite_object

POSTURE_TABLES = (services, components, boundaries, responsibilities, component_instances,
                  component_instance_responsibilities, component_instance_responsibility_fulfillments)

VALID = json.dumps(
    {"liteDynamicStateObjects": [lite_object(), lite_object(service=SERVICES[1], component="SERVICE")], "config": "INSERT"}
).encode()
FUZZ = bounded(300)


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


@settings(FUZZ, max_examples=30)
@given(data=st.one_of(mutated(), st.binary(max_size=100)), replace_all=st.booleans())
def test_an_import_of_a_refused_document_writes_nothing(catalog, tmp_path, data, replace_all):
    """Both backends; a REPLACE_ALL import first writes its backup, so the store is compared too."""
    database, path = catalog.database, tmp_path / "fuzzed.json"
    store = LocalObjectStore(str(tmp_path / "store"))
    if replace_all:
        data = data.replace(b'"INSERT"', b'"REPLACE_ALL"')
    rows, objects = table_rows(database, POSTURE_TABLES), store_objects(store)
    path.write_bytes(data)
    try:
        import_lite_dynamic_state(database, store, DocumentSource(path=str(path)), ImportRequest())
    except PostureError as exc:
        assert "\n" not in str(exc)
        assert (table_rows(database, POSTURE_TABLES), store_objects(store)) == (rows, objects)
