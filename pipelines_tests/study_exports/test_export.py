"""`run_export` on both backends: the seed's nine test cases, record re-drives, and the watermark rules."""

from __future__ import annotations

import datetime as dt
import io
import json
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from pipelines.core.object_store import LocalObjectStore
from pipelines.study_exports.errors import StudyExportError
from pipelines.study_exports.export import run_export
from pipelines.study_exports.redrive import StoreInbox
from pipelines.study_exports.requests import ExportRequest
from pipelines.study_exports.tables import study_export_log, study_export_times
from pipelines.study_exports.watermarks import read_export_times
from pipelines_tests.study_exports.conftest import (
    FailingStore,
    at,
    count_rows,
    exported_ids,
    seed,
    set_watermark,
)

DAILY_END = "2016-10-04T00:00:00Z"


def export(database, store, **message):
    return run_export(database, store, ExportRequest.parse(message))


# --- 1. daily export without ignoreLastExportTime -------------------------------------------------


def test_case_1_daily_export_names_the_date_window_and_uses_the_datetime_range(seeded, local_store):
    result = export(seeded, local_store, exportType="DAILY", endDateTime=DAILY_END, studyWhitelist=["s1"])
    assert result.keys == [
        f"study_exports/exports/{result.export_id}/daily/20161003T000000Z--20161004T000000Z/s1/survey.csv",
        f"study_exports/exports/{result.export_id}/daily/20161003T000000Z--20161004T000000Z/s1/walk.csv",
    ]
    # [00:00, 24:00): r02 at midnight is in, r06 at the next midnight is out.
    assert exported_ids(local_store, result.keys) == ["r02", "r04", "r05", "r03"]


def test_case_1_daily_export_starts_at_an_existing_last_export_date_time(seeded, local_store):
    set_watermark(seeded, "s1", at("10-03 12:00"))
    result = export(seeded, local_store, exportType="DAILY", endDateTime=DAILY_END, studyWhitelist=["s1"])
    assert result.windows == {"s1": ("2016-10-03T12:00:00Z", "2016-10-04T00:00:00Z")}
    assert exported_ids(local_store, result.keys) == ["r04", "r05"]
    assert read_export_times(seeded) == {"s1": at("10-04 00:00")}


def test_case_1_daily_export_without_a_watermark_starts_one_day_before_the_end(seeded, local_store):
    result = export(seeded, local_store, exportType="DAILY", endDateTime=DAILY_END)
    assert result.windows == {
        s: ("2016-10-03T00:00:00Z", "2016-10-04T00:00:00Z") for s in ("s1", "s2", "s3")
    }
    assert result.records == 7
    assert result.counts == {"s1": {"survey": 3, "walk": 1}, "s2": {"walk": 2}, "s3": {"survey": 1}}
    assert read_export_times(seeded) == {s: at("10-04 00:00") for s in ("s1", "s2", "s3")}


# --- 2. one-time (INSTANT) export without ignoreLastExportTime ------------------------------------


def test_case_2_instant_export_starts_at_an_existing_last_export_date_time(seeded, local_store):
    set_watermark(seeded, "s1", at("10-03 20:00"))
    result = export(
        seeded, local_store, exportType="INSTANT", endDateTime="2016-10-03T23:50:00Z", studyWhitelist=["s1"]
    )
    assert exported_ids(local_store, result.keys) == ["r05"]
    assert read_export_times(seeded) == {"s1": at("10-03 23:50")}


def test_case_2_instant_export_without_a_watermark_starts_at_the_start_of_the_end_day(seeded, local_store):
    result = export(
        seeded, local_store, exportType="INSTANT", endDateTime="2016-10-03T23:50:00Z", studyWhitelist=["s2"]
    )
    assert result.windows == {"s2": ("2016-10-03T00:00:00Z", "2016-10-03T23:50:00Z")}
    assert exported_ids(local_store, result.keys) == ["r07", "r08"]


def test_case_2_instant_export_without_an_end_ends_a_clock_skew_before_now(seeded, local_store):
    request = ExportRequest.parse({"exportType": "INSTANT", "studyWhitelist": ["s1"]})
    result = run_export(seeded, local_store, request, now=at("10-03 12:00"))
    # now - 1 minute: r04 at 12:00 is not exported yet.
    assert result.windows == {"s1": ("2016-10-03T00:00:00Z", "2016-10-03T11:59:00Z")}
    assert exported_ids(local_store, result.keys) == ["r02", "r03"]
    assert read_export_times(seeded) == {"s1": at("10-03 11:59")}


# --- 3. hourly export without ignoreLastExportTime ------------------------------------------------


def test_case_3_hourly_export_starts_at_an_existing_last_export_date_time(seeded, local_store):
    set_watermark(seeded, "s1", at("10-03 23:20"))
    result = export(seeded, local_store, exportType="HOURLY", endDateTime=DAILY_END, studyWhitelist=["s1"])
    assert result.windows == {"s1": ("2016-10-03T23:20:00Z", "2016-10-04T00:00:00Z")}
    assert exported_ids(local_store, result.keys) == []
    assert read_export_times(seeded) == {"s1": at("10-04 00:00")}


def test_case_3_hourly_export_without_a_watermark_starts_one_hour_before_the_end(seeded, local_store):
    result = export(seeded, local_store, exportType="HOURLY", endDateTime=DAILY_END)
    assert result.keys[0] == (
        f"study_exports/exports/{result.export_id}/hourly/20161003T230000Z--20161004T000000Z/s1/survey.csv"
    )
    assert exported_ids(local_store, result.keys) == ["r05", "r08", "r09"]


# --- 4./5. daily and hourly exports with ignoreLastExportTime ------------------------------------


@pytest.mark.parametrize(
    ("export_type", "start", "expected"),
    [
        ("DAILY", None, ["r02", "r04", "r05", "r03"]),
        ("DAILY", "2016-10-03T12:00:00Z", ["r04", "r05"]),
    ],
    ids=["derived-start", "explicit-start"],
)
def test_case_4_daily_export_ignoring_the_watermark_uses_the_start_and_keeps_the_table(
    seeded, local_store, export_type, start, expected
):
    set_watermark(seeded, "s1", at("10-03 23:00"))
    message = {"exportType": export_type, "endDateTime": DAILY_END, "ignoreLastExportTime": "true"}
    if start:
        message["startDateTime"] = start
    result = export(seeded, local_store, studyWhitelist=["s1"], **message)
    assert exported_ids(local_store, result.keys) == expected
    assert read_export_times(seeded) == {"s1": at("10-03 23:00")}
    assert result.watermarks_moved == 0


def test_case_5_hourly_export_ignoring_the_watermark_uses_the_start_and_keeps_the_table(seeded, local_store):
    set_watermark(seeded, "s1", at("10-04 00:00"))
    result = export(
        seeded, local_store, exportType="HOURLY", endDateTime=DAILY_END, ignoreLastExportTime=True,
        studyWhitelist=["s1", "s2"],
    )
    assert result.windows == {s: ("2016-10-03T23:00:00Z", "2016-10-04T00:00:00Z") for s in ("s1", "s2")}
    assert exported_ids(local_store, result.keys) == ["r05", "r08"]
    # s1 keeps its watermark; s2 gets no row at all.
    assert read_export_times(seeded) == {"s1": at("10-04 00:00")}


# --- 6. s3 override (record override) ------------------------------------------------------------


def test_case_6_record_override_exports_the_listed_records_and_keeps_the_table(seeded, local_store):
    set_watermark(seeded, "s1", at("10-03 00:00"))
    local_store.put_bytes("overrides/list.txt", b"r06\nr01\nr08\n\nr01\n")
    result = export(seeded, local_store, exportType="DAILY", recordOverride="overrides/list.txt")
    assert result.keys == [
        f"study_exports/exports/{result.export_id}/daily/override/s1/survey.csv",
        f"study_exports/exports/{result.export_id}/daily/override/s2/walk.csv",
    ]
    assert exported_ids(local_store, result.keys) == ["r01", "r06", "r08"]
    assert read_export_times(seeded) == {"s1": at("10-03 00:00")}


# --- 7. re-drive -----------------------------------------------------------------------------------


def test_case_7_redriving_records_keeps_the_table(seeded, local_store):
    set_watermark(seeded, "s2", at("10-03 09:00"))
    local_store.put_bytes("redrive/records/x-1.txt", b"r07\n")
    result = export(
        seeded, local_store, exportType="DAILY", recordOverride="redrive/records/x-1.txt", redriveCount=1,
        tag="redrive export; original: nightly",
    )
    assert exported_ids(local_store, result.keys) == ["r07"]
    assert read_export_times(seeded) == {"s2": at("10-03 09:00")}


def test_case_7_redriving_tables_uses_the_start_not_the_watermark_and_keeps_the_table(seeded, local_store):
    set_watermark(seeded, "s2", at("10-04 00:00"))
    # The seed's re-export message, as it arrives from the queue.
    result = export(
        seeded, local_store, endDateTime="2016-10-03T23:59:59Z", startDateTime="2016-10-02T23:59:59Z",
        exportType="DAILY", ignoreLastExportTime="true", tag="test exporter", studyWhitelist=["s2"],
    )
    assert result.windows == {"s2": ("2016-10-02T23:59:59Z", "2016-10-03T23:59:59Z")}
    assert exported_ids(local_store, result.keys) == ["r07", "r08"]
    assert read_export_times(seeded) == {"s2": at("10-04 00:00")}


# --- 8. endDateTime before lastExportDateTime --------------------------------------------------------


def test_case_8_end_before_the_watermark_exports_nothing_and_never_moves_the_watermark_back(seeded, local_store):
    set_watermark(seeded, "s1", at("10-04 00:00"))
    result = export(
        seeded, local_store, exportType="DAILY", endDateTime="2016-10-03T12:00:00Z", studyWhitelist=["s1"]
    )
    assert (result.records, result.keys, result.windows) == (0, [], {"s1": None})
    assert read_export_times(seeded) == {"s1": at("10-04 00:00")}


# --- 9. failed export ------------------------------------------------------------------------------------


def test_case_9_failed_export_keeps_watermarks_then_the_next_run_covers_the_gap(seeded, tmp_path):
    set_watermark(seeded, "s1", at("10-03 00:00"))
    objects = tmp_path / "objects"
    down = FailingStore(objects, fail_from=2)  # the first CSV is written, then the store goes down
    with pytest.raises(OSError, match="simulated store failure"):
        export(seeded, down, exportType="DAILY", endDateTime="2016-10-03T12:00:00Z")
    assert read_export_times(seeded) == {"s1": at("10-03 00:00"), "s2": None, "s3": None}
    assert count_rows(seeded, study_export_log) == 0
    assert sorted(p.name for p in objects.rglob("*") if p.is_file()) == []  # written files removed

    healthy = FailingStore(objects)
    # The next run (of another type) covers everything since the old watermark.
    result = export(seeded, healthy, exportType="HOURLY", endDateTime=DAILY_END, studyWhitelist=["s1"])
    assert exported_ids(healthy, result.keys) == ["r02", "r04", "r05", "r03"]
    # The failed request retried now exports 0 records (its end is behind the watermark).
    retried = export(seeded, healthy, exportType="DAILY", endDateTime="2016-10-03T12:00:00Z", studyWhitelist=["s1"])
    assert retried.records == 0
    assert read_export_times(seeded)["s1"] == at("10-04 00:00")


# --- record re-drives ------------------------------------------------------------------------------------


def test_a_record_with_bad_data_is_redriven_and_the_others_exported(database, local_store):
    seed(
        database,
        [
            ("good", "s1", at("10-03 01:00"), "survey", {"q": 1}),
            ("bad", "s1", at("10-03 02:00"), "survey", ["not", "an", "object"]),
        ],
        study_ids=("s1",),
    )
    result = export(database, local_store, exportType="DAILY", endDateTime=DAILY_END, tag="nightly")
    assert exported_ids(local_store, result.keys) == ["good"]
    assert result.failed_record_ids == ["bad"]
    assert local_store.get_bytes(result.redrive_keys[0]) == b"bad\n"
    [message] = StoreInbox(local_store).receive(10)
    assert json.loads(message.body) == {
        "exportType": "DAILY",
        "recordOverride": result.redrive_keys[0],
        "tag": "redrive export; original: nightly",
        "redriveCount": 1,
    }
    assert read_export_times(database) == {"s1": at("10-04 00:00")}


def test_a_file_that_cannot_be_written_redrives_its_records_only(seeded, tmp_path):
    store = FailingStore(tmp_path / "objects", fail_key="/s1/walk.csv")
    result = export(seeded, store, exportType="DAILY", endDateTime=DAILY_END)
    assert result.failed_record_ids == ["r03"]
    assert result.records == 6
    assert store.get_bytes(result.redrive_keys[0]) == b"r03\n"
    # The re-drive message, run through the same function, exports the record.
    [message] = StoreInbox(store).receive(10)
    redrive = run_export(seeded, FailingStore(tmp_path / "objects"), ExportRequest.parse(json.loads(message.body)))
    assert exported_ids(store, redrive.keys) == ["r03"]


def test_records_past_the_maximum_redrive_count_are_dead(database, local_store):
    seed(database, [("bad", "s1", at("10-03 01:00"), "survey", None)], study_ids=("s1",))
    local_store.put_bytes("redrive/records/old-1.txt", b"bad\n")
    result = export(
        database, local_store, exportType="DAILY", recordOverride="redrive/records/old-1.txt", redriveCount=2
    )
    assert result.dead_record_ids == ["bad"]
    assert result.redrive_keys == []
    assert StoreInbox(local_store).receive(10) == []


# --- requests checked against the database ------------------------------------------------------------


def test_a_whitelist_naming_an_unknown_study_exports_nothing(seeded, local_store):
    with pytest.raises(StudyExportError, match=r"studyWhitelist: unknown study id\(s\) 'nope'"):
        export(seeded, local_store, exportType="DAILY", endDateTime=DAILY_END, studyWhitelist=["s1", "nope"])
    assert count_rows(seeded, study_export_times) == 0
    assert list(local_store.list()) == []


def test_a_watermark_export_ending_in_the_future_is_refused(seeded, local_store):
    request = ExportRequest.parse({"exportType": "HOURLY", "endDateTime": "2016-10-03T12:00:00Z"})
    with pytest.raises(StudyExportError, match="endDateTime: 2016-10-03T12:00:00Z is later than now minus the clock"):
        run_export(seeded, local_store, request, now=at("10-03 12:00"))
    assert read_export_times(seeded) == {}


def test_a_missing_override_file_is_named(seeded, local_store):
    with pytest.raises(StudyExportError, match="recordOverride: no object 'nope.txt'"):
        export(seeded, local_store, exportType="DAILY", recordOverride="nope.txt")


def test_the_export_log_records_request_counts_and_keys(seeded, local_store):
    result = export(seeded, local_store, exportType="DAILY", endDateTime=DAILY_END, studyWhitelist=["s2"], tag="t")
    with seeded.begin() as conn:
        row = conn.execute(sa.select(study_export_log)).one()
    assert (row.export_type, row.tag, row.record_count, row.counts) == ("DAILY", "t", 2, {"s2": {"walk": 2}})
    assert row.keys == result.keys
    assert row.request == {"exportType": "DAILY", "endDateTime": DAILY_END, "studyWhitelist": ["s2"], "tag": "t"}


# --- file order: study ids and schema keys in byte order, on both backends ----------------------------

MIXED_CASE_RECORDS = [
    # (record_id, study_id, uploaded_on, schema_key, data)
    ("r-etude", "étude", at("10-03 01:00"), "walk", {"n": 1}),
    ("r-zeta-upper", "Zeta", at("10-03 01:00"), "walk", {"n": 2}),
    ("r-beta-walk", "beta", at("10-03 02:00"), "walk", {"n": 3}),
    ("r-beta-Walk", "beta", at("10-03 02:00"), "Walk", {"n": 4}),
    ("r-beta-upper", "Beta", at("10-03 03:00"), "walk", {"n": 5}),
    ("r-aerzte", "Ärzte", at("10-03 04:00"), "walk", {"n": 6}),
    ("r-under", "_under", at("10-03 05:00"), "walk", {"n": 7}),
    ("r-alpha-2", "alpha", at("10-03 06:00"), "walk", {"n": 8}),
    ("r-alpha-1", "alpha", at("10-03 06:00"), "walk", {"n": 9}),
]


def test_files_come_in_byte_order_of_study_id_then_schema_key_on_both_backends(database, local_store):
    seed(database, MIXED_CASE_RECORDS, study_ids=("étude", "Zeta", "beta", "Beta", "Ärzte", "_under", "alpha"))
    result = export(
        database, local_store, exportType="DAILY", startDateTime="2016-10-03T00:00:00Z", endDateTime=DAILY_END,
        ignoreLastExportTime=True,
    )
    prefix = f"study_exports/exports/{result.export_id}/daily/20161003T000000Z--20161004T000000Z/"
    # Upper case before lower case before non-ASCII (UTF-8 bytes), whatever the database's collation.
    assert [key.removeprefix(prefix) for key in result.keys] == [
        "Beta/walk.csv",
        "Zeta/walk.csv",
        "_under/walk.csv",
        "alpha/walk.csv",
        "beta/Walk.csv",
        "beta/walk.csv",
        "%C3%84rzte/walk.csv",
        "%C3%A9tude/walk.csv",
    ]
    assert exported_ids(local_store, result.keys) == [
        "r-beta-upper", "r-zeta-upper", "r-under", "r-alpha-1", "r-alpha-2", "r-beta-Walk", "r-beta-walk",
        "r-aerzte", "r-etude",
    ]
    assert list(result.windows) == ["Beta", "Zeta", "_under", "alpha", "beta", "Ärzte", "étude"]


# --- PostgreSQL: COPY output is the Python path's output, byte for byte -------------------------------

ODD_RECORDS = [
    # (record_id, study_id, uploaded_on, schema_key, data)
    ("plain", "s1", at("10-03 01:00"), "survey", {"q": 1}),
    ("micro", "s1", at("10-03 01:00:00.000001"), "survey", {"q": 2}),
    ("micro-half", "s1", at("10-03 01:00:00.5"), "survey", {}),
    ('quote"d, id', "s1", at("10-03 02:00"), "survey", {"text": 'say "hi", then\nleave\r\n'}),
    ("", "s1", at("10-03 02:30"), "survey", {"empty": ""}),
    ("unicode-é", "s1", at("10-03 03:00"), "survey", {"név": "Zoë ✓ 日本", "nested": {"a": [1, None, True]}}),
    ("bad-array", "s1", at("10-03 04:00"), "survey", [1, 2]),
    ("bad-string", "s1", at("10-03 04:30"), "survey", "{not an object}"),
    ("bad-string-brace", "s1", at("10-03 04:40"), "survey", 'ends in }'),
    ("bad-number", "s1", at("10-03 05:00"), "survey", 12.5),
    ("bad-sql-null", "s1", at("10-03 05:30"), "survey", None),
    ("only-bad", "s1", at("10-03 06:00"), "diary", "x"),
    ("comma-schema", "s1", at("10-03 07:00"), "a,b", {"k": "v"}),
    ("newline-schema", "s1", at("10-03 07:00"), "line\nbreak", {"k": "v"}),
    ("quote-schema", "s1", at("10-03 07:00"), 'say "x"', {"k": "v"}),
    ("after-quoted-id", "s1", at("10-03 08:00"), "survey", {"q": 3}),
    ("étude-1", "étude, ü", at("10-03 09:00"), "walk", {"steps": 1}),
    ("late", "s2", at("10-03 23:59:59.999999"), "walk", {"steps": 2}),
] + [  # a file larger than one COPY write block
    (f"bulk-{n:05d}", "s2", at("10-03 10:00") + dt.timedelta(seconds=n), "walk", {"n": n, "pad": "x" * 80})
    for n in range(4000)
]


def _export_both_ways(database, tmp_path, monkeypatch, **message):
    from pipelines.core import csv_files
    from pipelines.core.object_store import LocalObjectStore
    from pipelines.study_exports import export as export_module

    copy_store, python_store = LocalObjectStore(tmp_path / "copy"), LocalObjectStore(tmp_path / "python")
    with monkeypatch.context() as patch:
        patch.setattr(export_module, "_uses_copy", lambda database, conn: False)
        python_path = export(database, python_store, ignoreLastExportTime=True, **message)
    with monkeypatch.context() as patch:
        patch.setattr(csv_files, "BLOCK", 1_000)  # many writes per file
        copy_path = export(database, copy_store, ignoreLastExportTime=True, **message)
    return copy_store, copy_path, python_store, python_path


def _same_files(copy_store, copy_path, python_store, python_path):
    # Override keys name their export's id.
    assert [k.replace(copy_path.export_id, "ID") for k in copy_path.keys] == [
        k.replace(python_path.export_id, "ID") for k in python_path.keys
    ]
    for copy_key, python_key in zip(copy_path.keys, python_path.keys):
        assert copy_store.get_bytes(copy_key) == python_store.get_bytes(python_key), copy_key
    assert copy_path.counts == python_path.counts
    assert copy_path.records == python_path.records
    assert copy_path.failed_record_ids == python_path.failed_record_ids


def test_postgres_copy_export_writes_the_python_paths_bytes(pg_database, tmp_path, monkeypatch):
    seed(pg_database, ODD_RECORDS, study_ids=("s1", "s2", "étude, ü"))
    copy_store, copy_path, python_store, python_path = _export_both_ways(
        pg_database, tmp_path, monkeypatch,
        exportType="DAILY", startDateTime="2016-10-03T00:00:00Z", endDateTime=DAILY_END,
    )
    _same_files(copy_store, copy_path, python_store, python_path)
    assert copy_path.records == 4012
    # s1's files in schema_key order: "a,b", "diary" (only a bad record: no file), "line\nbreak", ...
    assert copy_path.failed_record_ids == [
        "only-bad", "bad-array", "bad-string", "bad-string-brace", "bad-number", "bad-sql-null"
    ]
    [s1_survey_key] = [k for k in copy_path.keys if k.endswith("/s1/survey.csv")]
    s1_survey = copy_store.get_bytes(s1_survey_key)
    assert s1_survey.decode("utf-8") == (
        "record_id,study_id,schema_key,uploaded_on,data\r\n"
        'plain,s1,survey,2016-10-03T01:00:00+00:00,"{""q"": 1}"\r\n'
        'micro,s1,survey,2016-10-03T01:00:00.000001+00:00,"{""q"": 2}"\r\n'
        "micro-half,s1,survey,2016-10-03T01:00:00.500000+00:00,{}\r\n"
        '"quote""d, id",s1,survey,2016-10-03T02:00:00+00:00,"{""text"": ""say \\""hi\\"", then\\nleave\\r\\n""}"\r\n'
        '"",s1,survey,2016-10-03T02:30:00+00:00,"{""empty"": """"}"\r\n'
        'unicode-é,s1,survey,2016-10-03T03:00:00+00:00,'
        '"{""név"": ""Zoë ✓ 日本"", ""nested"": {""a"": [1, null, true]}}"\r\n'
        'after-quoted-id,s1,survey,2016-10-03T08:00:00+00:00,"{""q"": 3}"\r\n'
    )


def test_postgres_copy_export_of_a_record_override_writes_the_python_paths_bytes(pg_database, tmp_path, monkeypatch):
    ancient = ("ancient", "s1", dt.datetime(5, 1, 2, 3, 4, 5, 120, tzinfo=dt.timezone.utc), "survey", {"y": 5})
    seed(pg_database, [*ODD_RECORDS[:18], ancient], study_ids=("s1", "s2", "étude, ü"))
    ids = [r[0] for r in [*ODD_RECORDS[:18], ancient]]
    for root in ("copy", "python"):
        (tmp_path / root / "lists").mkdir(parents=True)
        (tmp_path / root / "lists" / "ids.txt").write_text("".join(f"{i}\n" for i in ids if i and "\n" not in i))
    copy_store, copy_path, python_store, python_path = _export_both_ways(
        pg_database, tmp_path, monkeypatch, exportType="DAILY", recordOverride="lists/ids.txt"
    )
    _same_files(copy_store, copy_path, python_store, python_path)
    assert copy_path.records == 12  # the listed good records: not "" (an empty line lists nothing)
    [s1_key] = [k for k in copy_path.keys if k.endswith("/s1/survey.csv")]
    s1_survey = copy_store.get_bytes(s1_key).decode("utf-8").splitlines()
    assert s1_survey[1] == 'ancient,s1,survey,0005-01-02T03:04:05.000120+00:00,"{""y"": 5}"'


class _StoreFailingMidFile(LocalObjectStore):
    """A real local store whose writes to `fail_key` fail after their first block."""

    def __init__(self, root, fail_key: str):
        super().__init__(root)
        self.fail_key = fail_key

    @contextmanager
    def open_write(self, key: str):
        with super().open_write(key) as out:
            if self.fail_key not in key:
                yield out
                return
            writes = 0

            class Failing(io.RawIOBase):
                def write(self, block):
                    nonlocal writes
                    writes += 1
                    if writes > 1:
                        raise OSError(f"simulated store failure writing {key}")
                    return out.write(block)

            yield Failing()


def test_a_file_failing_mid_stream_redrives_all_its_records_and_keeps_the_others(database, tmp_path):
    seed(database, ODD_RECORDS, study_ids=("s1", "s2", "étude, ü"))
    store = _StoreFailingMidFile(tmp_path / "objects", fail_key="/s2/walk.csv")
    result = export(
        database, store, exportType="DAILY", startDateTime="2016-10-03T00:00:00Z", endDateTime=DAILY_END,
        ignoreLastExportTime=True,
    )
    assert result.records == 11  # s1's and étude's good records
    assert not any(k.endswith("/s2/walk.csv") for k in result.keys)
    assert sorted(result.failed_record_ids) == sorted(
        ["only-bad", "bad-array", "bad-string", "bad-string-brace", "bad-number", "bad-sql-null", "late"]
        + [f"bulk-{n:05d}" for n in range(4000)]
    )
    assert store.get_bytes(result.redrive_keys[0]).decode().count("\n") == 4007
    assert [k for k in (i.key for i in store.list("study_exports/exports/")) if "/s2/" in k] == []


def test_a_whitelist_of_70000_studies_is_one_parameter_and_unknown_ids_are_shortened(seeded):
    from pipelines.study_exports.export import resolve_studies
    from pipelines.study_exports.tables import studies

    names = [f"study-{i:05d}" for i in range(70_000)]  # past PostgreSQL's 65,535 bound parameters
    with seeded.begin() as conn:
        conn.execute(studies.insert(), [{"study_id": name, "name": name} for name in names])
    request = ExportRequest.parse({"exportType": "INSTANT", "studyWhitelist": [*reversed(names), "s1"]})
    assert resolve_studies(seeded, request) == ["s1", *names]

    unknown = ExportRequest.parse({"exportType": "INSTANT", "studyWhitelist": [f"gone-{i}" for i in range(70_000)]})
    with pytest.raises(StudyExportError) as raised:
        resolve_studies(seeded, unknown)
    assert str(raised.value) == (
        "studyWhitelist: unknown study id(s) 'gone-0', 'gone-1', 'gone-2', 'gone-3', 'gone-4' and 69,995 more; "
        "list only existing studies"
    )
