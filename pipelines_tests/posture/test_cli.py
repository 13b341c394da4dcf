import json
import os
import subprocess
import sys

import pytest

from pipelines.cli import main
from pipelines.posture.sample_catalog import CatalogShape, write_catalog

from .conftest import lite_object, write_document


@pytest.fixture
def cli_database(database, monkeypatch):
    monkeypatch.setenv("PIPELINES_DATABASE_URL", database.url.render_as_string(hide_password=False))
    return database


def test_export_prints_the_seed_document_for_the_requested_services(cli_database, catalog, tmp_path, capsys):
    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", passing=190, failing=10)
    catalog.cirs("other-service", "security-control-002", "STAGING", "DB", passing=1)
    request = tmp_path / "request.json"
    request.write_text('{"serviceNames": ["my-service"]}')

    assert main(["posture", "export", str(request)]) == 0

    assert json.loads(capsys.readouterr().out) == {"liteDynamicStateObjects": [lite_object()]}


def test_import_prints_the_seed_response_and_the_body_config_applies(cli_database, catalog, tmp_path, capsys):
    catalog.service_instance("my-service", "PRODUCTION")
    first = write_document(tmp_path / "first.json", [lite_object(), lite_object(component="DB")], config="REPLACE_ALL")
    assert main(["posture", "import", str(first)]) == 0
    capsys.readouterr()
    second = write_document(tmp_path / "second.json", [lite_object(), lite_object(status="PASSING", component="SERVICE")],
                            config="INSERT")

    assert main(["posture", "import", str(second), "--batch-size", "1"]) == 0

    assert json.loads(capsys.readouterr().out) == {
        "componentInstancesInserted": 1,
        "componentInstanceResponsibilitiesInserted": 1,
        "componentInstanceResponsibilityFulfillmentsInserted": 1,
        "totalRecordsProcessed": 2,
        "componentInstancesDeleted": 0,
        "componentInstanceResponsibilitiesDeleted": 0,
        "componentInstanceResponsibilityFulfillmentsDeleted": 0,
        "recordsSkipped": 1,
    }


def test_bad_import_request_is_one_line_and_exit_2(cli_database, catalog, tmp_path, capsys):
    request = write_document(tmp_path / "bad.json", [lite_object(service="nope")], config="UPSERT")
    assert main(["posture", "import", str(request)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: request {request}: config: 'UPSERT': input should be 'INSERT' or 'REPLACE_ALL'"
    )

    request = write_document(tmp_path / "bad.json", [lite_object(service="nope")])
    assert main(["posture", "import", str(request)]) == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]  # after the run's own log lines
    assert last_line.startswith("error: import of file ")
    assert last_line.endswith("nothing was written: object 0: serviceName 'nope' is not a known service")


def test_export_then_import_through_stdin(sqlite_url, tmp_path):
    from pipelines.core.database import Database

    database = Database(sqlite_url)
    database.upgrade()
    write_catalog(database, CatalogShape(services=2, responsibilities_per_component=2))
    env = {**os.environ, "PIPELINES_DATABASE_URL": sqlite_url}
    command = [sys.executable, "-m", "pipelines.cli", "posture"]

    exported = subprocess.run([*command, "export", "-"], input='{"serviceNames": null}', capture_output=True,
                              text=True, env=env, timeout=120)
    assert exported.returncode == 0, exported.stderr
    objects = json.loads(exported.stdout)["liteDynamicStateObjects"]

    imported = subprocess.run([*command, "import", "-", "--config", "INSERT"], input=exported.stdout,
                              capture_output=True, text=True, env=env, timeout=120)
    assert imported.returncode == 0, imported.stderr
    response = json.loads(imported.stdout)
    assert response["componentInstancesInserted"] == response["totalRecordsProcessed"] == len(objects) > 0
