"""Fuzzing export requests and re-drive messages (hypothesis, fixed seed, bounded examples).

Random and mutated inputs, starting from the seed's message (fields dropped, retyped, nested, NUL,
lone surrogates, huge numbers and strings, deep nesting, bytes that are not UTF-8), through each
boundary that parses one: a message body (`parse_message`, what the re-drive sensor reads), a mapping
(`ExportRequest.parse`, `RedriveBatch.parse`), the re-drive sensor's inbox and `pipelines exports run`.
Each ends in a request or in `StudyExportError` with one short line, and a refused input writes
nothing: the domain's tables hold the same rows and the object store the same objects.
"""

from __future__ import annotations

import itertools
import json

import dagster as dg
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipelines.cli import main
from pipelines.core.resources import ObjectStoreResource
from pipelines.study_exports.errors import StudyExportError
from pipelines.study_exports.requests import ExportRequest, RedriveBatch
from pipelines.study_exports.resources import StudyExportsResource
from pipelines.study_exports.sensors import parse_message, study_exports_redrive_sensor
from pipelines.study_exports.tables import records, studies, study_export_log, study_export_times, study_exports_under_way
from pipelines_tests.study_exports.conftest import SEED_MESSAGE, seed
from pipelines_tests.support.fuzz import bounded, edited_bytes
from pipelines_tests.support.snapshots import store_objects, table_rows

FUZZ = bounded(200)
TABLES = (studies, records, study_export_times, study_export_log, study_exports_under_way)
LONGEST_ERROR = 400

WHITELISTED = {**SEED_MESSAGE, "studyWhitelist": ["s1", "s2"]}
CLI_MESSAGE = {**WHITELISTED, "studyWhitelist": ["nope"]}
FIELDS = [*WHITELISTED, "recordOverride", "redriveCount"]
HOSTILE = st.sampled_from([
    None, True, False, 0, -1, 1.5, 2**64, 10**400, float("inf"), "", " ", "\x00", "\ud800", "é" * 3, "x" * 100_000,
    "true", "TRUE", "yes", "daily", "INSTANT", "WEEKLY", "DAILY\x00", "2016-10-04", "2016-10-04T00:00:00",
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2016-10-04T00:00:00+23:59",
    "2016-13-45T99:00:00Z", "redrive/records/a.txt", "../../etc/passwd", [], {}, [None], ["s1", ""], ["\x00"],
    ["s1"] * 3, {"$ne": 1},
])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | HOSTILE
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8)


@st.composite
def mutated_message(draw: st.DrawFn, base: dict = WHITELISTED) -> dict:
    """The message `base` with a few fields dropped, replaced, nested or added."""
    message = dict(base)
    for _ in range(draw(st.integers(1, 4))):
        field = draw(st.sampled_from(FIELDS) | st.sampled_from(["Date", "", "\x00", "exporttype"]) | st.text(max_size=5))
        edit = draw(st.sampled_from(["drop", "set", "nest-list", "nest-object"]))
        if edit == "drop":
            message.pop(field, None)
        elif edit == "set":
            message[field] = draw(VALUES)
        elif edit == "nest-list":
            message[field] = [message.get(field)]
        else:
            message[field] = {field: message.get(field)}
    return message


def mutated_bytes(content: bytes) -> st.SearchStrategy[bytes]:
    return edited_bytes(content, [b'"', b",", b"{", b"}", b"\xff", b"\\u0000", b"\\ud800"])


def as_json(message: object) -> bytes:
    return json.dumps(message).encode("utf-8", "surrogatepass")


MESSAGES = st.one_of(mutated_message(), VALUES)
BODIES = st.one_of(
    mutated_message().map(as_json),
    mutated_bytes(as_json(WHITELISTED)),
    VALUES.map(as_json),
    st.binary(max_size=200),
    st.sampled_from([b"[" * 100_000, b'{"a":' * 50_000, b"1" * 5000, b'{"redriveCount": 1' + b"0" * 5000 + b"}",
                     b"", b"null", b"\x00", b'"\\ud800"', b"\xef\xbb\xbf{}", b"NaN"]),
)


def assert_one_short_line(error: Exception) -> None:
    text = str(error)
    assert "\n" not in text and len(text) <= LONGEST_ERROR, text


@FUZZ
@given(body=BODIES)
@example(body=b"[" * 100_000)
@example(body=b"1" * 5000)
def test_a_message_body_is_a_request_or_one_line_of_study_export_error(body):
    try:
        request = parse_message(body.decode("utf-8", errors="replace"))  # as the sensor reads it
    except StudyExportError as exc:
        assert_one_short_line(exc)
        return
    assert ExportRequest.parse(request.to_message()) == request


@FUZZ
@given(message=MESSAGES, more=st.lists(MESSAGES, max_size=2), ids=VALUES)
def test_a_mapping_or_a_batch_of_them_is_a_request_or_one_line_of_study_export_error(message, more, ids):
    for parse in (lambda: ExportRequest.parse(message, source="message"),
                  lambda: RedriveBatch.parse({"requests": [message, *more], "messageIds": ids})):
        try:
            parse()
        except StudyExportError as exc:
            assert_one_short_line(exc)


COUNTER = itertools.count()


@pytest.fixture
def instance():
    """One Dagster instance for every example (the sensor only reads runs from it)."""
    with dg.instance_for_test() as instance:
        yield instance


@settings(FUZZ, max_examples=15)
@given(bodies=st.lists(BODIES, min_size=1, max_size=8))
def test_the_redrive_sensor_rejects_each_bad_message_with_its_reason_and_writes_nothing_else(instance, tmp_path, bodies):
    resource = ObjectStoreResource(root=str(tmp_path / f"objects-{next(COUNTER)}"))
    store = resource.get_store()
    names = [f"m{index:02d}" for index in range(len(bodies))]
    for name, body in zip(names, bodies):
        store.put_bytes(f"redrive/inbox/{name}.json", body)
    before = store_objects(store)

    with dg.build_sensor_context(
        instance=instance, resources={"object_store": resource, "study_exports": StudyExportsResource()}
    ) as context:
        result = study_exports_redrive_sensor(context)

    accepted = [] if not result.run_requests else result.run_requests[0].run_config["ops"]["study_exports_redrives"]["config"]["messageIds"]
    expected = {}
    for name, body in zip(names, bodies):
        if name in accepted:
            expected[f"redrive/inbox/{name}.json"] = before[f"redrive/inbox/{name}.json"]  # acknowledged once its run exists
        else:
            expected[f"redrive/rejected/{name}.json"] = before[f"redrive/inbox/{name}.json"]
            reason = store.get_bytes(f"redrive/rejected/{name}.json.reason.txt").decode()
            assert reason.startswith(f"invalid re-drive message {name}: ") and reason.count("\n") == 1
            expected[f"redrive/rejected/{name}.json.reason.txt"] = store_objects(store, f"redrive/rejected/{name}.json.reason.txt")[
                f"redrive/rejected/{name}.json.reason.txt"]
    assert store_objects(store) == expected
    assert json.loads(result.cursor)["rejected"] == len(bodies) - len(accepted)


@pytest.fixture
def cli_environment(database, tmp_path, monkeypatch):
    """The CLI on the test's database (three studies) and its default object store ($PIPELINES_HOME/objects)."""
    monkeypatch.setenv("PIPELINES_DATABASE_URL", database.url.render_as_string(hide_password=False))
    seed(database)
    return database, ObjectStoreResource().get_store()


@settings(FUZZ, max_examples=40)
@given(content=st.one_of(
    # Studies that do not exist, so that a request valid in itself is refused too (by the database's check).
    mutated_message(CLI_MESSAGE).map(as_json),
    mutated_bytes(as_json(CLI_MESSAGE)),
    st.binary(max_size=100),
    st.sampled_from([b"[" * 100_000, b"1" * 5000, b"\xff\xfe{}", b"[]"]),
))
def test_exports_run_refuses_a_bad_request_file_with_one_line_exit_2_and_writes_nothing(cli_environment, tmp_path, capsys, content):
    database, store = cli_environment
    path = tmp_path / "request.json"
    path.write_bytes(content)
    rows, objects = table_rows(database, TABLES), store_objects(store)

    status = main(["exports", "run", str(path)])

    out, err = capsys.readouterr()
    if status == 0:
        return  # a valid request of existing studies: exported
    assert status == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and len(err) <= LONGEST_ERROR + 8, err
    assert (table_rows(database, TABLES), store_objects(store)) == (rows, objects)
