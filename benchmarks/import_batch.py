"""Benchmark: an import batch of 100k objects in 10 levels with 100k links, on PostgreSQL.

Prints objects/s, the SQL statements issued (counted by a SQLAlchemy `before_cursor_execute`
listener; each binary COPY goes straight through psycopg and is counted apart), and the ratio of the
whole import (files read, validated, staged, created in waves) to a raw binary COPY of the same final
catalog rows into an empty catalog, measured in the same run. Goal: statements grow with levels, not
objects; ratio <= 3.

    .venv/bin/python benchmarks/import_batch.py                 # 100k objects, 10 levels
    .venv/bin/python benchmarks/import_batch.py --objects 10000 # quicker
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections import Counter

import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore
from pipelines.import_batches.processing import process_batch
from pipelines.import_batches.sample import CatalogBatch
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


def copy_baseline(source: Database, target: Database) -> tuple[float, int]:
    """Seconds to COPY the import's final catalog rows (read beforehand) into an empty catalog."""
    with source.begin() as conn:
        tables = [(t, [tuple(r) for r in conn.execute(sa.select(t).order_by(t.c.id))]) for t in CATALOG]
    started = time.monotonic()
    with target.begin() as conn:
        count = sum(target.bulk_insert(conn, t, rows, columns=[c.name for c in t.c]) for t, rows in tables)
    return time.monotonic() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--levels", type=int, default=10)
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server (a schema is created and dropped)")
    args = parser.parse_args()

    admin = Database(args.url)
    if not admin.is_postgres:
        raise SystemExit("the benchmark runs on PostgreSQL")
    suffix = uuid.uuid4().hex[:8]
    names = (f"bench_import_{suffix}", f"bench_copy_{suffix}")
    importing, copying = (fresh_schema(admin, name) for name in names)
    try:
        with tempfile.TemporaryDirectory() as folder:
            store = LocalObjectStore(folder)
            batch = CatalogBatch(args.objects, args.levels, prefix="bench")
            written = time.monotonic()
            objects, links = batch.write(store, "bench")
            print(f"batch written: {objects:,} objects, {links:,} links ({time.monotonic() - written:.1f} s)")

            statements = count_statements(importing)
            state = process_batch(importing, store, "bench")
            assert state.status == "complete", state.errors
            copy_seconds, copied = copy_baseline(importing, copying)

        total = sum(statements.values())
        by_kind = ", ".join(f"{kind} {n}" for kind, n in statements.most_common())
        print(f"import: {state.seconds:.2f} s, {objects / state.seconds:,.0f} objects/s, {state.waves} waves")
        print(f"statements: {total} through SQLAlchemy ({by_kind}) + 2 COPY; {total / state.waves:.1f} per wave")
        print(f"raw COPY of the same {copied:,} final catalog rows: {copy_seconds:.2f} s")
        print(f"ratio import / raw COPY: {state.seconds / copy_seconds:.2f}x (goal <= 3x)")
    finally:
        for database, name in zip((importing, copying), names):
            drop_schema(admin, database, name)


if __name__ == "__main__":
    main()
