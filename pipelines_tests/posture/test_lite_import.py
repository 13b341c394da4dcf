import re

import pytest
import sqlalchemy as sa

from pipelines.posture.aggregate import refresh_aggregate
from pipelines.posture.documents import DocumentSource
from pipelines.posture.errors import PostureError
from pipelines.posture.lite_export import export_lite_dynamic_state
from pipelines.posture.lite_import import import_lite_dynamic_state
from pipelines.posture.requests import ExportRequest, ImportRequest
from pipelines.posture.tables import (
    component_instance_responsibilities as cirs,
    component_instance_responsibility_fulfillments as cirfs,
    component_instances as cis,
    components,
    responsibilities,
)

from .conftest import lite_object, table_counts, write_document

SCRIPT = "lite-import-script"


def run_import(database, store, path, config="REPLACE_ALL", batch_size=500):
    return import_lite_dynamic_state(
        database, store, DocumentSource(path=str(path)), ImportRequest(config=config, batch_size=batch_size)
    )


def script_instances(database):
    """Script-created CIs: (name, component slug, boundary id, parent name, [(responsibility, status)])."""
    parent = cis.alias("parent")
    with database.begin() as conn:
        rows = conn.execute(
            sa.select(cis.c.id, cis.c.name, components.c.slug, parent.c.name)
            .join(components, components.c.id == cis.c.component_id)
            .outerjoin(parent, parent.c.id == cis.c.parent_id)
            .where(cis.c.created_by == SCRIPT)
            .order_by(cis.c.id)
        ).all()
        fulfilled = {}
        for ci_id, slug, status, created_by in conn.execute(
            sa.select(cirs.c.component_instance_id, responsibilities.c.slug, cirfs.c.status, cirfs.c.created_by)
            .join(responsibilities, responsibilities.c.id == cirs.c.responsibility_id)
            .join(cirfs, cirfs.c.component_instance_responsibility_id == cirs.c.id)
            .where(cirs.c.created_by == SCRIPT)
        ):
            assert created_by == SCRIPT
            fulfilled.setdefault(ci_id, []).append((slug, status))
    return [(name, component, parent_name, fulfilled.get(ci_id, [])) for ci_id, name, component, parent_name in rows]


def test_seed_example_exports_and_imports_as_one_failing_ci_cir_cirf(database, catalog, local_store):
    parent = catalog.service_instance("my-service", "PRODUCTION")
    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", passing=190, failing=10, parent_id=parent)
    refresh_aggregate(database)
    export = export_lite_dynamic_state(database, local_store, ExportRequest())

    result = import_lite_dynamic_state(database, local_store, DocumentSource(key=export.key), ImportRequest())

    assert result.response() == {
        "componentInstancesInserted": 1,
        "componentInstanceResponsibilitiesInserted": 1,
        "componentInstanceResponsibilityFulfillmentsInserted": 1,
        "totalRecordsProcessed": 1,
        "componentInstancesDeleted": 0,
        "componentInstanceResponsibilitiesDeleted": 0,
        "componentInstanceResponsibilityFulfillmentsDeleted": 0,
        "recordsSkipped": 0,
    }
    [(name, component, parent_name, fulfilled)] = script_instances(database)
    assert re.fullmatch(r"APP-my-service-[0-9a-f]{8}", name)
    assert (component, parent_name, fulfilled) == ("APP", "SERVICE-my-service-production", [("security-control-001", "FAILING")])
    assert result.expected_failing_by_service == {"my-service": 1}
    # The import does not feed back into the view.
    assert refresh_aggregate(database).rows == 1


def test_a_missing_parent_is_the_documents_later_service_object(database, catalog, local_store, tmp_path):
    document = write_document(tmp_path / "d.json", [
        lite_object(component="APP"),
        lite_object(component="DB", status="PASSING"),
        lite_object(component="SERVICE", responsibility="security-control-002"),
    ])

    result = run_import(database, local_store, document, batch_size=1)

    assert (result.componentInstancesInserted, result.parent_instances_inserted, result.recordsSkipped) == (3, 0, 0)
    [service, app, db] = script_instances(database)
    assert service[1:] == ("SERVICE", None, [("security-control-002", "FAILING")])
    assert app[1:] == ("APP", service[0], [("security-control-001", "FAILING")])
    assert db[1:] == ("DB", service[0], [("security-control-001", "PASSING")])
    assert result.expected_failing_by_service == {"my-service": 2}


def test_without_any_service_ci_one_parent_is_created_per_service_and_boundary(database, catalog, local_store, tmp_path):
    document = write_document(tmp_path / "d.json", [
        lite_object(component="APP"),
        lite_object(component="DB"),
        lite_object(component="APP", boundary="STAGING"),
    ])

    result = run_import(database, local_store, document)

    assert (result.componentInstancesInserted, result.parent_instances_inserted) == (5, 2)
    assert result.componentInstanceResponsibilitiesInserted == 3
    instances = script_instances(database)
    parents = [i for i in instances if i[1] == "SERVICE"]
    assert [(p[2], p[3]) for p in parents] == [(None, []), (None, [])]
    production, staging = parents[0][0], parents[1][0]
    assert [(i[1], i[2]) for i in instances if i[1] != "SERVICE"] == [
        ("APP", production), ("DB", production), ("APP", staging)
    ]


def test_an_existing_service_ci_is_reused_as_parent(database, catalog, local_store, tmp_path):
    catalog.service_instance("my-service", "PRODUCTION")
    document = write_document(tmp_path / "d.json", [lite_object(component="APP"), lite_object(component="DB")])

    result = run_import(database, local_store, document)

    assert (result.componentInstancesInserted, result.parent_instances_inserted) == (2, 0)
    assert [i[2] for i in script_instances(database)] == ["SERVICE-my-service-production"] * 2


def test_insert_skips_what_the_script_already_created_and_duplicates(database, catalog, local_store, tmp_path):
    catalog.service_instance("my-service", "PRODUCTION")
    run_import(database, local_store, write_document(tmp_path / "a.json", [lite_object(), lite_object(component="DB")]))
    again = write_document(tmp_path / "b.json", [
        lite_object(),
        lite_object(responsibility="security-control-002", status="PASSING"),
        lite_object(component="DB"),
        lite_object(responsibility="security-control-002", status="PASSING"),
    ])

    result = run_import(database, local_store, again, config="INSERT", batch_size=2)

    assert result.response() == {
        "componentInstancesInserted": 1,
        "componentInstanceResponsibilitiesInserted": 1,
        "componentInstanceResponsibilityFulfillmentsInserted": 1,
        "totalRecordsProcessed": 4,
        "componentInstancesDeleted": 0,
        "componentInstanceResponsibilitiesDeleted": 0,
        "componentInstanceResponsibilityFulfillmentsDeleted": 0,
        "recordsSkipped": 3,
    }
    assert table_counts(database) == {
        "component_instances:orchestrator": 1,
        "component_instances:lite-import-script": 3,
        "component_instance_responsibilities:lite-import-script": 3,
        "component_instance_responsibility_fulfillments:lite-import-script": 3,
    }
    assert result.expected_failing_by_service == {"my-service": 2}


def test_replace_all_deletes_the_previous_script_set_and_keeps_everything_else(database, catalog, local_store, tmp_path):
    catalog.cirs("other-service", "security-control-003", "STAGING", "DB", passing=2, failing=1)
    first = write_document(tmp_path / "a.json", [lite_object(), lite_object(component="DB"), lite_object(boundary="STAGING")])
    run_import(database, local_store, first)  # 3 objects and 2 parents
    second = write_document(tmp_path / "b.json", [lite_object(component="SERVICE", status="PASSING"), lite_object()])

    result = run_import(database, local_store, second)

    assert result.response() == {
        "componentInstancesInserted": 2,
        "componentInstanceResponsibilitiesInserted": 2,
        "componentInstanceResponsibilityFulfillmentsInserted": 2,
        "totalRecordsProcessed": 2,
        "componentInstancesDeleted": 5,
        "componentInstanceResponsibilitiesDeleted": 3,
        "componentInstanceResponsibilityFulfillmentsDeleted": 3,
        "recordsSkipped": 0,
    }
    assert table_counts(database) == {
        "component_instances:orchestrator": 3,
        "component_instance_responsibilities:orchestrator": 3,
        "component_instance_responsibility_fulfillments:orchestrator": 3,
        "component_instances:lite-import-script": 2,
        "component_instance_responsibilities:lite-import-script": 2,
        "component_instance_responsibility_fulfillments:lite-import-script": 2,
    }


def test_bad_objects_fail_the_import_naming_index_field_and_value_and_write_nothing(
    database, catalog, local_store, tmp_path
):
    run_import(database, local_store, write_document(tmp_path / "a.json", [lite_object()]))
    before = table_counts(database)
    missing = lite_object()
    del missing["componentSlug"]
    document = write_document(tmp_path / "bad.json", [
        lite_object(),
        lite_object(service="nope"),
        lite_object(responsibility="security-control-999", boundary="QA"),
        lite_object(status="UNKNOWN", component="LAMBDA"),
        missing,
        ["not", "an", "object"],
    ])

    with pytest.raises(PostureError) as raised:
        run_import(database, local_store, document)

    assert str(raised.value) == (
        f"import of file {document}: 7 invalid field(s), nothing was written: "
        "object 1: serviceName 'nope' is not a known service; "
        "object 2: responsibilitySlug 'security-control-999' is not a known responsibility; "
        "object 2: boundarySlug 'QA' is not a known boundary; "
        "object 3: status 'UNKNOWN' is not PASSING or FAILING; "
        "object 3: componentSlug 'LAMBDA' is not a known component; "
        "object 4: componentSlug None is missing; "
        "object 5: object ['not', 'an', 'object'] is not a JSON object"
    )
    assert table_counts(database) == before


def test_only_the_first_20_errors_are_shown_with_the_count(database, catalog, local_store, tmp_path):
    document = write_document(tmp_path / "bad.json", [lite_object(service=f"s{i}") for i in range(30)])
    with pytest.raises(PostureError, match=r"30 invalid field\(s\) \(first 20 shown\).*object 19: .*'s19'") as raised:
        run_import(database, local_store, document)
    assert "object 20:" not in str(raised.value)
    assert table_counts(database) == {}


def test_a_malformed_document_writes_nothing(database, catalog, local_store, tmp_path):
    run_import(database, local_store, write_document(tmp_path / "a.json", [lite_object()]))
    before = table_counts(database)
    broken = tmp_path / "broken.json"
    broken.write_text('{"liteDynamicStateObjects": [' + ", ".join(['{"a": 1}'] * 50) + ", {", encoding="utf-8")

    with pytest.raises(PostureError, match=r"malformed file .*broken.json at character"):
        run_import(database, local_store, broken)
    assert table_counts(database) == before


def test_ids_come_from_the_tables_own_sequence_so_later_inserts_do_not_collide(database, catalog, local_store, tmp_path):
    document = write_document(tmp_path / "a.json", [lite_object(responsibility=f"security-control-00{i}") for i in (1, 2, 3)])
    run_import(database, local_store, document, batch_size=2)

    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", passing=2)  # default ids

    with database.begin() as conn:
        ids = list(conn.scalars(sa.select(cis.c.id)))
        names = list(conn.scalars(sa.select(cis.c.name).where(cis.c.created_by == SCRIPT)))
    assert len(ids) == len(set(ids)) == 6  # 3 objects, 1 parent, 2 orchestrator CIs
    assert len(set(names)) == 4
