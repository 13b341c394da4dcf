"""Request validation: every rule names the field and the value, before anything runs."""

import datetime as dt

import pytest

from pipelines.study_exports.errors import StudyExportError
from pipelines.study_exports.request import ExportRequest, ExportType, redrive_tag, window_start

UTC = dt.timezone.utc
END = "2016-10-04T23:59:59Z"


def test_the_seed_message_parses_with_its_string_boolean():
    request = ExportRequest.parse(
        {"endDateTime": END, "startDateTime": "2016-10-03T23:59:59Z", "exportType": "DAILY",
         "ignoreLastExportTime": "true", "tag": "test exporter"}
    )
    assert request == ExportRequest(
        exportType=ExportType.DAILY,
        endDateTime=dt.datetime(2016, 10, 4, 23, 59, 59, tzinfo=UTC),
        startDateTime=dt.datetime(2016, 10, 3, 23, 59, 59, tzinfo=UTC),
        ignoreLastExportTime=True,
        tag="test exporter",
    )
    assert not request.uses_watermark


def test_lower_case_export_types_and_offsets_are_accepted():
    request = ExportRequest.parse({"exportType": "hourly", "endDateTime": "2016-10-04T02:00:00+02:00"})
    assert (request.exportType, request.endDateTime) == (ExportType.HOURLY, dt.datetime(2016, 10, 4, tzinfo=UTC))
    assert request.uses_watermark


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({}, "exportType: missing; use DAILY, HOURLY or INSTANT"),
        ({"exportType": "WEEKLY", "endDateTime": END}, "exportType: 'WEEKLY' is not one of DAILY, HOURLY, INSTANT"),
        ({"exportType": "DAILY"}, "endDateTime: missing; a DAILY export needs the end of its window"),
        ({"exportType": "DAILY", "endDateTime": "04/10/2016"}, "endDateTime: '04/10/2016' is not an ISO 8601"),
        ({"exportType": "DAILY", "endDateTime": "2016-10-04T00:00:00"}, "endDateTime: '2016-10-04T00:00:00' has no time zone"),
        ({"exportType": "DAILY", "endDateTime": END, "startDateTime": "2016-10-03T00:00:00Z"},
         "startDateTime: 2016-10-03T00:00:00Z given without ignoreLastExportTime=true"),
        ({"exportType": "DAILY", "endDateTime": END, "startDateTime": END, "ignoreLastExportTime": True},
         "startDateTime: 2016-10-04T23:59:59Z is not before endDateTime 2016-10-04T23:59:59Z"),
        ({"exportType": "DAILY", "endDateTime": END, "ignoreLastExportTime": "yes"},
         "ignoreLastExportTime: 'yes' is not true or false"),
        ({"exportType": "DAILY", "endDateTime": END, "recordOverride": "list.txt"},
         "endDateTime: 2016-10-04T23:59:59Z given with recordOverride 'list.txt'"),
        ({"exportType": "DAILY", "endDateTime": END, "studyWhitelist": []}, "studyWhitelist: [] is empty"),
        ({"exportType": "DAILY", "endDateTime": END, "studyWhitelist": "s1"}, "studyWhitelist: 's1' is not a list"),
        ({"exportType": "INSTANT"}, "studyWhitelist: missing; an INSTANT export names its studies"),
        ({"exportType": "DAILY", "endDateTime": END, "redriveCount": -1}, "redriveCount: -1 is not a whole number"),
        ({"exportType": "DAILY", "endDateTime": END, "Date": "2016-10-04"}, "request: unknown field(s) 'Date'"),
        (["DAILY"], "request: expected a JSON object, got list"),
    ],
    ids=[
        "no-type", "unknown-type", "no-end", "bad-date", "naive-date", "start-without-ignore", "start-not-before-end",
        "bad-boolean", "override-with-window", "empty-whitelist", "whitelist-not-a-list", "instant-without-studies",
        "negative-redrive-count", "unknown-field", "not-an-object",
    ],
)
def test_a_bad_request_names_the_field_and_the_value(message, error):
    with pytest.raises(StudyExportError) as raised:
        ExportRequest.parse(message)
    assert str(raised.value).startswith(error)


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
