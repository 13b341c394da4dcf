import io
import os

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
        ('{"liteDynamicStateObjects": [{"a": 1}', r"at character 37 \(object 0\): expected ',' or '\]'"),
        ('{"liteDynamicStateObjects": [{"a": }]}', r"at character 35 \(object 0\): Expecting value"),
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


def test_an_object_without_status_is_reported_and_not_looked_up():
    errors = ErrorCollector()
    missing = lite_object()
    del missing["status"]
    assert not check_object_shape(0, missing, errors)
    assert check_object_shape(1, lite_object(status=7), errors)  # reported, the names are still looked up
    assert [str(e) for e in errors.shown] == ["object 0: status None is missing", "object 1: status 7 is not PASSING or FAILING"]


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


@pytest.fixture
def default_uploads(monkeypatch, clean_environment):
    """PIPELINES_UPLOAD_DIRS unset: the one upload folder is $PIPELINES_HOME/uploads."""
    monkeypatch.delenv("PIPELINES_UPLOAD_DIRS")
    uploads = clean_environment / "uploads"
    uploads.mkdir(parents=True)
    return uploads


def refusal(path, folders):
    return (f"uploadedFile '{path}' is not inside an upload folder ({folders}): put the file there, "
            "or list its folder in PIPELINES_UPLOAD_DIRS")


def test_etc_passwd_is_refused_without_showing_its_content(local_store, default_uploads):
    with pytest.raises(PostureError) as raised:
        count_objects(DocumentSource(path="/etc/passwd"), local_store)
    assert str(raised.value) == refusal("/etc/passwd", default_uploads)


def test_a_file_outside_the_upload_folders_is_refused_before_it_is_opened(local_store, default_uploads, tmp_path):
    fifo = tmp_path / "outside.fifo"
    os.mkfifo(fifo)  # opening it to read would wait for a writer: the test would hang, not fail
    with pytest.raises(PostureError) as raised:
        count_objects(DocumentSource(path=str(fifo)), local_store)
    assert str(raised.value) == refusal(fifo, default_uploads)


def test_a_link_or_dot_dot_out_of_the_upload_folder_is_refused(local_store, default_uploads):
    link = default_uploads / "passwd.json"
    link.symlink_to("/etc/passwd")
    for path in (link, default_uploads / ".." / ".." / "etc.json"):
        with pytest.raises(PostureError, match="is not inside an upload folder"):
            count_objects(DocumentSource(path=str(path)), local_store)


def test_files_in_the_default_or_configured_upload_folders_are_read(local_store, default_uploads, tmp_path, monkeypatch):
    (default_uploads / "a.json").write_text('{"liteDynamicStateObjects": [{}]}')
    assert count_objects(DocumentSource(path=str(default_uploads / "a.json")), local_store) == 1
    first, second = tmp_path / "first", tmp_path / "second"
    second.mkdir()
    (second / "b.json").write_text('{"liteDynamicStateObjects": [{}, {}]}')
    monkeypatch.setenv("PIPELINES_UPLOAD_DIRS", f"{first}:{second}")
    assert count_objects(DocumentSource(path=str(second / "b.json")), local_store) == 2
    with pytest.raises(PostureError) as raised:
        count_objects(DocumentSource(path=str(default_uploads / "a.json")), local_store)
    assert str(raised.value) == refusal(default_uploads / "a.json", f"{first}, {second}")
