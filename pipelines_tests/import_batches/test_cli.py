"""`pipelines imports submit | run | status` end to end on the embedded default."""

import json
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.import_batches.cli import submit_batch
from pipelines.import_batches.errors import ImportBatchError

from .conftest import catalog_roots, ci, put_batch


def write_folder(folder: Path) -> Path:
    from pipelines.core.object_store import LocalObjectStore

    a, la = ci("a", "ci-a")
    put_batch(LocalObjectStore(folder), "x", [*catalog_roots(), a], la)
    return folder / "imports" / "inbox" / "x"


def test_submit_then_run_then_status(tmp_path, capsys):
    folder = write_folder(tmp_path / "src")

    assert main(["imports", "submit", str(folder), "--batch-id", "cli-1"]) == 0
    assert capsys.readouterr().out == "cli-1\n"
    assert main(["imports", "run", "cli-1"]) == 0
    capsys.readouterr()
    assert main(["imports", "status", "cli-1"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert (state["status"], state["objects"]["complete"], state["links"]["complete"]) == ("complete", 4, 3)


def test_submit_refuses_a_folder_without_objects_and_a_batch_already_there(tmp_path, local_store, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["imports", "submit", str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'empty'}: no objects.jsonl or objects.csv\n"
    folder = write_folder(tmp_path / "src")
    assert submit_batch(local_store, folder, "b1") == "b1"
    with pytest.raises(ImportBatchError, match=r"^batch b1 is already in the inbox \(imports/inbox/b1/\)$"):
        submit_batch(local_store, folder, "b1")


def test_status_of_an_unknown_batch_is_one_line(capsys):
    assert main(["imports", "status", "nope"]) == 2
    assert capsys.readouterr().err == "error: batch 'nope' is unknown: submit it with `pipelines imports submit DIR`\n"


def test_help_lists_the_subcommands_and_the_batch_id_option(capsys):
    assert main(["imports", "--help"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("submit", "status", "run"))
    assert main(["imports", "submit", "--help"]) == 0
    assert "--batch-id TEXT  The batch id (default: a new one from the time)." in capsys.readouterr().out


@pytest.mark.parametrize("command", ["status", "run"])
def test_status_and_run_with_the_database_down_are_one_line(command, monkeypatch, capsys):
    monkeypatch.setenv("PIPELINES_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/app")

    assert main(["imports", command, "b1"]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "error: PIPELINES_DATABASE_URL: cannot connect to postgresql+psycopg://nobody@127.0.0.1:1/app: "
    )
    assert len(captured.err.splitlines()) == 1


def test_run_keeps_the_files_error_and_records_the_batch_in_error(tmp_path, capsys):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "objects.csv").write_text('pendingObjectId,objectType,name\n"svc,service,payments\n')
    assert main(["imports", "submit", str(folder), "--batch-id", "broken"]) == 0
    capsys.readouterr()

    assert main(["imports", "run", "broken"]) == 2

    captured = capsys.readouterr()
    assert captured.err == (
        "error: batch broken ended in error with 1 errors: objects.csv: line 2: a quoted field is never closed\n"
    )
    assert main(["imports", "status", "broken"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert (state["status"], state["errors"], state["object_count"]) == (
        "error", ["objects.csv: line 2: a quoted field is never closed"], 0
    )
