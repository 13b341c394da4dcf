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
    # use-case-7 normalized to nothing, and is done too: only --force or a newer normalizer redoes it.
    assert last_line(capsys) == "Backfill completed: evaluated 17, backfilled 0, claims written 0, skipped 17, failures 0."

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


def test_statements_and_rollback_through_the_cli(configured, tmp_path, capsys):
    import json

    document = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/cli", "author": "CLI Tests",
                "timestamp": "2024-03-01T00:00:00Z", "statements": [
                    {"vulnerability": {"name": "CVE-2024-4242"}, "products": [{"@id": "pkg:npm/cli@1.0.0?arch=x"}],
                     "status": "not_affected", "justification": "component_not_present"}]}
    path = tmp_path / "cli.json"
    path.write_text(json.dumps(document))
    assert main(["vex", "ingest", str(path), "--provider", "CLI PSIRT"]) == 0
    assert main(["vex", "backfill-statements"]) == 0
    capsys.readouterr()

    assert main(["vex", "statements", "CVE-2024-4242", "--product", "pkg:npm/cli@1.0.0"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(c["product"], c["status"], c["conflict"]) for c in found["consensus"]] == [
        ("pkg:npm/cli@1.0.0?arch=x", "not_affected", False)
    ]
    [statement] = found["statements"]
    assert (statement["provider"], statement["status"], statement["justification"], statement["documentAt"]) == (
        "CLI PSIRT", "not_affected", "component_not_present", "2024-03-01T00:00:00+00:00"
    )
    run_id = statement["runId"]

    assert main(["vex", "rollback", "--run", run_id, "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert (dry["dryRun"], dry["statementsToRemove"], dry["documentsToNormalizeAgain"]) == (True, 1, 1)

    assert main(["vex", "rollback", "--run", run_id]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["dryRun"], done["statementsRemoved"], done["consensusRecomputed"]) == (False, 1, 0)
    assert main(["vex", "statements", "CVE-2024-4242"]) == 0
    assert json.loads(capsys.readouterr().out)["consensus"] == []

    # The raw document stayed: a rerun brings the statement back.
    assert main(["vex", "backfill-statements"]) == 0
    assert last_line(capsys) == "Backfill completed: evaluated 1, backfilled 1, claims written 1, skipped 0, failures 0."


def test_a_rollback_naming_nothing_is_one_line(configured, capsys):
    assert main(["vex", "rollback"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "error: give runId, or both insertedSince and insertedUntil"


def test_two_cli_backfills_at_once_are_serialized(configured, tmp_path):
    """Without DAGSTER_HOME (ephemeral instances), two processes at once: the second waits for the
    first, then finds every document done; no unique-key error, every statement once."""
    import os
    import subprocess
    import sys

    import sqlalchemy as sa

    from pipelines.vex.tables import vex_statements
    from pipelines_tests.vex.conftest import at, openvex_document, store_documents

    store_documents(configured, [(openvex_document(n), at(1, 9, n % 60)) for n in range(120)])
    env = {**os.environ, "PIPELINES_DATABASE_URL": configured.url.render_as_string(hide_password=False)}
    env.pop("DAGSTER_HOME", None)
    command = [sys.executable, "-m", "pipelines.cli", "vex", "backfill-statements", "--batch-size", "7"]
    processes = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [p.communicate(timeout=240) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    lines = sorted(out.strip().splitlines()[-1] for out, _ in outputs)
    assert lines == [
        "Backfill completed: evaluated 120, backfilled 0, claims written 0, skipped 120, failures 0.",
        "Backfill completed: evaluated 120, backfilled 120, claims written 240, skipped 0, failures 0.",
    ]
    with configured.begin() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(vex_statements)) == 240
