"""`pipelines exports ...`: a JSON summary on success, one line naming the field on a bad request."""

import json

import pytest

from pipelines.cli import main
from pipelines_tests.study_exports.conftest import at, seed


@pytest.fixture
def app_database(database, monkeypatch):
    monkeypatch.setenv("PIPELINES_DATABASE_URL", database.url.render_as_string(hide_password=False))
    seed(database)
    return database


def test_exports_run_prints_a_json_summary_of_any_request(app_database, tmp_path, capsys):
    path = tmp_path / "request.json"
    path.write_text(json.dumps({
        "endDateTime": "2016-10-04T00:00:00Z", "startDateTime": "2016-10-03T23:00:00Z", "exportType": "DAILY",
        "ignoreLastExportTime": "true", "tag": "test exporter",
    }))
    assert main(["exports", "run", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["records"], summary["files"], summary["tag"]) == (3, 3, "test exporter")
    assert summary["counts"] == {"s1": {"survey": 1}, "s2": {"walk": 1}, "s3": {"survey": 1}}


def test_exports_instant_exports_the_named_studies_and_moves_their_watermarks(app_database, capsys):
    assert main(["exports", "instant", "--study", "s2", "--end", "2016-10-03T23:59:00Z"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["windows"] == {"s2": ["2016-10-03T00:00:00Z", "2016-10-03T23:59:00Z"]}
    assert main(["exports", "watermarks"]) == 0
    assert json.loads(capsys.readouterr().out) == {"s2": at("10-03 23:59").isoformat()}


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["exports", "instant"], "error: studyWhitelist: missing; an INSTANT export names its studies\n"),
        (
            ["exports", "instant", "--study", "nope", "--end", "2016-10-03T00:00:00Z"],
            "error: studyWhitelist: unknown study id(s) 'nope'; list only existing studies\n",
        ),
        (["exports", "instant", "--study", "s1", "--end", "tomorrow"], "error: endDateTime: 'tomorrow': is not an ISO 8601 date-time; write e.g. 2016-10-04T23:59:59Z\n"),
    ],
    ids=["no-study", "unknown-study", "bad-end"],
)
def test_a_bad_export_request_is_one_line(app_database, capsys, argv, error):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(error) and err.count("\n") == 1


def test_exports_current_lists_each_studys_current_files_of_a_window(app_database, capsys):
    assert main(["exports", "instant", "--study", "s2", "--end", "2016-10-03T23:59:00Z"]) == 0
    summary = json.loads(capsys.readouterr().out)
    argv = ["exports", "current", "--type", "INSTANT", "--start", "2016-10-03T00:00:00Z", "--end", "2016-10-03T23:59:00Z"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == {"s2": {"manifest": summary["manifest"], "files": summary["keys"]}}
    assert summary["keys"] == [f"study_exports/exports/{summary['export_id']}/instant/20161003T000000Z--20161003T235900Z/s2/walk.csv"]


def test_a_request_ending_in_year_1_is_one_line_exit_2_and_writes_nothing(app_database, tmp_path, capsys):
    from pipelines.study_exports.tables import study_export_log, study_export_times
    from pipelines_tests.support.snapshots import table_rows

    path = tmp_path / "request.json"
    path.write_text(json.dumps({"exportType": "DAILY", "endDateTime": "0001-01-01T00:00:00Z"}))
    before = table_rows(app_database, [study_export_times, study_export_log])

    assert main(["exports", "run", str(path)]) == 2

    assert capsys.readouterr().err == (
        f"error: request file {str(path)!r}: endDateTime: 0001-01-01T00:00:00Z is too early: "
        "a DAILY window before it would start before year 1\n"
    )
    assert table_rows(app_database, [study_export_times, study_export_log]) == before
