import pytest
import sqlalchemy as sa

from pipelines.posture.aggregate import aggregate_select, aggregate_view, refresh_aggregate
from pipelines.posture.errors import PostureError
from pipelines.posture.lite_export import export_lite_dynamic_state
from pipelines.posture.requests import ExportRequest
from pipelines.posture.sample_catalog import CatalogShape, write_catalog
from pipelines.posture.tables import responsibilities, services


def view_rows(database):
    with database.begin() as conn:
        query = (
            sa.select(
                services.c.name,
                responsibilities.c.slug,
                aggregate_view.c.cir_count,
                aggregate_view.c.passing_count,
                aggregate_view.c.failing_count,
                aggregate_view.c.status,
            )
            .join(services, services.c.id == aggregate_view.c.service_id)
            .join(responsibilities, responsibilities.c.id == aggregate_view.c.responsibility_id)
            .order_by(services.c.name, responsibilities.c.slug)
        )
        return [tuple(row) for row in conn.execute(query)]


def test_seed_example_200_cirs_190_passing_10_failing_is_one_failing_row(database, catalog):
    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", passing=190, failing=10)

    result = refresh_aggregate(database)

    assert (result.rows, result.failing_rows) == (1, 1)
    assert view_rows(database) == [("my-service", "security-control-001", 200, 190, 10, "FAILING")]


def test_a_cir_fails_when_any_fulfillment_fails_and_unfulfilled_cirs_only_count(database, catalog):
    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", passing=2, mixed=1, unfulfilled=1)
    catalog.cirs("my-service", "security-control-002", "PRODUCTION", "APP", passing=3)
    catalog.cirs("my-service", "security-control-003", "PRODUCTION", "APP", unfulfilled=2)

    refresh_aggregate(database)

    assert view_rows(database) == [
        ("my-service", "security-control-001", 4, 2, 1, "FAILING"),
        ("my-service", "security-control-002", 3, 3, 0, "PASSING"),
    ]


def test_records_of_the_lite_import_are_never_counted(database, catalog):
    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", passing=1)
    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", failing=5, created_by="lite-import-script")
    catalog.cirs("other-service", "security-control-002", "STAGING", "DB", failing=1, created_by="lite-import-script")

    refresh_aggregate(database)

    assert view_rows(database) == [("my-service", "security-control-001", 1, 1, 0, "PASSING")]


def test_a_refresh_replaces_the_previous_rows(database, catalog):
    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", passing=1)
    refresh_aggregate(database)
    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", failing=1)
    catalog.cirs("other-service", "security-control-002", "STAGING", "DB", passing=2)

    refresh_aggregate(database)

    assert view_rows(database) == [
        ("my-service", "security-control-001", 2, 1, 1, "FAILING"),
        ("other-service", "security-control-002", 2, 2, 0, "PASSING"),
    ]


def test_exporting_before_the_first_refresh_says_to_materialize_the_view(database, catalog, local_store):
    with pytest.raises(PostureError, match="responsive_responsibility_aggregate has never been refreshed"):
        export_lite_dynamic_state(database, local_store, ExportRequest())


def test_sqlite_rebuilds_a_table_where_postgres_refreshes_the_view(database, catalog):
    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", passing=1)
    assert refresh_aggregate(database).mode == ("plain" if database.is_postgres else "rebuild")
    assert refresh_aggregate(database).mode == ("concurrently" if database.is_postgres else "rebuild")


@pytest.mark.postgres
def test_postgres_refreshes_concurrently_once_the_view_holds_rows(pg_database):
    assert refresh_aggregate(pg_database).mode == "plain"  # never populated
    assert refresh_aggregate(pg_database).mode == "plain"  # populated but empty
    write_catalog(pg_database, CatalogShape(services=2, responsibilities_per_component=3))
    assert refresh_aggregate(pg_database).mode == "plain"
    assert refresh_aggregate(pg_database).mode == "concurrently"
    assert refresh_aggregate(pg_database, concurrently=False).mode == "plain"


@pytest.mark.postgres
def test_postgres_view_of_the_migration_equals_the_query_sqlite_rebuilds_from(pg_database):
    write_catalog(pg_database, CatalogShape(services=6, responsibilities_per_component=5, failing_share=0.2))
    refresh_aggregate(pg_database)
    with pg_database.begin() as conn:
        from_view = sorted(tuple(r) for r in conn.execute(sa.select(aggregate_view)))
        from_query = sorted(tuple(r) for r in conn.execute(aggregate_select()))
    assert len(from_view) > 100
    assert from_view == from_query
