import json

import dagster as dg
import pytest
import sqlalchemy as sa

from pipelines.core.resources import DatabaseResource
from pipelines.posture import tables
from pipelines.posture.definitions import defs
from pipelines.posture.errors import PostureError
from pipelines.posture.requests import ExportRequest, ImportConfig, ImportRequest
from pipelines.posture.sample_catalog import CatalogShape, write_catalog

from .conftest import lite_object, table_counts, write_document

ASSETS = [*defs.assets]


def materialize(resources, instance, selection=None, import_request=None):
    run_config = dg.RunConfig(ops={"lite_dynamic_state_import": import_request}) if import_request else None
    return dg.materialize(ASSETS, selection=selection, resources=resources, instance=instance, run_config=run_config)


def metadata_of(result, asset):
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset]
    return {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}


def test_refresh_export_import_run_end_to_end_with_passing_checks(database, resources):
    write_catalog(database, CatalogShape(services=3, responsibilities_per_component=4, failing_share=0.2))
    instance = dg.DagsterInstance.ephemeral()

    result = materialize(resources, instance)

    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"export_holds_one_object_per_view_row": True, "script_failing_fulfillments_match_imported_objects": True}
    view = metadata_of(result, "responsive_responsibility_aggregate")
    export = metadata_of(result, "lite_dynamic_state_export")
    imported = metadata_of(result, "lite_dynamic_state_import")
    assert view["rows"] == export["objects"] == imported["total_records_processed"] == imported["component_instances_inserted"]
    assert view["failing_rows"] == export["failing_objects"] == imported["failing_objects_imported"] > 0
    assert imported["source"] == f"object {export['key']}"
    assert imported["backup_key"].startswith("posture/backups/") and imported["backup_key"].endswith(".json")
    assert "| responsibilitySlug | serviceName | status | boundarySlug | componentSlug |" in export["preview"]

    again = materialize(resources, instance, selection=["lite_dynamic_state_import"], import_request=ImportRequest(config=ImportConfig.INSERT))
    assert metadata_of(again, "lite_dynamic_state_import")["records_skipped"] == view["rows"]


def test_import_reads_an_uploaded_file_from_another_environment(database, resources, catalog, tmp_path):
    document = write_document(tmp_path / "upload.json", [lite_object(), lite_object(component="SERVICE")])

    result = materialize(
        resources, dg.DagsterInstance.ephemeral(), selection=["lite_dynamic_state_import"],
        import_request=ImportRequest(uploaded_file=str(document), batch_size=1),
    )

    imported = metadata_of(result, "lite_dynamic_state_import")
    assert (imported["component_instances_inserted"], imported["parent_instances_inserted"]) == (2, 0)
    assert imported["source"] == f"file {document}"


def test_import_without_an_export_says_what_to_do(database, resources, catalog):
    with pytest.raises(PostureError, match="no lite_dynamic_state_export to import: materialize it first"):
        materialize(resources, dg.DagsterInstance.ephemeral(), selection=["lite_dynamic_state_import"], import_request=ImportRequest())


def test_export_filter_and_import_by_key_on_s3(sqlite_url, s3_resource, tmp_path):
    resources = {"database": DatabaseResource(url=sqlite_url), "object_store": s3_resource}
    database = resources["database"].get_database()
    database.upgrade()
    write_catalog(database, CatalogShape(services=2, responsibilities_per_component=2))
    instance = dg.DagsterInstance.ephemeral()
    run_config = dg.RunConfig(ops={"lite_dynamic_state_export": ExportRequest(service_names=["checkout-api"])})

    exported = dg.materialize(ASSETS, selection=["responsive_responsibility_aggregate", "lite_dynamic_state_export"],
                              resources=resources, instance=instance, run_config=run_config)

    export = metadata_of(exported, "lite_dynamic_state_export")
    document = json.loads(s3_resource.get_store().get_bytes(export["key"]))
    assert {o["serviceName"] for o in document["liteDynamicStateObjects"]} == {"checkout-api"}
    assert export["objects"] == len(document["liteDynamicStateObjects"]) > 0
    assert exported.get_asset_check_evaluations()[0].passed

    imported = materialize(resources, instance, selection=["lite_dynamic_state_import"],
                           import_request=ImportRequest(export_key=export["key"]))
    assert metadata_of(imported, "lite_dynamic_state_import")["component_instances_inserted"] == export["objects"]


def test_an_uploaded_file_outside_the_upload_folder_is_refused_and_nothing_is_written(
    database, resources, catalog, monkeypatch, clean_environment
):
    monkeypatch.delenv("PIPELINES_UPLOAD_DIRS")
    with pytest.raises(PostureError) as raised:
        materialize(resources, dg.DagsterInstance.ephemeral(), selection=["lite_dynamic_state_import"],
                    import_request=ImportRequest(uploaded_file="/etc/passwd"))

    assert str(raised.value) == (
        f"uploadedFile '/etc/passwd' is not inside an upload folder ({clean_environment / 'uploads'}): "
        "put the file there, or list its folder in PIPELINES_UPLOAD_DIRS"
    )
    assert table_counts(database) == {}


def test_an_export_of_a_view_older_than_the_catalog_says_it_is_stale(database, resources):
    import time

    write_catalog(database, CatalogShape(services=2, responsibilities_per_component=2, failing_share=0.2, seed=1))
    instance = dg.DagsterInstance.ephemeral()
    fresh = materialize(resources, instance, selection=["responsive_responsibility_aggregate", "lite_dynamic_state_export"])
    assert metadata_of(fresh, "lite_dynamic_state_export")["view_stale"] is False

    time.sleep(1.1)  # SQLite's CURRENT_TIMESTAMP has whole seconds
    with database.begin() as conn:  # a new fulfillment in the catalog, after the refresh
        cir = conn.scalar(sa.select(tables.component_instance_responsibilities.c.id).limit(1))
        conn.execute(
            tables.component_instance_responsibility_fulfillments.insert().values(
                component_instance_responsibility_id=cir, status="FAILING", created_by="orchestrator"
            )
        )
    stale = materialize(resources, instance, selection=["lite_dynamic_state_export"])
    export = metadata_of(stale, "lite_dynamic_state_export")
    assert export["view_stale"] is True
    assert export["catalog_changed_at"] > export["view_refreshed_at"]
