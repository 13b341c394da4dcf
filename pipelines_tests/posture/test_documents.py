import io

import pytest

from pipelines.posture.documents import (
    DocumentReader,
    DocumentSource,
    ErrorCollector,
    check_object_shape,
    count_objects,
    write_document,
)
from pipelines.posture.errors import PostureError

from .conftest import lite_object


def read(text: str, chunk_chars: int = 7):
    reader = DocumentReader(io.StringIO(text), chunk_chars=chunk_chars)
    return list(reader.objects()), reader.extra


def test_reads_objects_across_tiny_chunks_with_other_fields_before_and_after():
    text = """ {
      "config" : "INSERT",
      "liteDynamicStateObjects": [
        {"responsibilitySlug": "security-control-001", "serviceName": "my-service", "status": "FAILING",
         "boundarySlug": "PRODUCTION", "componentSlug": "APP"} ,
        {"serviceName": "caf\\u00e9 \u00e9", "n": 123456789}
      ],
      "batchSize": 1234567
    } """
    objects, extra = read(text)
    assert objects == [lite_object(), {"serviceName": "café é", "n": 123456789}]
    assert extra == {"config": "INSERT", "batchSize": 1234567}


def test_reads_an_empty_array_and_a_written_document_back():
    assert read('{"liteDynamicStateObjects": []}') == ([], {})
    out = io.StringIO()
    assert write_document(out, [lite_object(), lite_object(status="PASSING")]) == 2
    assert read(out.getvalue(), chunk_chars=5)[0] == [lite_object(), lite_object(status="PASSING")]
    empty = io.StringIO()
    assert write_document(empty, []) == 0
    assert empty.getvalue() == '{"liteDynamicStateObjects": []}\n'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"liteDynamicStateObjects": [{"a": 1}', r"at character 37: expected ',' or '\]'"),
        ('{"liteDynamicStateObjects": [{"a": }]}', r"at character 35: Expecting value"),
        ('{"liteDynamicStateObjects": {}}', r"at character 28: liteDynamicStateObjects is not an array"),
        ('{"other": 1}', r"no liteDynamicStateObjects array"),
        ('[1, 2]', r"at character 0: expected '\{', found '\['"),
        ('{"liteDynamicStateObjects": []} trailing', r"at character 32: unexpected text after the document"),
        ('{"liteDynamicStateObjects": [], "liteDynamicStateObjects": []}', r"appears twice"),
        ("", r"expected '\{', found end of input"),
    ],
    ids=["truncated", "bad-value", "not-an-array", "no-array", "not-an-object", "trailing", "twice", "empty"],
)
def test_malformed_documents_name_the_position(text, problem):
    with pytest.raises(PostureError, match=problem) as raised:
        read(text)
    assert str(raised.value).startswith("malformed document")


def test_object_shape_errors_name_index_field_and_value():
    errors = ErrorCollector()
    assert check_object_shape(0, lite_object(), errors)
    assert not check_object_shape(1, "text", errors)
    assert check_object_shape(2, {**lite_object(status="BROKEN")}, errors)  # reported, still looked up
    missing = lite_object()
    del missing["boundarySlug"]
    assert not check_object_shape(3, {**missing, "serviceName": 7}, errors)
    assert [str(e) for e in errors.shown] == [
        "object 1: object 'text' is not a JSON object",
        "object 2: status 'BROKEN' is not PASSING or FAILING",
        "object 3: serviceName 7 is not a non-empty string",
        "object 3: boundarySlug None is missing",
    ]


def test_errors_show_the_first_20_and_count_all():
    errors = ErrorCollector()
    for index in range(25):
        errors.add(index, "status", "X", "is not PASSING or FAILING")
    with pytest.raises(PostureError) as raised:
        errors.raise_if_any("import")
    message = str(raised.value)
    assert message.startswith("import: 25 invalid field(s) (first 20 shown), nothing was written: object 0: status")
    assert "object 19:" in message and "object 20:" not in message


def test_count_objects_reads_a_stored_document(object_store):
    object_store.put_bytes("posture/exports/a.json", b'{"liteDynamicStateObjects": [{}, {}, {}]}')
    assert count_objects(DocumentSource(key="posture/exports/a.json"), object_store) == 3


def test_an_unreadable_uploaded_file_is_named(local_store, tmp_path):
    with pytest.raises(PostureError, match=r"uploadedFile '.*missing.json' cannot be read"):
        count_objects(DocumentSource(path=str(tmp_path / "missing.json")), local_store)
