"""Benchmark: an import batch of 100k objects in 10 levels with 100k links, on PostgreSQL.

Prints objects/s, the SQL statements issued (counted by a SQLAlchemy `before_cursor_execute`
listener; each binary COPY goes straight through psycopg and is counted apart), and the ratio of the
whole import (files read, validated, staged, created in waves) to a raw binary COPY of the same final
catalog rows into an empty catalog, measured in the same run. Goal: statements grow with levels, not
objects; ratio <= 5 (statuses derived from the waves, not rewritten). It also prints the time per object
and the process's peak memory, to compare sizes (`--objects 1000000` against the default 100k).

Beside it, what the state model costs at the least: the load alone (the files read, validated and
staged as pending rows, which the import must do before any check) and a raw COPY of every row the
import writes (the pending objects and links, then the catalog rows), each against the same baseline.

    .venv/bin/python benchmarks/import_batch.py                 # 100k objects, 10 levels
    .venv/bin/python benchmarks/import_batch.py --objects 10000 # quicker
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import uuid
from collections import Counter

import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore
from pipelines.import_batches.creators import REGISTRY
from pipelines.import_batches.processing import load_batch, process_batch
from pipelines.import_batches.sample import CatalogBatch
from pipelines.import_batches.tables import import_batches, import_pending_links, import_pending_objects
from pipelines.posture import tables as catalog

DEFAULT_URL = os.environ.get("PIPELINES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CATALOG = (
    catalog.services,
    catalog.components,
    catalog.boundaries,
    catalog.responsibilities,
    catalog.component_instances,
    catalog.component_instance_responsibilities,
)
STAGED = (import_batches, import_pending_objects, import_pending_links)


def fresh_schema(admin: Database, name: str) -> Database:
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    url = admin.url.update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)
    database = Database(url)
    database.upgrade()
    return database


def drop_schema(admin: Database, database: Database, name: str) -> None:
    database.dispose()
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))


def count_statements(database: Database) -> Counter:
    counted: Counter = Counter()

    @sa.event.listens_for(database.engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        counted[statement.split(None, 1)[0].upper()] += 1

    return counted


def copy_rows(
    source: Database, target: Database, tables: tuple[sa.Table, ...], *, times: int = 1
) -> tuple[list[float], int]:
    """Seconds to COPY the rows of `tables` (read from `source` beforehand) into empty ones of `target`,
    `times` times (emptied between), fastest first."""
    with source.begin() as conn:
        rows = [(t, [tuple(r) for r in conn.execute(sa.select(t).order_by(t.c.id))]) for t in tables]
    seconds = []
    for _ in range(times):
        with target.begin() as conn:
            names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in tables)
            conn.exec_driver_sql(f"TRUNCATE {names} CASCADE")
        started = time.monotonic()
        with target.begin() as conn:
            count = sum(target.bulk_insert(conn, t, r, columns=[c.name for c in t.c]) for t, r in rows)
        seconds.append(time.monotonic() - started)
    return sorted(seconds), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=100_000, help="size of the batch (10x: 1000000)")
    parser.add_argument("--levels", type=int, default=10)
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server (a schema is created and dropped)")
    args = parser.parse_args()
    print("load average at the start: " + " ".join(f"{value:.2f}" for value in os.getloadavg()))

    admin = Database(args.url)
    if not admin.is_postgres:
        raise SystemExit("the benchmark runs on PostgreSQL")
    suffix = uuid.uuid4().hex[:8]
    names = (f"bench_import_{suffix}", f"bench_copy_{suffix}", f"bench_floor_{suffix}")
    importing, copying, floor = (fresh_schema(admin, name) for name in names)
    try:
        with tempfile.TemporaryDirectory() as folder:
            store = LocalObjectStore(folder)
            batch = CatalogBatch(args.objects, args.levels, prefix="bench")
            written = time.monotonic()
            objects, links = batch.write(store, "bench")
            print(f"batch written: {objects:,} objects, {links:,} links ({time.monotonic() - written:.1f} s)")

            statements = count_statements(importing)
            started = time.monotonic()
            load_batch(importing, store, "bench", REGISTRY)  # what process_batch does first; it then resumes
            load_seconds = time.monotonic() - started
            state = process_batch(importing, store, "bench")
            assert state.status == "complete", state.errors
            import_seconds = load_seconds + state.seconds
            # The import's own peak, before the baselines below read their rows into memory.
            import_peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            # The baseline three times (the median counts): one COPY swings by a third on a shared machine.
            copies, copied = copy_rows(importing, copying, CATALOG, times=3)
            copy_seconds = copies[1]
            (floor_seconds,), floor_rows = copy_rows(importing, floor, STAGED + CATALOG)

        total = sum(statements.values())
        by_kind = ", ".join(f"{kind} {n}" for kind, n in statements.most_common())
        print(f"import: {import_seconds:.2f} s, {objects / import_seconds:,.0f} objects/s, {state.waves} waves")
        print(f"statements: {total} through SQLAlchemy ({by_kind}) + 2 COPY; {total / state.waves:.1f} per wave")
        print(f"raw COPY of the same {copied:,} final catalog rows: {copy_seconds:.2f} s "
              f"(median of {', '.join(f'{s:.2f}' for s in copies)})")
        print(f"ratio import / raw COPY: {import_seconds / copy_seconds:.2f}x (goal <= 5x)")
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"time per object: {import_seconds / objects * 1e6:.1f} us; peak memory (RSS) of the import: "
              f"{import_peak_mib:.0f} MiB (of the whole run, with the baselines' rows read into memory: "
              f"{peak_mib:.0f} MiB)")
        print(f"  of which the load (files read, validated, staged): {load_seconds:.2f} s = "
              f"{load_seconds / copy_seconds:.2f}x raw COPY")
        print(f"  raw COPY of every row the import writes ({floor_rows:,}: pending objects and links, catalog): "
              f"{floor_seconds:.2f} s = {floor_seconds / copy_seconds:.2f}x raw COPY")
        print("load average at the end: " + " ".join(f"{value:.2f}" for value in os.getloadavg()))
    finally:
        for database, name in zip((importing, copying, floor), names):
            drop_schema(admin, database, name)


if __name__ == "__main__":
    main()
