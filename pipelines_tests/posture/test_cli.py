import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from pipelines.cli import main
from pipelines.posture.sample_catalog import CatalogShape, write_catalog
from pipelines.posture.tables import (
    component_instance_responsibilities,
    component_instance_responsibility_fulfillments,
    component_instances,
    components,
    responsibilities,
)

from .conftest import lite_object, table_counts, write_document


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


def test_a_request_file_elsewhere_is_copied_into_the_upload_folder_and_removed(
    cli_database, catalog, tmp_path, capsys, monkeypatch, clean_environment
):
    monkeypatch.delenv("PIPELINES_UPLOAD_DIRS")
    (tmp_path / "elsewhere").mkdir()
    request = write_document(tmp_path / "elsewhere" / "request.json", [lite_object()], config="INSERT")

    assert main(["posture", "import", str(request)]) == 0

    assert json.loads(capsys.readouterr().out)["componentInstanceResponsibilityFulfillmentsInserted"] == 1
    assert list((clean_environment / "uploads").iterdir()) == []


def test_a_dry_run_writes_nothing_and_prints_the_counts_the_import_then_reports(cli_database, catalog, tmp_path, capsys):
    catalog.service_instance("my-service", "PRODUCTION")
    first = write_document(tmp_path / "first.json", [lite_object(), lite_object(component="DB")])
    assert main(["posture", "import", str(first)]) == 0
    capsys.readouterr()
    before = table_counts(cli_database)
    second = write_document(tmp_path / "second.json", [
        lite_object(status="PASSING"), lite_object(service="other-service"), lite_object(service="other-service", component="SERVICE"),
    ])

    assert main(["posture", "import", str(second), "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert table_counts(cli_database) == before
    assert main(["posture", "import", str(second)]) == 0
    real = json.loads(capsys.readouterr().out)

    assert dry == real == {
        "componentInstancesInserted": 3,
        "componentInstanceResponsibilitiesInserted": 3,
        "componentInstanceResponsibilityFulfillmentsInserted": 3,
        "totalRecordsProcessed": 3,
        "componentInstancesDeleted": 2,
        "componentInstanceResponsibilitiesDeleted": 2,
        "componentInstanceResponsibilityFulfillmentsDeleted": 2,
        "recordsSkipped": 0,
    }
    assert table_counts(cli_database) != before


def script_set(database):
    """The script-created CIs: (name, component, parent name, responsibility, status), sorted."""
    ci, parent = component_instances, component_instances.alias("parent")
    query = (
        sa.select(ci.c.name, components.c.slug, parent.c.name, responsibilities.c.slug, component_instance_responsibility_fulfillments.c.status)
        .join(components, components.c.id == ci.c.component_id)
        .outerjoin(parent, parent.c.id == ci.c.parent_id)
        .outerjoin(component_instance_responsibilities, component_instance_responsibilities.c.component_instance_id == ci.c.id)
        .outerjoin(responsibilities, responsibilities.c.id == component_instance_responsibilities.c.responsibility_id)
        .outerjoin(component_instance_responsibility_fulfillments,
                   component_instance_responsibility_fulfillments.c.component_instance_responsibility_id
                   == component_instance_responsibilities.c.id)
        .where(ci.c.created_by == "lite-import-script")
    )
    with database.begin() as conn:
        return sorted(tuple(row) for row in conn.execute(query))


def test_rollback_restores_the_set_a_replace_all_replaced_exactly(cli_database, catalog, tmp_path, capsys):
    catalog.service_instance("my-service", "PRODUCTION")
    first = write_document(tmp_path / "first.json", [
        lite_object(),  # parent: the orchestrator's SERVICE CI
        lite_object(service="other-service", component="DB", status="PASSING"),  # parent: the SERVICE object below
        lite_object(service="other-service", component="SERVICE", responsibility="security-control-002"),
        lite_object(service="other-service", boundary="STAGING"),  # parent: a SERVICE CI made for it
    ])
    assert main(["posture", "import", str(first)]) == 0
    previous = script_set(cli_database)
    assert [(c, p is not None) for _, c, p, _, _ in previous].count(("SERVICE", False)) == 2
    assert any(p == "SERVICE-my-service-production" for _, _, p, _, _ in previous)
    second = write_document(tmp_path / "second.json", [lite_object(status="PASSING", component="DB")])
    assert main(["posture", "import", str(second)]) == 0
    capsys.readouterr()
    assert script_set(cli_database) != previous

    assert main(["posture", "rollback"]) == 0

    assert script_set(cli_database) == previous
    assert json.loads(capsys.readouterr().out) == {
        "componentInstancesInserted": 5,
        "componentInstanceResponsibilitiesInserted": 4,
        "componentInstanceResponsibilityFulfillmentsInserted": 4,
        "totalRecordsProcessed": 4,
        "componentInstancesDeleted": 1,
        "componentInstanceResponsibilitiesDeleted": 1,
        "componentInstanceResponsibilityFulfillmentsDeleted": 1,
        "recordsSkipped": 0,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff{}", "not UTF-8 text (invalid start byte at byte 0)"),
        (b"[" * 100_000, "not JSON (nested too deep)"),
        (b'{"serviceNames": [', "not JSON (Expecting value: line 1 column 19 (char 18))"),
    ],
    ids=["not-utf-8", "nested-100000-deep", "cut-short"],
)
def test_an_export_request_body_that_is_not_json_is_one_line_and_exit_2(cli_database, catalog, tmp_path, capsys, body, message):
    request = tmp_path / "request.json"
    request.write_bytes(body)
    assert main(["posture", "export", str(request)]) == 2
    assert capsys.readouterr().err.strip() == f"error: request {request}: {message}"
