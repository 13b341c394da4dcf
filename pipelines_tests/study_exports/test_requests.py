"""The export request model: every rule names the field and the value, before anything runs."""

import datetime as dt

import dagster as dg
import pytest

from pipelines.study_exports.errors import StudyExportError
from pipelines.study_exports.requests import ExportRequest, ExportType, WindowExportOptions, redrive_tag, window_start

UTC = dt.timezone.utc
END = "2016-10-04T23:59:59Z"


def test_the_seed_message_parses_with_its_string_boolean():
    request = ExportRequest.parse(
        {"endDateTime": END, "startDateTime": "2016-10-03T23:59:59Z", "exportType": "DAILY",
         "ignoreLastExportTime": "true", "tag": "test exporter"}
    )
    assert request == ExportRequest(
        export_type=ExportType.DAILY,
        end_date_time="2016-10-04T23:59:59Z",
        start_date_time="2016-10-03T23:59:59Z",
        ignore_last_export_time=True,
        tag="test exporter",
    )
    assert (request.end, request.start) == (
        dt.datetime(2016, 10, 4, 23, 59, 59, tzinfo=UTC), dt.datetime(2016, 10, 3, 23, 59, 59, tzinfo=UTC)
    )
    assert not request.uses_watermark


def test_lower_case_export_types_and_offsets_are_accepted_and_kept_as_utc():
    request = ExportRequest.parse({"exportType": "hourly", "endDateTime": "2016-10-04T02:00:00+02:00"})
    assert (request.export_type, request.end_date_time) == (ExportType.HOURLY, "2016-10-04T00:00:00Z")
    assert request.end == dt.datetime(2016, 10, 4, tzinfo=UTC)
    assert request.uses_watermark


def test_the_whitelist_loses_its_duplicates_and_keeps_its_order():
    request = ExportRequest.parse({"exportType": "INSTANT", "studyWhitelist": ["s2", "s1", "s2", " s1 "]})
    assert request.study_whitelist == ["s2", "s1"]


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({}, "studyWhitelist: missing; an INSTANT export names its studies"),
        ({"exportType": "WEEKLY", "endDateTime": END}, "exportType: 'WEEKLY': is not one of DAILY, HOURLY, INSTANT"),
        ({"exportType": "DAILY"}, "endDateTime: missing; a DAILY export needs the end of its window"),
        ({"exportType": "DAILY", "endDateTime": "04/10/2016"}, "endDateTime: '04/10/2016': is not an ISO 8601"),
        ({"exportType": "DAILY", "endDateTime": "2016-10-04T00:00:00"},
         "endDateTime: '2016-10-04T00:00:00': has no time zone; add Z or an offset like +00:00"),
        ({"exportType": "DAILY", "endDateTime": "0001-01-01T00:00:00Z"},
         "endDateTime: 0001-01-01T00:00:00Z is too early: a DAILY window before it would start before year 1"),
        ({"exportType": "HOURLY", "endDateTime": "0001-01-01T00:30:00Z"},
         "endDateTime: 0001-01-01T00:30:00Z is too early: a HOURLY window before it would start before year 1"),
        ({"exportType": "DAILY", "endDateTime": "0001-01-01T00:00:00+01:00"},
         "endDateTime: '0001-01-01T00:00:00+01:00': is out of range once converted to UTC"),
        ({"exportType": "DAILY", "endDateTime": END, "startDateTime": "2016-10-03T00:00:00Z"},
         "startDateTime: 2016-10-03T00:00:00Z given without ignoreLastExportTime=true"),
        ({"exportType": "DAILY", "endDateTime": END, "startDateTime": END, "ignoreLastExportTime": True},
         "startDateTime: 2016-10-04T23:59:59Z is not before endDateTime 2016-10-04T23:59:59Z"),
        ({"exportType": "DAILY", "endDateTime": END, "ignoreLastExportTime": "yes"},
         "ignoreLastExportTime: 'yes': is not true or false"),
        ({"exportType": "DAILY", "endDateTime": END, "recordOverride": "list.txt"},
         "endDateTime: 2016-10-04T23:59:59Z given with recordOverride 'list.txt'"),
        ({"exportType": "DAILY", "endDateTime": END, "studyWhitelist": []}, "studyWhitelist: []: is empty"),
        ({"exportType": "DAILY", "endDateTime": END, "studyWhitelist": "s1"}, "studyWhitelist: 's1': is not a list"),
        ({"exportType": "DAILY", "endDateTime": END, "redriveCount": -1},
         "redriveCount: -1: input should be greater than or equal to 0"),
        ({"exportType": "DAILY", "endDateTime": END, "tag": "t" * 501},
         f"tag: '{'t' * 59}...(503 characters): string should have at most 500 characters"),
        ({"exportType": "DAILY", "endDateTime": END, "Date": "2016-10-04"}, "Date: unknown field"),
        (["DAILY"], "expected a JSON object, got list ['DAILY']"),
    ],
    ids=[
        "instant-by-default-needs-studies", "unknown-type", "no-end", "bad-date", "naive-date", "year-1-daily",
        "year-1-hourly", "year-1-offset", "start-without-ignore", "start-not-before-end", "bad-boolean",
        "override-with-window", "empty-whitelist", "whitelist-not-a-list", "negative-redrive-count", "long-tag",
        "unknown-field", "not-an-object",
    ],
)
def test_a_bad_request_names_the_field_and_the_value(message, error):
    with pytest.raises(StudyExportError) as raised:
        ExportRequest.parse(message)
    assert str(raised.value).startswith(error)
    assert "\n" not in str(raised.value)


def test_a_partition_request_takes_the_window_and_the_runs_options():
    options = WindowExportOptions.parse({"studyWhitelist": ["s1"], "tag": "nightly"})
    window = dg.TimeWindow(dt.datetime(2016, 10, 3, tzinfo=UTC), dt.datetime(2016, 10, 4, tzinfo=UTC))
    assert ExportRequest.for_window(options, ExportType.DAILY, window, ignore=False).to_message() == {
        "exportType": "DAILY", "endDateTime": "2016-10-04T00:00:00Z", "studyWhitelist": ["s1"], "tag": "nightly",
    }
    assert ExportRequest.for_window(options, ExportType.DAILY, window, ignore=True).to_message() == {
        "exportType": "DAILY", "endDateTime": "2016-10-04T00:00:00Z", "startDateTime": "2016-10-03T00:00:00Z",
        "ignoreLastExportTime": True, "studyWhitelist": ["s1"], "tag": "nightly",
    }


def test_each_type_derives_its_window_start():
    end = dt.datetime(2016, 10, 4, 15, 30, tzinfo=UTC)
    assert window_start(ExportType.DAILY, end) == dt.datetime(2016, 10, 3, 15, 30, tzinfo=UTC)
    assert window_start(ExportType.HOURLY, end) == dt.datetime(2016, 10, 4, 14, 30, tzinfo=UTC)
    assert window_start(ExportType.INSTANT, end) == dt.datetime(2016, 10, 4, tzinfo=UTC)


def test_a_redrive_counts_up_and_prefixes_the_tag_once():
    request = ExportRequest.parse({"exportType": "INSTANT", "studyWhitelist": ["s1"], "tag": "manual"})
    first = request.redrive("redrive/records/a-1.txt")
    assert first.to_message() == {
        "exportType": "INSTANT", "studyWhitelist": ["s1"], "recordOverride": "redrive/records/a-1.txt",
        "tag": "redrive export; original: manual", "redriveCount": 1,
    }
    assert first.redrive("redrive/records/b-1.txt").tag == "redrive export; original: manual"
    assert redrive_tag(None) == "redrive export; original: "
