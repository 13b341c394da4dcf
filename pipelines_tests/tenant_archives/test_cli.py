import json

import pytest

from pipelines.cli import main
from pipelines.tenant_archives import jobs
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines_tests.tenant_archives.conftest import tenant_rows


@pytest.fixture
def cli_database(database, monkeypatch):
    monkeypatch.setenv("PIPELINES_DATABASE_URL", database.url.render_as_string(hide_password=False))
    generate_tenants(database, ["acme"], TenantSize(users=2, events=10))
    return database


def test_schedule_prints_the_job_and_refuses_a_second_one(cli_database, capsys):
    assert main(["archives", "schedule", "acme"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["status"], printed["tenant"], printed["manifestKey"]) == ("pending", "acme", None)
    assert main(["archives", "schedule", "acme"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: tenant 'acme' already has a pending backup job {printed['jobId']} (created ")
    assert len(error.strip().splitlines()) == 1


def test_jobs_prints_the_seeds_json_list(cli_database, capsys):
    job = jobs.schedule_backup(cli_database, "acme")
    assert main(["archives", "jobs", "--tenant", "acme"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {
            "jobId": str(job.job_id),
            "status": "pending",
            "createdAt": job.created_at.isoformat(),
            "lastUpdatedAt": job.updated_at.isoformat(),
        }
    ]
    assert main(["archives", "jobs", "--tenant", "globex"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_schedule_now_then_restore_as_a_new_tenant(cli_database, capsys):
    assert main(["archives", "schedule", "acme", "--now"]) == 0
    printed = json.loads(capsys.readouterr().out)
    [job] = jobs.list_jobs(cli_database, "acme")
    assert (printed["jobId"], printed["status"], printed["manifestKey"]) == (str(job.job_id), "completed", job.manifest_key)
    assert main(["archives", "restore", "--manifest", job.manifest_key, "--tenant", "acme-2"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"restored {job.manifest_key} as tenant acme-2: 49 rows")
    assert tenant_rows(cli_database, "acme-2") == tenant_rows(cli_database, "acme")


def test_restore_of_a_missing_manifest_is_one_error_line_and_exit_2(cli_database, capsys):
    assert main(["archives", "schedule", "acme", "--now"]) == 0
    capsys.readouterr()
    assert main(["archives", "restore", "--manifest", "archives/acme/nope/manifest.json", "--tenant", "b"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after the run's own log lines
    assert error.startswith("error: object 'archives/acme/nope/manifest.json' not found in ")
