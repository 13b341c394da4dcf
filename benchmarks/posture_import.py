"""Benchmark of the posture import path on PostgreSQL, each figure measured in one run on one schema.

    python benchmarks/posture_import.py --objects 100000
    python benchmarks/posture_import.py --objects 1000000

Builds a realistic catalog (the generator the demo and tests use) big enough for `--objects`
aggregate rows, then measures and prints:
- the view refresh (plain, CONCURRENTLY) against CREATE TABLE AS of the view's own query;
- a REPLACE_ALL import of `--objects` objects over an existing set of the same size, against a raw
  psycopg binary COPY (`write_row`, `set_types`) of the same rows into the same three tables plus a
  bare DELETE of the old set, and against psycopg `executemany` (for reference);
- the bulk delete of the script-created set against a bare `DELETE ... WHERE created_by = ...`;
- the peak memory (max RSS) of the process up to the end of the import.
PostgreSQL: `--url`, else $PIPELINES_BENCH_POSTGRES_URL, else $PIPELINES_TEST_POSTGRES_URL, else
postgresql://postgres@127.0.0.1:5432/test; the run gets its own schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore
from pipelines.posture.aggregate import VIEW_NAME, refresh_aggregate, refresh_statement
from pipelines.posture.documents import DocumentSource, write_document
from pipelines.posture.lite_export import export_lite_dynamic_state
from pipelines.posture.lite_import import (
    CI_COLUMNS,
    CIR_COLUMNS,
    CIRF_COLUMNS,
    Catalog,
    delete_script_records,
    import_lite_dynamic_state,
    instance_name,
)
from pipelines.posture.requests import ExportRequest, ImportConfig, ImportRequest
from pipelines.posture.sample_catalog import CatalogShape, lite_objects, write_catalog
from pipelines.posture.tables import LITE_IMPORT_CREATED_BY

TABLES = {
    "component_instances": (CI_COLUMNS, ["int8", "varchar", "int8", "int8", "int8", "int8", "varchar"]),
    "component_instance_responsibilities": (CIR_COLUMNS, ["int8", "int8", "int8", "varchar"]),
    "component_instance_responsibility_fulfillments": (CIRF_COLUMNS, ["int8", "int8", "varchar", "varchar"]),
}
DELETE_ORDER = list(reversed(TABLES))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--url", default=None)
    parser.add_argument("--no-executemany", action="store_true", help="skip the executemany reference")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's schema")
    args = parser.parse_args()
    base = args.url or os.environ.get("PIPELINES_BENCH_POSTGRES_URL") or os.environ.get(
        "PIPELINES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    with bench_schema(base, args.keep) as url:
        run(url, args)
    return 0


@contextmanager
def bench_schema(base: str, keep: bool) -> Iterator[str]:
    schema = f"bench_posture_{uuid.uuid4().hex[:8]}"
    plain = sa.make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        Database(url).dispose()
        if not keep:
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        else:
            print(f"kept schema {schema}")


def timed(label: str, action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    value = action()
    seconds = time.perf_counter() - started
    print(f"  {label:<58} {seconds:8.2f} s", flush=True)
    return seconds, value


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(url: str, args: argparse.Namespace) -> None:
    n = args.objects
    database = Database(url)
    database.upgrade()
    shape = CatalogShape.for_objects(n)
    store = LocalObjectStore(tempfile.mkdtemp(prefix="posture-bench-"))
    print(f"posture import benchmark: {n:,} objects, batch {args.batch_size}, PostgreSQL, 2 shared cores")
    print(f"setup (shape: {shape.services:,} services, {shape.responsibilities_per_component} responsibilities per component)")
    _, counts = timed("catalog (orchestrator CI / CIR / CIRF)", lambda: write_catalog(database, shape))
    print(f"    {counts.component_instances:,} CIs, {counts.responsibilities_assigned:,} CIRs, "
          f"{counts.fulfillments:,} CIRFs ({counts.failing_fulfillments / counts.fulfillments:.1%} failing)")
    key = "posture/exports/benchmark.json"

    def write_objects() -> int:
        with store.open_write(key) as raw:
            import io

            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            count = write_document(text, lite_objects(shape, n))
            text.flush()
            text.detach()
        return count

    timed(f"document of {n:,} objects ({'generated'})", write_objects)
    source = DocumentSource(key=key)
    options = ImportRequest(config=ImportConfig.REPLACE_ALL, batch_size=args.batch_size)
    timed("first import (REPLACE_ALL into an empty set)", lambda: import_lite_dynamic_state(database, store, source, options))

    print("view refresh")
    timed("refresh (first, plain)", lambda: refresh_aggregate(database))
    # The machine is shared: each figure is the best of two, measured alternately.
    plain = concurrent = ctas = ctas_indexed = float("inf")
    for _ in range(2):
        plain = min(plain, timed("REFRESH MATERIALIZED VIEW", lambda: refresh_view(database, False))[0])
        concurrent = min(concurrent, timed("REFRESH MATERIALIZED VIEW CONCURRENTLY", lambda: refresh_view(database, True))[0])
        ctas = min(ctas, timed("CREATE TABLE AS (the view's query)", lambda: create_table_as(database))[0])
        ctas_indexed = min(ctas_indexed, timed("  the same + its unique index (reference)", lambda: create_table_as(database, True))[0])
    _, export = timed("export of the whole view", lambda: export_lite_dynamic_state(database, store, ExportRequest()))
    print(f"    {export.objects:,} objects exported")

    print("import over an existing set of the same size")
    rss_before = rss_mb()
    imported, result = timed("REPLACE_ALL import (validate, delete, insert)", lambda: import_lite_dynamic_state(database, store, source, options))
    print(f"    of which delete {result.delete_seconds:.2f} s, insert {result.insert_seconds:.2f} s; "
          f"{result.componentInstancesInserted:,} CIs inserted, {result.componentInstancesDeleted:,} deleted")
    peak = rss_mb()

    print("bulk delete of the script-created set (rolled back)")
    bare_delete = bulk_delete = float("inf")
    for _ in range(2):
        bare_delete = min(bare_delete, timed("bare DELETE ... WHERE created_by = ... per table", lambda: rolled_back(url, bare_delete_sql))[0])
        bulk_delete = min(bulk_delete, timed("delete_script_records", lambda: rolled_back_sa(database))[0])
    with database.begin() as conn:
        delete_script_records(conn)

    print("baselines: the same rows into the same tables")
    tables = baseline_rows_factory(database, shape, n)
    copy_seconds = copy_baseline(url, tables)
    print(f"  {'raw psycopg binary COPY (write_row, set_types), 3 tables':<58} {copy_seconds:8.2f} s")
    executemany_seconds = None
    if not args.no_executemany:
        with database.begin() as conn:
            delete_script_records(conn)
        executemany_seconds = executemany_baseline(url, tables)
        print(f"  {'psycopg executemany, 3 tables':<58} {executemany_seconds:8.2f} s")

    print("ratios (goal)")
    ratio("REPLACE_ALL import / (bare DELETE + raw COPY)", imported / (bare_delete + copy_seconds), 1.5)
    ratio("import insert phase / raw COPY", result.insert_seconds / copy_seconds, None)
    if executemany_seconds:
        ratio("REPLACE_ALL import / executemany", imported / executemany_seconds, None)
    ratio("bulk delete / bare DELETE", bulk_delete / bare_delete, 1.5)
    ratio("REFRESH / CREATE TABLE AS", plain / ctas, 1.2)
    ratio("REFRESH / (CREATE TABLE AS + unique index)", plain / ctas_indexed, None)
    ratio("REFRESH CONCURRENTLY / REFRESH", concurrent / plain, 1.6)
    print(f"peak memory (max RSS) through the import: {peak:,.0f} MB (before it: {rss_before:,.0f} MB)")


def ratio(label: str, value: float, goal: float | None) -> None:
    verdict = "" if goal is None else (f"  (goal <= {goal}: {'met' if value <= goal else 'NOT met'})")
    print(f"  {label:<58} {value:8.2f}x{verdict}")


def refresh_view(database: Database, concurrently: bool) -> None:
    """The refresh statement alone (`refresh_aggregate` also counts the rows afterwards)."""
    with database.begin() as conn:
        refresh_statement(conn, concurrently)


def create_table_as(database: Database, with_index: bool = False) -> None:
    with database.begin() as conn:
        query = conn.scalar(sa.text("SELECT pg_get_viewdef(CAST(:view AS regclass), true)"), {"view": VIEW_NAME})
        conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
        conn.execute(sa.text(f"CREATE TABLE bench_aggregate_copy AS {query.rstrip().rstrip(';')}"))
        if with_index:
            conn.execute(sa.text(
                "CREATE UNIQUE INDEX ON bench_aggregate_copy (service_id, responsibility_id, boundary_id, component_id)"
            ))
    with database.begin() as conn:
        conn.execute(sa.text("DROP TABLE bench_aggregate_copy"))


def plain_url(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def bare_delete_sql(conn: psycopg.Connection) -> None:
    for table in DELETE_ORDER:
        conn.execute(f"DELETE FROM {table} WHERE created_by = %s", (LITE_IMPORT_CREATED_BY,))


def rolled_back(url: str, action: Callable[[psycopg.Connection], None]) -> None:
    with psycopg.connect(plain_url(url)) as conn:
        action(conn)
        conn.rollback()


def rolled_back_sa(database: Database) -> None:
    with database.engine.connect() as conn, conn.begin() as transaction:
        delete_script_records(conn)
        transaction.rollback()


def baseline_rows_factory(database: Database, shape: CatalogShape, n: int) -> dict[str, Callable[[], list[tuple]]]:
    """Per table, a function building the import's rows for the same objects (ids reserved up front)."""
    with database.begin() as conn:
        catalog = Catalog.load(conn)
        parents = {
            (s, b): i
            for s, b, i in conn.execute(
                sa.text(
                    "SELECT service_id, boundary_id, min(id) FROM component_instances "
                    "WHERE component_id = :c GROUP BY 1, 2"
                ),
                {"c": catalog.components["SERVICE"]},
            )
        }
        starts = {}
        for table in TABLES:
            sequence = conn.scalar(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table})
            starts[table] = conn.scalar(sa.text("SELECT setval(CAST(:s AS regclass), nextval(CAST(:s AS regclass)) + :n)"), {"s": sequence, "n": n}) - n

    def ci_rows() -> list[tuple]:
        rows = []
        for i, o in enumerate(lite_objects(shape, n)):
            ci_id = starts["component_instances"] + i
            service_id, boundary_id = catalog.services[o["serviceName"]], catalog.boundaries[o["boundarySlug"]]
            parent = None if o["componentSlug"] == "SERVICE" else parents[(service_id, boundary_id)]
            rows.append((ci_id, instance_name(o["componentSlug"], o["serviceName"], ci_id), service_id,
                         catalog.components[o["componentSlug"]], boundary_id, parent, LITE_IMPORT_CREATED_BY))
        return rows

    def cir_rows() -> list[tuple]:
        return [
            (starts["component_instance_responsibilities"] + i, starts["component_instances"] + i,
             catalog.responsibilities[o["responsibilitySlug"]], LITE_IMPORT_CREATED_BY)
            for i, o in enumerate(lite_objects(shape, n))
        ]

    def cirf_rows() -> list[tuple]:
        return [
            (starts["component_instance_responsibility_fulfillments"] + i,
             starts["component_instance_responsibilities"] + i, o["status"], LITE_IMPORT_CREATED_BY)
            for i, o in enumerate(lite_objects(shape, n))
        ]

    return dict(zip(TABLES, (ci_rows, cir_rows, cirf_rows)))


def copy_baseline(url: str, tables: dict[str, Callable[[], list[tuple]]]) -> float:
    def copy(cursor: psycopg.Cursor, table: str, columns: tuple[str, ...], types: list[str], rows: list[tuple]) -> None:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as out:
            out.set_types(types)
            for row in rows:
                out.write_row(row)

    return timed_inserts(url, tables, copy)


def executemany_baseline(url: str, tables: dict[str, Callable[[], list[tuple]]]) -> float:
    def executemany(cursor: psycopg.Cursor, table: str, columns: tuple[str, ...], _: list[str], rows: list[tuple]) -> None:
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)

    return timed_inserts(url, tables, executemany)


def timed_inserts(url: str, tables: dict[str, Callable[[], list[tuple]]], write: Callable[..., None]) -> float:
    """Seconds of `write` per table plus the commit, in one transaction (rows are built untimed)."""
    seconds = 0.0
    with psycopg.connect(plain_url(url)) as conn:
        for table, build in tables.items():
            columns, types = TABLES[table]
            rows = build()
            started = time.perf_counter()
            with conn.cursor() as cursor:
                write(cursor, table, columns, types, rows)
            seconds += time.perf_counter() - started
            del rows
        started = time.perf_counter()
        conn.commit()
        seconds += time.perf_counter() - started
    return seconds


if __name__ == "__main__":
    sys.exit(main())
