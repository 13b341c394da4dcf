"""The posture assets: refresh the aggregate view, export the lite dynamic state, import it."""

import dagster as dg
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.posture.aggregate import refresh_aggregate
from pipelines.posture.documents import DocumentSource, count_objects
from pipelines.posture.errors import PostureError
from pipelines.posture.lite_export import count_view_rows, export_lite_dynamic_state
from pipelines.posture.lite_import import import_lite_dynamic_state, script_failing_by_service
from pipelines.posture.requests import ExportRequest, ImportRequest

GROUP = "posture"
POOL = "posture"
EXPORT_CHECK = "export_holds_one_object_per_view_row"
IMPORT_CHECK = "script_failing_fulfillments_match_imported_objects"


@dg.asset(group_name=GROUP, kinds={"postgres", "sql"}, pool=POOL)
def responsive_responsibility_aggregate(database: DatabaseResource) -> dg.MaterializeResult:
    """Refreshes `responsive_responsibility_aggregate`: per service, responsibility, boundary and
    component the CIRs, passing, failing and the status (FAILING when any fulfillment fails).
    PostgreSQL: REFRESH MATERIALIZED VIEW (CONCURRENTLY once it holds rows); SQLite: a rebuild."""
    result = refresh_aggregate(database.get_database())
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(result.rows),
            "failing_rows": dg.MetadataValue.int(result.failing_rows),
            "duration_seconds": dg.MetadataValue.float(result.seconds),
            "refresh": dg.MetadataValue.text(result.mode),
        }
    )


@dg.asset(
    group_name=GROUP,
    kinds={"postgres", "s3", "json"},
    deps=[responsive_responsibility_aggregate],
    check_specs=[dg.AssetCheckSpec(EXPORT_CHECK, asset="lite_dynamic_state_export")],
)
def lite_dynamic_state_export(
    context: dg.AssetExecutionContext,
    config: ExportRequest,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Writes the aggregate view as `{"liteDynamicStateObjects": [...]}` (responsibilitySlug,
    serviceName, status, boundarySlug, componentSlug) to `posture/exports/<timestamp>.json`."""
    db, store = database.get_database(), object_store.get_store()
    result = export_lite_dynamic_state(db, store, config)
    stored = count_objects(DocumentSource(key=result.key), store)
    with db.begin() as conn:
        view_rows = count_view_rows(conn, config.service_names)
    context.log.info(f"Exported {result.objects} lite dynamic objects to {result.key}")
    return dg.MaterializeResult(
        metadata={
            "key": dg.MetadataValue.text(result.key),
            "objects": dg.MetadataValue.int(result.objects),
            "failing_objects": dg.MetadataValue.int(result.failing),
            "service_names": dg.MetadataValue.json(config.service_names),
            "duration_seconds": dg.MetadataValue.float(result.seconds),
            "preview": dg.MetadataValue.md(_markdown_table(result.preview)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=EXPORT_CHECK,
                passed=stored == view_rows,
                metadata={"objects_in_export": dg.MetadataValue.int(stored), "view_rows": dg.MetadataValue.int(view_rows)},
            )
        ],
    )


@dg.asset(
    group_name=GROUP,
    kinds={"postgres", "s3"},
    deps=[lite_dynamic_state_export],
    pool=POOL,
    check_specs=[dg.AssetCheckSpec(IMPORT_CHECK, asset="lite_dynamic_state_import")],
)
def lite_dynamic_state_import(
    context: dg.AssetExecutionContext,
    config: ImportRequest,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Imports an export document as the minimal CI / CIR / CIRF per object (created_by
    `lite-import-script`): INSERT skips what already exists, REPLACE_ALL replaces the previous
    script-created set, in one transaction."""
    db, store = database.get_database(), object_store.get_store()
    source = _import_source(context, config)
    result = import_lite_dynamic_state(db, store, source, config, logger=context.log)
    with db.begin() as conn:
        actual = dict(script_failing_by_service(conn))
    expected = result.expected_failing_by_service
    mismatched = {s: {"expected": expected.get(s, 0), "found": actual.get(s, 0)}
                  for s in sorted(set(expected) | set(actual)) if expected.get(s, 0) != actual.get(s, 0)}
    counts = {name: dg.MetadataValue.int(value) for name, value in result.response().items()}
    return dg.MaterializeResult(
        metadata={
            **counts,
            "config": dg.MetadataValue.text(result.config),
            "source": dg.MetadataValue.text(source.describe()),
            "parent_instances_inserted": dg.MetadataValue.int(result.parent_instances_inserted),
            "failing_objects_imported": dg.MetadataValue.int(result.failing_imported),
            "delete_seconds": dg.MetadataValue.float(result.delete_seconds),
            "insert_seconds": dg.MetadataValue.float(result.insert_seconds),
            "duration_seconds": dg.MetadataValue.float(result.seconds),
            "response": dg.MetadataValue.json(result.response()),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=IMPORT_CHECK,
                passed=not mismatched,
                metadata={
                    "services": dg.MetadataValue.int(len(expected)),
                    "mismatched_services": dg.MetadataValue.json(mismatched),
                },
            )
        ],
    )


def _import_source(context: dg.AssetExecutionContext, request: ImportRequest) -> DocumentSource:
    if request.uploaded_file:
        return DocumentSource(path=request.uploaded_file)
    if request.export_key:
        return DocumentSource(key=request.export_key)
    event = context.instance.get_latest_materialization_event(dg.AssetKey("lite_dynamic_state_export"))
    key = event.asset_materialization.metadata.get("key") if event and event.asset_materialization else None
    if key is None:
        raise PostureError(
            "no lite_dynamic_state_export to import: materialize it first, or set exportKey or uploadedFile"
        )
    return DocumentSource(key=str(key.value))


def _markdown_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "(no objects)"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row[c] for c in header) + " |" for row in rows]
    return "\n".join(lines)
