"""The posture assets: refresh the aggregate view, export the lite dynamic state, import it."""

import datetime as dt
import re

import dagster as dg
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.posture.aggregate import catalog_changed_at, refresh_aggregate
from pipelines.posture.documents import DocumentSource, count_objects
from pipelines.posture.errors import PostureError
from pipelines.posture.lite_export import count_view_rows, export_lite_dynamic_state
from pipelines.posture.lite_import import import_lite_dynamic_state, script_failing_by_service
from pipelines.posture.requests import ExportRequest, ImportRequest

GROUP = "posture"
AGGREGATE = "responsive_responsibility_aggregate"
POOL = "posture"
EXPORT_CHECK = "export_holds_one_object_per_view_row"
IMPORT_CHECK = "script_failing_fulfillments_match_imported_objects"


@dg.asset(
    group_name=GROUP,
    kinds={"postgres", "sql"},
    pool=POOL,
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=26)),
    # Import batches create the catalog (services, components, instances) the view aggregates.
    deps=[dg.AssetKey("import_batches")],
)
def responsive_responsibility_aggregate(database: DatabaseResource) -> dg.MaterializeResult:
    """Refreshes `responsive_responsibility_aggregate`: per service, responsibility, boundary and
    component the CIRs, passing, failing and the status (FAILING when any fulfillment fails).
    PostgreSQL: a plain REFRESH of the standby materialized view, then the view swapped onto it in one
    short transaction (readers are never blocked); SQLite: a rebuild in one transaction."""
    result = refresh_aggregate(database.get_database())
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(result.rows),
            "failing_rows": dg.MetadataValue.int(result.failing_rows),
            "duration_seconds": dg.MetadataValue.float(round(result.seconds, 3)),
            "refresh": dg.MetadataValue.text(result.mode),
            "swap_attempts": dg.MetadataValue.int(result.swap_attempts),
        }
    )


@dg.asset(
    group_name=GROUP,
    kinds={"postgres", "s3", "json"},
    deps=[responsive_responsibility_aggregate],
    check_specs=[
        dg.AssetCheckSpec(
            EXPORT_CHECK,
            asset="lite_dynamic_state_export",
            description="The stored document, read back, holds one object per row of the view for the "
            "requested services.",
        )
    ],
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
        changed_at = catalog_changed_at(conn)
    context.log.info(f"Exported {result.objects} lite dynamic objects to {result.key}")
    refreshed_at = _last_refresh(context)
    # The seed's most common problem: "Export Returns Empty Results: materialized view not refreshed".
    stale = changed_at is not None and (refreshed_at is None or refreshed_at < changed_at)
    if stale:
        context.log.warning(
            f"{AGGREGATE}: the catalog changed at {changed_at.isoformat()}, after the view's last refresh "
            f"({refreshed_at.isoformat() if refreshed_at else 'never, through Dagster'}): this export may miss it; "
            f"materialize {AGGREGATE} first"
        )
    return dg.MaterializeResult(
        metadata={
            "key": dg.MetadataValue.text(result.key),
            "objects": dg.MetadataValue.int(result.objects),
            "failing_objects": dg.MetadataValue.int(result.failing),
            "service_names": dg.MetadataValue.json(config.service_names),
            "duration_seconds": dg.MetadataValue.float(round(result.seconds, 3)),
            "view_stale": dg.MetadataValue.bool(stale),
            "view_refreshed_at": dg.MetadataValue.timestamp(refreshed_at) if refreshed_at else dg.MetadataValue.null(),
            "catalog_changed_at": dg.MetadataValue.timestamp(changed_at) if changed_at else dg.MetadataValue.null(),
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
    check_specs=[
        dg.AssetCheckSpec(
            IMPORT_CHECK,
            asset="lite_dynamic_state_import",
            description="Per service, the script-created FAILING fulfillments in the database equal the "
            "FAILING objects imported (plus, for INSERT, those that were there before).",
        )
    ],
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
    # The seed's response keeps its camelCase names (`response`); the plotted counts are snake_case.
    counts = {_snake_case(name): dg.MetadataValue.int(value) for name, value in result.response().items()}
    return dg.MaterializeResult(
        metadata={
            **counts,
            "config": dg.MetadataValue.text(result.config),
            "source": dg.MetadataValue.text(source.describe()),
            "backup_key": dg.MetadataValue.path(result.backup_key) if result.backup_key
            else dg.MetadataValue.text("none (INSERT deletes nothing)"),
            "parent_instances_inserted": dg.MetadataValue.int(result.parent_instances_inserted),
            "failing_objects_imported": dg.MetadataValue.int(result.failing_imported),
            "delete_seconds": dg.MetadataValue.float(round(result.delete_seconds, 3)),
            "insert_seconds": dg.MetadataValue.float(round(result.insert_seconds, 3)),
            "duration_seconds": dg.MetadataValue.float(round(result.seconds, 3)),
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
    source = DocumentSource.of(request)
    if source is not None:
        return source
    event = context.instance.get_latest_materialization_event(dg.AssetKey("lite_dynamic_state_export"))
    key = event.asset_materialization.metadata.get("key") if event and event.asset_materialization else None
    if key is None:
        raise PostureError(
            "no lite_dynamic_state_export to import: materialize it first, or set exportKey or uploadedFile"
        )
    return DocumentSource(key=str(key.value))


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _last_refresh(context: dg.AssetExecutionContext) -> dt.datetime | None:
    """When the aggregate view was last materialized: in this run when it ran before the export."""
    event = context.instance.get_latest_materialization_event(dg.AssetKey(AGGREGATE))
    return dt.datetime.fromtimestamp(event.timestamp, dt.timezone.utc) if event else None


def _markdown_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "(no objects)"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row[c] for c in header) + " |" for row in rows]
    return "\n".join(lines)
