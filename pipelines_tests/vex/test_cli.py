"""`pipelines vex ingest` and `pipelines vex backfill-statements` on both backends, as a user runs them."""

from __future__ import annotations

import pytest

from pipelines.cli import main


@pytest.fixture
def configured(database, monkeypatch):
    monkeypatch.setenv("PIPELINES_DATABASE_URL", database.url.render_as_string(hide_password=False))
    return database


def last_line(capsys) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_ingest_then_backfill_prints_the_runbook_summary(configured, corpus, capsys):
    assert main(["vex", "ingest", str(corpus)]) == 0
    assert last_line(capsys) == "Landed 17 VEX documents, 0 duplicates, 0 unrecognized."

    # 46 CSAF + 9 CycloneDX + 6 OpenVEX statements; cyclonedx/use-case-7 names no product.
    assert main(["vex", "backfill-statements", "--batch-size", "5"]) == 0
    assert last_line(capsys) == "Backfill completed: evaluated 17, backfilled 17, claims written 61, skipped 0, failures 0."

    assert main(["vex", "backfill-statements"]) == 0
    assert last_line(capsys) == "Backfill completed: evaluated 17, backfilled 1, claims written 0, skipped 16, failures 0."

    assert main(["vex", "backfill-statements", "--force", "--max-documents", "100"]) == 0
    assert last_line(capsys) == "Backfill completed: evaluated 17, backfilled 17, claims written 61, skipped 0, failures 0."

    assert main(["vex", "backfill-statements", "--retrieved-since", "2999-01-01T00:00:00Z"]) == 0
    assert last_line(capsys) == "Backfill completed: evaluated 0, backfilled 0, claims written 0, skipped 0, failures 0."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "error: batchSize: 0: input should be greater than or equal to 1"),
        (["--batch-size", "10001"], "error: batchSize: 10001: input should be less than or equal to 10000"),
        (["--max-documents", "-1"], "error: maxDocuments: -1: input should be greater than or equal to 0"),
        (["--retrieved-since", "last week"], "error: retrievedSince: 'last week': is not an ISO 8601 timestamp"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(configured, capsys, args, message):
    assert main(["vex", "backfill-statements", *args]) == 2
    assert capsys.readouterr().err.strip().startswith(message)


def test_ingest_of_a_missing_path_is_one_line(configured, capsys, tmp_path):
    assert main(["vex", "ingest", str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err.strip() == f"error: paths: '{tmp_path / 'missing.json'}' is neither a file nor a folder"
