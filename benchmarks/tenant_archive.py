"""Tenant archive on PostgreSQL: a tenant with N application events, archived to a local object store.

Prints, per size: the archive's time and peak memory (each archive runs in its own process, peak
RSS from /proc/self/status VmHWM), and in the same run the time of plain `COPY (SELECT * ...) TO STDOUT WITH CSV`
of the same rows into a file and of pandas `read_sql` + `to_csv`. Goals: archive <= 1.5x COPY, and
peak memory at the largest size within 1.2x of the smallest.

    .venv/bin/python benchmarks/tenant_archive.py                       # 100k and 1M events
    .venv/bin/python benchmarks/tenant_archive.py --events 100000       # one size, for development
    PIPELINES_BENCH_POSTGRES_URL=postgresql://user@host/db ...          # default: the test server
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore
from pipelines.tenant_archives import tables
from pipelines.tenant_archives.archive import archive_tenant
from pipelines.tenant_archives.requests import ArchiveRequest
from pipelines.tenant_archives.generate import TenantSize, generate_tenants

DEFAULT_URL = os.environ.get(
    "PIPELINES_BENCH_POSTGRES_URL",
    os.environ.get("PIPELINES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
TENANT = "bench"


def _schema_url(url: str, schema: str) -> str:
    return sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def _archive_in_child(url: str, root: str) -> dict:
    """Archive in a fresh process so its peak RSS is the archive's own."""
    result = subprocess.run(
        [sys.executable, __file__, "--child", url, root], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _child(url: str, root: str) -> None:
    database = Database(url)
    store = LocalObjectStore(root)
    database.check()  # connected, like the baselines' connection
    started = time.monotonic()
    _, manifest = archive_tenant(database, store, TENANT, str(uuid.uuid4()), ArchiveRequest())
    seconds = time.monotonic() - started
    print(json.dumps({"seconds": seconds, "peak_mib": _peak_rss_kib() / 1024, "rows": manifest.total_rows,
                      "bytes": manifest.total_bytes, "files": len(manifest.files)}))


def _peak_rss_kib() -> int:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries that over from the
    parent through fork and exec, so it would show the parent's peak (e.g. after pandas)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _copy_baseline(database: Database, out: Path) -> float:
    started = time.monotonic()
    with database.begin() as conn, open(out, "wb") as sink:
        cursor = conn.connection.driver_connection.cursor()
        for table in tables.ENTITY_TABLES:
            statement = f"COPY (SELECT * FROM {table.name} WHERE tenant = %s) TO STDOUT WITH CSV"
            with cursor.copy(statement, (TENANT,)) as copy:
                for data in copy:
                    sink.write(data)
    return time.monotonic() - started


def _pandas_baseline(database: Database, out: Path) -> float:
    import pandas as pd

    started = time.monotonic()
    with database.begin() as conn:
        for table in tables.ENTITY_TABLES:
            frame = pd.read_sql(sa.select(table).where(table.c.tenant == TENANT), conn)
            frame.to_csv(out, mode="a", index=False)
    return time.monotonic() - started


def run_size(url: str, events: int) -> dict:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = Database(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    database = Database(_schema_url(url, schema))
    try:
        database.upgrade()
        started = time.monotonic()
        generate_tenants(database, [TENANT], TenantSize(users=1000, events=events, api_keys=5, report_days=365))
        generate_tenants(database, ["noise"], TenantSize(users=100, events=events // 10))
        with database.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        print(f"  generated {events:,} events in {time.monotonic() - started:.1f} s", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            archive = _archive_in_child(database.url.render_as_string(hide_password=False), f"{tmp}/objects")
            copy_seconds = _copy_baseline(database, Path(tmp, "copy.csv"))
            copy_bytes = Path(tmp, "copy.csv").stat().st_size
            pandas_seconds = _pandas_baseline(database, Path(tmp, "pandas.csv"))
        return {"events": events, **archive, "copy_seconds": copy_seconds, "copy_bytes": copy_bytes,
                "pandas_seconds": pandas_seconds}
    finally:
        database.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    results = []
    for events in args.events:
        print(f"tenant with {events:,} events", flush=True)
        r = run_size(args.url, events)
        results.append(r)
        print(
            f"  archive {r['seconds']:.2f} s ({r['rows']:,} rows, {r['files']} files, {r['bytes'] / 1e6:.1f} MB), "
            f"peak RSS {r['peak_mib']:.0f} MiB\n"
            f"  COPY TO STDOUT WITH CSV {r['copy_seconds']:.2f} s ({r['copy_bytes'] / 1e6:.1f} MB)   "
            f"pandas read_sql + to_csv {r['pandas_seconds']:.2f} s\n"
            f"  archive / COPY = {r['seconds'] / r['copy_seconds']:.2f}x (goal <= 1.5x)   "
            f"pandas / COPY = {r['pandas_seconds'] / r['copy_seconds']:.2f}x",
            flush=True,
        )
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(
            f"peak memory {large['events']:,} / {small['events']:,} events: "
            f"{large['peak_mib']:.0f} / {small['peak_mib']:.0f} MiB = {large['peak_mib'] / small['peak_mib']:.2f}x "
            "(goal <= 1.2x)"
        )


if __name__ == "__main__":
    main()
