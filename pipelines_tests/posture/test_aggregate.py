import pytest
import sqlalchemy as sa

from pipelines.posture.aggregate import VIEW_NAME, aggregate_select, aggregate_view, refresh_aggregate
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


def test_sqlite_rebuilds_a_table_where_postgres_swaps_in_the_refreshed_standby(database, catalog):
    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", passing=1)
    assert refresh_aggregate(database).mode == ("swap" if database.is_postgres else "rebuild")
    assert refresh_aggregate(database).mode == ("swap" if database.is_postgres else "rebuild")


@pytest.mark.postgres
def test_postgres_refreshes_the_two_materialized_views_alternately(pg_database):
    views = [refresh_aggregate(pg_database).materialized_view for _ in range(3)]  # the first: never populated
    write_catalog(pg_database, CatalogShape(services=2, responsibilities_per_component=3))
    views.append(refresh_aggregate(pg_database).materialized_view)

    assert views == [f"{VIEW_NAME}_b", f"{VIEW_NAME}_a", f"{VIEW_NAME}_b", f"{VIEW_NAME}_a"]
    rows = refresh_aggregate(pg_database).rows  # the same data again, into the other one
    with pg_database.begin() as conn:
        kind = conn.scalar(sa.text("SELECT relkind FROM pg_class WHERE oid = CAST(:v AS regclass)"), {"v": VIEW_NAME})
        a, b = (sorted(conn.execute(sa.text(f"SELECT * FROM {VIEW_NAME}_{x}")).all()) for x in "ab")
    assert kind == "v"
    assert a == b and len(a) == rows > 0


@pytest.mark.postgres
def test_postgres_view_of_the_migration_equals_the_query_sqlite_rebuilds_from(pg_database):
    write_catalog(pg_database, CatalogShape(services=6, responsibilities_per_component=5, failing_share=0.2))
    refresh_aggregate(pg_database)
    with pg_database.begin() as conn:
        from_view = sorted(tuple(r) for r in conn.execute(sa.select(aggregate_view)))
        from_query = sorted(tuple(r) for r in conn.execute(aggregate_select()))
    assert len(from_view) > 100
    assert from_view == from_query
