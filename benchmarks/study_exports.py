"""Study exports on PostgreSQL: records/s and peak memory of an export, against `COPY ... TO STDOUT WITH
CSV` of the same rows, and a 30-partition single-run backfill against a plain loop over the same windows.

    .venv/bin/python benchmarks/study_exports.py --records 1000000 --studies 100

Records are spread evenly over the 30 days 2024-01-01..30 in a fresh schema of the server at
PIPELINES_TEST_POSTGRES_URL (dropped at the end); files go to a temporary local object store.
The export measured is one DAILY re-export (ignoreLastExportTime) of the whole 30-day window, so it
covers every record; the backfill runs `study_exports_daily` over the 30 partitions in one run.
Reference lines besides the baseline: the same COPY with the files' ORDER BY, and COPY of the export's
own query (its columns and order) read and dropped: what PostgreSQL alone costs the export. The load
average is printed before and after, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import shutil
import tempfile
import time
import uuid
import warnings

import dagster as dg
import psycopg
import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.study_exports.assets import study_exports_daily
from pipelines.study_exports.export import _order, _pg_columns, run_export
from pipelines.study_exports.requests import ExportRequest
from pipelines.study_exports.resources import StudyExportsResource
from pipelines.study_exports.tables import records, studies

UTC = dt.timezone.utc
START = dt.datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 30
SCHEMAS = ("survey", "walk", "heart_rate", "sleep")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load(database: Database, total: int, study_count: int) -> float:
    rng = random.Random(7)
    study_ids = [f"study-{n:03d}" for n in range(study_count)]
    seconds = DAYS * 24 * 3600

    def rows():
        for n in range(total):
            uploaded_on = START + dt.timedelta(seconds=(n * seconds) // total)
            data = {"value": rng.randint(0, 10_000), "answer": rng.choice(["yes", "no", "a, \"quoted\" one"])}
            yield (f"rec-{n:08d}", study_ids[n % study_count], uploaded_on, SCHEMAS[(n // study_count) % len(SCHEMAS)], data)

    started = time.monotonic()
    with database.begin() as conn:
        conn.execute(studies.insert(), [{"study_id": s, "name": s} for s in study_ids])
        database.bulk_insert(
            conn, records, rows(), columns=["record_id", "study_id", "uploaded_on", "schema_key", "data"]
        )
    with database.begin() as conn:
        conn.execute(sa.text("ANALYZE records"))
    return time.monotonic() - started


def _copy_csv(conninfo: str, schema: str, path: str, ordered: bool) -> float:
    order = " ORDER BY study_id, schema_key, uploaded_on, record_id" if ordered else ""
    sql = (
        "COPY (SELECT record_id, study_id, schema_key, uploaded_on, data FROM records "
        f"WHERE uploaded_on >= %s AND uploaded_on < %s{order}) TO STDOUT WITH CSV"
    )
    end = START + dt.timedelta(days=DAYS)
    started = time.monotonic()
    with psycopg.connect(conninfo, options=f"-csearch_path={schema}") as conn, conn.cursor() as cursor:
        with open(path, "wb") as out, cursor.copy(sql, (START, end)) as copy:
            for chunk in copy:
                out.write(chunk)
    return time.monotonic() - started


def _copy_export_query(database: Database, conninfo: str, schema: str) -> float:
    """COPY of the query `run_export` reads (its columns, filter and ORDER BY), the rows read and dropped."""
    end = START + dt.timedelta(days=DAYS)
    with database.begin() as conn:
        study_ids = sorted(conn.scalars(sa.select(studies.c.study_id)))
    query = (
        sa.select(*_pg_columns())
        .where(records.c.study_id.in_(study_ids))
        .where(records.c.uploaded_on >= START, records.c.uploaded_on < end)
        .order_by(*_order(database))
    )
    compiled = query.compile(dialect=database.engine.dialect, compile_kwargs={"render_postcompile": True})
    started = time.monotonic()
    with psycopg.connect(conninfo, options=f"-csearch_path={schema}") as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", compiled.params) as copy:
            for _row in copy:
                pass
    return time.monotonic() - started


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _window_request(start: dt.datetime, end: dt.datetime) -> ExportRequest:
    return ExportRequest.parse(
        {
            "exportType": "DAILY",
            "startDateTime": start.isoformat(),
            "endDateTime": end.isoformat(),
            "ignoreLastExportTime": True,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--studies", type=int, default=100)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    server = os.environ.get("PIPELINES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"bench_exports_{uuid.uuid4().hex[:8]}"
    admin = Database(server)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    conninfo = sa.make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    workdir = tempfile.mkdtemp(prefix="bench-exports-")
    print(f"load average before: {_load_average()} ({os.cpu_count()} CPUs)")
    try:
        database = Database(url_text)
        database.upgrade()
        load_s = _load(database, args.records, args.studies)
        print(f"loaded {args.records:,} records over {args.studies} studies in {load_s:.1f} s")

        copy_plain_s = _copy_csv(conninfo, schema, os.path.join(workdir, "copy.csv"), ordered=False)
        copy_ordered_s = _copy_csv(conninfo, schema, os.path.join(workdir, "copy-ordered.csv"), ordered=True)
        copy_query_s = _copy_export_query(database, conninfo, schema)

        rss_before = _peak_rss_mb()
        store = LocalObjectStore(os.path.join(workdir, "objects"))
        started, cpu_started = time.monotonic(), time.process_time()
        result = run_export(database, store, _window_request(START, START + dt.timedelta(days=DAYS)))
        export_s, export_cpu_s = time.monotonic() - started, time.process_time() - cpu_started
        rss_after = _peak_rss_mb()
        assert result.records == args.records, (result.records, args.records)
        export_bytes = sum(i.size for i in store.list("study_exports/"))
        copy_bytes = os.path.getsize(os.path.join(workdir, "copy.csv"))

        print(f"\nexport of {result.records:,} records into {len(result.keys)} CSV files")
        print(f"  run_export:                  {export_s:7.2f} s  {result.records / export_s:>12,.0f} records/s")
        print(f"  of which CPU of this process: {export_cpu_s:6.2f} s (the rest: waiting on PostgreSQL and files)")
        print(f"  COPY ... TO STDOUT WITH CSV: {copy_plain_s:7.2f} s  ratio {export_s / copy_plain_s:.2f}x (goal <= 1.5x)")
        print(f"  COPY, same ORDER BY:         {copy_ordered_s:7.2f} s  ratio {export_s / copy_ordered_s:.2f}x")
        print(
            f"  COPY of the export's query:  {copy_query_s:7.2f} s  ratio {export_s / copy_query_s:.2f}x "
            f"(its columns and ORDER BY, rows dropped: {copy_query_s / copy_plain_s:.2f}x the baseline)"
        )
        print(f"  bytes written: export {export_bytes:,} (with headers), COPY {copy_bytes:,}")
        print(f"  peak RSS: {rss_after:.0f} MB after the export ({rss_after - rss_before:+.0f} MB during it)")

        windows = [(START + dt.timedelta(days=d), START + dt.timedelta(days=d + 1)) for d in range(DAYS)]
        loop_store = LocalObjectStore(os.path.join(workdir, "loop"))
        started = time.monotonic()
        loop_records = sum(run_export(database, loop_store, _window_request(s, e)).records for s, e in windows)
        loop_s = time.monotonic() - started

        started = time.monotonic()
        outcome = dg.materialize(
            [study_exports_daily],
            instance=dg.DagsterInstance.ephemeral(),
            resources={
                "database": DatabaseResource(url=url_text),
                "object_store": ObjectStoreResource(root=os.path.join(workdir, "backfill")),
                "study_exports": StudyExportsResource(),
            },
            tags={
                "dagster/asset_partition_range_start": windows[0][0].strftime("%Y-%m-%d"),
                "dagster/asset_partition_range_end": windows[-1][0].strftime("%Y-%m-%d"),
                "dagster/backfill": "benchmark",
            },
        )
        backfill_s = time.monotonic() - started
        backfill_records = sum(
            event.step_materialization_data.materialization.metadata["records_exported"].value
            for event in outcome.get_asset_materialization_events()
        )
        assert backfill_records == loop_records == args.records, (backfill_records, loop_records)

        print(f"\n{DAYS}-partition backfill of {backfill_records:,} records")
        print(f"  plain Python loop over {DAYS} windows: {loop_s:7.2f} s")
        print(f"  single-run backfill (dg.materialize): {backfill_s:7.2f} s  ratio {backfill_s / loop_s:.2f}x (goal <= 1.2x)")
        print(f"\nload average after: {_load_average()}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        Database(url_text).dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
