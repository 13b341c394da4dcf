"""The posture assets: refresh the aggregate view, export the lite dynamic state, import it."""

import dagster as dg
from pydantic import Field

from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.posture.aggregate import refresh_aggregate
from pipelines.posture.documents import DocumentSource, count_objects
from pipelines.posture.errors import PostureError
from pipelines.posture.lite_export import ExportRequest, count_view_rows, export_lite_dynamic_state
from pipelines.posture.lite_import import ImportOptions, import_lite_dynamic_state, script_failing_by_service

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


class LiteDynamicStateExportConfig(dg.Config):
    serviceNames: list[str] | None = Field(  # noqa: N815 - the seed's request field
        default=None, description="Services to export (filtered in SQL); unset: every service."
    )


@dg.asset(
    group_name=GROUP,
    kinds={"postgres", "s3", "json"},
    deps=[responsive_responsibility_aggregate],
    check_specs=[dg.AssetCheckSpec(EXPORT_CHECK, asset="lite_dynamic_state_export")],
)
def lite_dynamic_state_export(
    context: dg.AssetExecutionContext,
    config: LiteDynamicStateExportConfig,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Writes the aggregate view as `{"liteDynamicStateObjects": [...]}` (responsibilitySlug,
    serviceName, status, boundarySlug, componentSlug) to `posture/exports/<timestamp>.json`."""
    db, store = database.get_database(), object_store.get_store()
    request = ExportRequest.parse({"serviceNames": config.serviceNames})
    result = export_lite_dynamic_state(db, store, request)
    stored = count_objects(DocumentSource(key=result.key), store)
    with db.begin() as conn:
        view_rows = count_view_rows(conn, request.serviceNames)
    context.log.info(f"Exported {result.objects} lite dynamic objects to {result.key}")
    return dg.MaterializeResult(
        metadata={
            "key": dg.MetadataValue.text(result.key),
            "objects": dg.MetadataValue.int(result.objects),
            "failing_objects": dg.MetadataValue.int(result.failing),
            "service_names": dg.MetadataValue.json(list(request.serviceNames) if request.serviceNames else None),
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


class LiteDynamicStateImportConfig(dg.Config):
    config: str = Field(default="REPLACE_ALL", description="INSERT (skip what exists) or REPLACE_ALL.")
    batchSize: int = Field(default=500, description="Objects per round of lookups and writes.")  # noqa: N815
    exportKey: str | None = Field(  # noqa: N815
        default=None, description="Object-store key of an export document; unset: the latest export."
    )
    uploadedFile: str | None = Field(  # noqa: N815
        default=None, description="Path of an export document file (e.g. from another environment)."
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
    config: LiteDynamicStateImportConfig,
    database: DatabaseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Imports an export document as the minimal CI / CIR / CIRF per object (created_by
    `lite-import-script`): INSERT skips what already exists, REPLACE_ALL replaces the previous
    script-created set, in one transaction."""
    db, store = database.get_database(), object_store.get_store()
    options = ImportOptions.parse(config.config, config.batchSize)
    source = _import_source(context, config)
    result = import_lite_dynamic_state(db, store, source, options, logger=context.log)
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


def _import_source(context: dg.AssetExecutionContext, config: LiteDynamicStateImportConfig) -> DocumentSource:
    if config.uploadedFile and config.exportKey:
        raise PostureError("set exportKey or uploadedFile, not both")
    if config.uploadedFile:
        return DocumentSource(path=config.uploadedFile)
    if config.exportKey:
        return DocumentSource(key=config.exportKey)
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
