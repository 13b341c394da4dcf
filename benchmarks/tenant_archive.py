"""Tenant archive and restore on PostgreSQL, beside COPY TO / COPY FROM of the same rows.

Per size: a tenant with N application events (plus a tenth as many for another tenant). Each run
measures, in the same run and on the same rows:
  - COPY TO: `COPY (SELECT * FROM t WHERE tenant = ...) TO STDOUT WITH CSV` of every entity table
    into files (the baseline of the archive);
  - archive, plain and encrypted (PIPELINES_ARCHIVE_ENCRYPTION_KEY), each in its own process
    (peak RSS from /proc/self/status VmHWM);
  - COPY FROM: those files loaded with `COPY t FROM STDIN WITH CSV` into a fresh schema, in one
    transaction (the baseline of the restore);
  - restore, plain and encrypted, each into a fresh schema, each in its own process.
Goals: archive <= 1.5x COPY TO, restore <= 1.5x COPY FROM, encryption adds <= 0.3x (of COPY).
Prints the load average beside every run, time per row and peak memory, and the disk a size takes
(source tables, files of one run), to tell whether ten times the size fits.

    .venv/bin/python benchmarks/tenant_archive.py                            # 1M events, three runs
    .venv/bin/python benchmarks/tenant_archive.py --events 100000 --runs 1   # for development
    PIPELINES_BENCH_POSTGRES_URL=postgresql://user@host/db ...               # default: the test server
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore
from pipelines.tenant_archives import tables
from pipelines.tenant_archives.archive import archive_tenant
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines.tenant_archives.requests import ArchiveRequest
from pipelines.tenant_archives.restore import restore_archive

DEFAULT_URL = os.environ.get(
    "PIPELINES_BENCH_POSTGRES_URL",
    os.environ.get("PIPELINES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
TENANT = "bench"


def _schema_url(url: str, schema: str) -> str:
    return sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


KEY = base64.b64encode(bytes(range(32))).decode()


def _in_child(*args: str, encrypted: bool) -> dict:
    """Archive or restore in a fresh process so its peak RSS is its own."""
    env = {**os.environ, "PIPELINES_ARCHIVE_ENCRYPTION_KEY": KEY} if encrypted else {
        k: v for k, v in os.environ.items() if k != "PIPELINES_ARCHIVE_ENCRYPTION_KEY"
    }
    result = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _child(mode: str, url: str, root: str, manifest_key: str = "") -> None:
    database = Database(url)
    store = LocalObjectStore(root)
    database.check()  # connected, like the baselines' connection
    started = time.monotonic()
    if mode == "archive":
        key, manifest = archive_tenant(database, store, TENANT, str(uuid.uuid4()), ArchiveRequest())
        rows = manifest.total_rows
    else:
        key, rows = manifest_key, restore_archive(database, store, manifest_key, TENANT).total_rows
    seconds = time.monotonic() - started
    print(json.dumps({"seconds": seconds, "peak_mib": _peak_rss_kib() / 1024, "rows": rows, "key": key}))


def _peak_rss_kib() -> int:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries that over from the
    parent through fork and exec, so it would show the parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _copy_to(database: Database, folder: Path) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with database.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for table in tables.ENTITY_TABLES:
            statement = f"COPY (SELECT * FROM {table.name} WHERE tenant = %s) TO STDOUT WITH CSV"
            with open(folder / f"{table.name}.csv", "wb") as sink, cursor.copy(statement, (TENANT,)) as copy:
                sink.writelines(copy)
    return time.monotonic() - started


def _copy_from(database: Database, folder: Path) -> float:
    started = time.monotonic()
    with database.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for table in tables.ENTITY_TABLES:  # parents first
            with open(folder / f"{table.name}.csv", "rb") as source, cursor.copy(f"COPY {table.name} FROM STDIN WITH CSV") as copy:
                while chunk := source.read(1024 * 1024):
                    copy.write(chunk)
    return time.monotonic() - started


@contextlib.contextmanager
def _schema(url: str) -> Iterator[Database]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = Database(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    database = Database(_schema_url(url, schema))
    try:
        database.upgrade()
        yield database
    finally:
        database.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def one_run(url: str, source: Database, tmp: Path) -> dict:
    source_url = source.url.render_as_string(hide_password=False)
    r: dict = {"load_before": _load()}
    r["copy_to"] = _copy_to(source, tmp / "copy")
    plain = _in_child("archive", source_url, str(tmp / "objects"), encrypted=False)
    sealed = _in_child("archive", source_url, str(tmp / "objects"), encrypted=True)
    r.update(rows=plain["rows"], archive=plain["seconds"], archive_peak=plain["peak_mib"],
             archive_enc=sealed["seconds"], archive_enc_peak=sealed["peak_mib"])
    with _schema(url) as target:
        r["copy_from"] = _copy_from(target, tmp / "copy")
    with _schema(url) as target:
        done = _in_child("restore", target.url.render_as_string(hide_password=False), str(tmp / "objects"), plain["key"], encrypted=False)
        r.update(restore=done["seconds"], restore_peak=done["peak_mib"])
    with _schema(url) as target:
        done = _in_child("restore", target.url.render_as_string(hide_password=False), str(tmp / "objects"), sealed["key"], encrypted=True)
        r.update(restore_enc=done["seconds"], restore_enc_peak=done["peak_mib"])
    r["load_after"] = _load()
    r["files_gib"] = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) / 2**30
    shutil.rmtree(tmp / "objects", ignore_errors=True)
    return r


def run_size(url: str, events: int, runs: int) -> list[dict]:
    with _schema(url) as database:
        started = time.monotonic()
        generate_tenants(database, [TENANT], TenantSize(users=1000, events=events, api_keys=5, report_days=365))
        generate_tenants(database, ["noise"], TenantSize(users=100, events=events // 10))
        with database.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        print(f"  generated {events:,} events in {time.monotonic() - started:.1f} s", flush=True)
        _print_disk(database)
        results = []
        for number in range(1, runs + 1):
            with tempfile.TemporaryDirectory(dir=os.environ.get("PIPELINES_BENCH_TMP")) as tmp:
                r = one_run(url, database, Path(tmp))
            results.append(r)
            _print_run(number, r)
        return results


def _print_disk(database: Database) -> None:
    """What a size takes, to tell whether ten times it fits: the source schema, and the free disk
    where the files go (one run holds COPY TO's files and two archives, and three restored copies)."""
    with database.begin() as conn:
        used = conn.scalar(sa.text(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        ))
    free = shutil.disk_usage(os.environ.get("PIPELINES_BENCH_TMP") or tempfile.gettempdir()).free
    print(f"  source tables {int(used or 0) / 2**30:.2f} GiB, free disk {free / 2**30:.0f} GiB", flush=True)


def _print_run(number: int, r: dict) -> None:
    per_row = 1e6 / r["rows"]
    print(
        f"  run {number} (load {r['load_before']} -> {r['load_after']}), {r['rows']:,} rows\n"
        f"    COPY TO {r['copy_to']:.2f} s   archive {r['archive']:.2f} s = {r['archive'] / r['copy_to']:.2f}x (goal <= 1.5x)   "
        f"encrypted {r['archive_enc']:.2f} s = {r['archive_enc'] / r['copy_to']:.2f}x, "
        f"encryption adds {(r['archive_enc'] - r['archive']) / r['copy_to']:.2f}x (goal <= 0.3x)\n"
        f"    COPY FROM {r['copy_from']:.2f} s   restore {r['restore']:.2f} s = {r['restore'] / r['copy_from']:.2f}x (goal <= 1.5x)   "
        f"encrypted {r['restore_enc']:.2f} s = {r['restore_enc'] / r['copy_from']:.2f}x, "
        f"decryption adds {(r['restore_enc'] - r['restore']) / r['copy_from']:.2f}x (goal <= 0.3x)\n"
        f"    per row: archive {r['archive'] * per_row:.2f} us, restore {r['restore'] * per_row:.2f} us   "
        f"peak RSS: archive {r['archive_peak']:.0f} MiB (encrypted {r['archive_enc_peak']:.0f}), "
        f"restore {r['restore_peak']:.0f} MiB (encrypted {r['restore_enc_peak']:.0f})   "
        f"files {r['files_gib']:.2f} GiB",
        flush=True,
    )


def main() -> None:
    if len(sys.argv) >= 5 and sys.argv[1] == "--child":
        _child(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    for events in args.events:
        print(f"tenant with {events:,} events", flush=True)
        results = run_size(args.url, events, args.runs)
        if len(results) > 1:
            ratios = {
                "archive / COPY TO": [r["archive"] / r["copy_to"] for r in results],
                "restore / COPY FROM": [r["restore"] / r["copy_from"] for r in results],
                "encryption adds (archive)": [(r["archive_enc"] - r["archive"]) / r["copy_to"] for r in results],
                "decryption adds (restore)": [(r["restore_enc"] - r["restore"]) / r["copy_from"] for r in results],
            }
            for name, values in ratios.items():
                print(f"  {name}: median {statistics.median(values):.2f}x  ({', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
