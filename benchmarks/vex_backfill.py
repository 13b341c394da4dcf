"""Benchmark of `backfill-statements` on PostgreSQL: is the database the bottleneck?

20,000 raw documents built from the public corpus (each corpus document in turn, made unique by its
own identifier field: CSAF `tracking.id`, CycloneDX `serialNumber`, OpenVEX `@id`), landed over ten
days, then, in one run:

1. parse + normalize alone (no database): documents/s, the baseline;
2. the whole backfill (keyset pages, existence check, COPY of the statements): documents/s;
   goal: within 2x of the baseline's time;
3. the same backfill again without force: every document skipped; goal: <= 0.6x of the first's time,
   zero rows inserted.

Then, for reference (where the time goes, each part alone and serially): the backfill's read of every
document (content included), and a COPY of the same statement rows into a copy of `vex_statements`
(same indexes), in writes of 1,000 documents' statements.

Last, the streamed path: one generated document of `--large-mb` MB (default 50) per format (OpenVEX,
CSAF with its product tree after the vulnerabilities, CycloneDX with 60,000 components), landed and
then backfilled with consensus, each phase in a fresh process: the peak resident memory each adds, over
the document's size (goal: at most 4x).

    .venv/bin/python benchmarks/vex_backfill.py [--documents 20000] [--batch-size 100] [--url postgresql://...]
    .venv/bin/python benchmarks/vex_backfill.py --memory-only [--large-mb 50] [--large-formats csaf,cyclonedx]

The URL defaults to $PIPELINES_TEST_POSTGRES_URL (else postgresql://postgres@127.0.0.1:5432/test); the
run works in a fresh schema and drops it at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.vex import backfill
from pipelines.vex.backfill import STATEMENT_COLUMNS, Window, backfill_statements, statement_rows
from pipelines.vex.consensus import recompute_pending
from pipelines.vex.ingest import RawDocument, land, land_paths, raw_document
from pipelines.vex.normalizers import Normalized, normalize_document
from pipelines.vex.requests import BackfillRequest, ConsensusPolicy
from pipelines.vex.tables import vex_statements

REPO = Path(__file__).resolve().parents[1]


def corpus_dir() -> Path:
    for candidate in (REPO / ".." / "shared" / "corpora" / "vex", Path("/work/shared/corpora/vex")):
        if candidate.is_dir():
            return candidate.resolve()
    sys.exit("the VEX corpus is missing: expected ../shared/corpora/vex next to the repository")


def build_documents(count: int) -> list[RawDocument]:
    templates = [json.loads(p.read_bytes()) for p in sorted(corpus_dir().rglob("*.json"))]
    start = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
    documents = []
    for number in range(count):
        document = json.loads(json.dumps(templates[number % len(templates)]))
        if "document" in document:
            document["document"]["tracking"]["id"] += f"-{number}"
        elif document.get("bomFormat") == "CycloneDX":
            document["serialNumber"] = f"urn:uuid:{uuid.UUID(int=number)}"
        else:
            document["@id"] += f"-{number}"
        retrieved_at = start + dt.timedelta(seconds=number * 864_000 // count)
        documents.append(raw_document(json.dumps(document, indent=2).encode(), f"bench://{number}", retrieved_at))
    return documents


def fresh_schema(url: str) -> tuple[Database, str]:
    schema = f"bench_vex_{uuid.uuid4().hex[:8]}"
    with Database(url).begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    database = Database(scoped.render_as_string(hide_password=False))
    database.upgrade()
    return database, schema


def read_alone(database: Database, batch_size: int) -> float:
    """Seconds to read every document the way the backfill does (`force`: the content of all of them)."""
    started = time.perf_counter()
    with database.engine.connect() as reader:
        for _page in backfill._pages(reader, BackfillRequest(force=True, batch_size=batch_size), Window()):
            pass
    return time.perf_counter() - started


def copy_alone(database: Database, documents: list[RawDocument]) -> tuple[int, float]:
    """Statement rows and seconds to COPY them, normalized beforehand, into a copy of `vex_statements`."""
    inserted_at = dt.datetime.now(dt.timezone.utc)
    writes: list[list[tuple]] = []
    for start in range(0, len(documents), 1000):
        rows = []
        for document in documents[start : start + 1000]:
            result = normalize_document(document.content, document.format)
            assert isinstance(result, Normalized), result
            rows += statement_rows(document, result, inserted_at, "bench")
        writes.append(rows)
    scratch = vex_statements.to_metadata(sa.MetaData(), name="bench_statements_copy")
    with database.begin() as conn:
        conn.execute(sa.text("CREATE TABLE bench_statements_copy (LIKE vex_statements INCLUDING ALL)"))
    started = time.perf_counter()
    for rows in writes:
        with database.begin() as conn:
            database.bulk_insert(conn, scratch, rows, columns=STATEMENT_COLUMNS)
    return sum(map(len, writes)), time.perf_counter() - started


def backfill_with_consensus(database: Database, batch_size: int):
    started = time.perf_counter()
    summary = backfill_statements(database, BackfillRequest(batch_size=batch_size))
    consensus = recompute_pending(database, ConsensusPolicy())
    return summary, consensus, time.perf_counter() - started


def large_openvex(path: Path, megabytes: int) -> int:
    """An OpenVEX document of about `megabytes` MB, as a distribution publishes for its images: each
    statement names five of 485 image products (three subcomponents each) for one vulnerability,
    with impact and action text; the same products recur across vulnerabilities. Returns its size."""
    with path.open("w") as out:
        out.write('{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/large", '
                  '"author": "Bench PSIRT", "timestamp": "2024-03-01T00:00:00Z", "statements": [')
        number = 0
        while out.tell() < megabytes * 1_000_000:
            statement = {
                "vulnerability": {"name": f"CVE-2024-{number:06d}", "aliases": [f"GHSA-{number:06d}"]},
                "products": [{"@id": f"pkg:oci/image-{k}-{number % 97}@sha256%3A{number % 97:064x}",
                              "subcomponents": [{"@id": f"pkg:golang/example.com/mod{k}{j}@v1.{number % 50}.0"}
                                                for j in range(3)]} for k in range(5)],
                "status": ("not_affected", "affected", "fixed", "under_investigation")[number % 4],
                "impact_statement": "The vulnerable function is not reachable from any entry point of the image.",
                "action_statement": "Rebuild the image with the patched module and redeploy.",
                "timestamp": "2024-03-01T00:00:00Z",
            }
            if number % 4 == 0:
                statement["justification"] = "vulnerable_code_not_in_execute_path"
            out.write(("," if number else "") + json.dumps(statement))
            number += 1
        out.write("]}")
        return out.tell()


def large_csaf(path: Path, megabytes: int) -> int:
    """A CSAF VEX document of about `megabytes` MB in the shape of a distribution's advisories: a
    product tree (vendor > product family > product name branches for 40 platforms, vendor >
    architecture > product version branches for 2,000 packages with purls, 3 levels deep) and one
    `default_component_of` relationship per package and platform, written after the vulnerabilities
    (so a reader in one pass would meet every product id before its product). Each vulnerability
    names 1,000 of the relationships' products in its statuses, remediations, threats and scores."""
    platforms = [(f"AppStream-8.{p}.0.Z.EUS", f"Enterprise Linux AppStream EUS (v.8.{p})", f"cpe:/a:example:el_eus:8.{p}::appstream")
                 for p in range(40)]
    packages = [(f"pkg{n}-1:{n % 30}.{n % 7}.{n % 11}-1.el8.x86_64",
                 f"pkg:rpm/example/pkg{n}@{n % 30}.{n % 7}.{n % 11}-1.el8?arch=x86_64&epoch=1") for n in range(2000)]
    tree = {
        "branches": [{"category": "vendor", "name": "Example", "branches": [
            {"category": "product_family", "name": "Enterprise Linux", "branches": [
                {"category": "product_name", "name": name, "product": {
                    "name": name, "product_id": pid, "product_identification_helper": {"cpe": cpe}}}
                for pid, name, cpe in platforms]},
            {"category": "architecture", "name": "x86_64", "branches": [
                {"category": "product_version", "name": pid, "product": {
                    "name": pid, "product_id": pid, "product_identification_helper": {"purl": purl}}}
                for pid, purl in packages]},
        ]}],
        "relationships": [
            {"category": "default_component_of", "product_reference": pid, "relates_to_product_reference": platform,
             "full_product_name": {"name": f"{pid} as a component of {name}", "product_id": f"{platform}:{pid}"}}
            for platform, name, _ in platforms for pid, _purl in packages
        ],
    }
    tree_text = json.dumps(tree)
    related = [f"{platform}:{pid}" for platform, _, _ in platforms for pid, _ in packages]
    with path.open("w") as out:
        out.write('{"document": {"category": "csaf_vex", "csaf_version": "2.0", "title": "Bench VEX", '
                  '"publisher": {"category": "vendor", "name": "Bench PSIRT", "namespace": "https://example.com"}, '
                  '"tracking": {"id": "BENCH-VEX-1", "current_release_date": "2024-03-01T00:00:00Z", '
                  '"initial_release_date": "2024-03-01T00:00:00Z", "status": "final", "version": "1"}}, '
                  '"vulnerabilities": [')
        number = 0
        while out.tell() + len(tree_text) < megabytes * 1_000_000:
            named = [related[(number * 1000 + k * 79) % len(related)] for k in range(1000)]
            fixed, affected, not_affected = named[:600], named[600:800], named[800:]
            vulnerability = {
                "cve": f"CVE-2024-{number:06d}",
                "cwe": {"id": "CWE-400", "name": "Uncontrolled Resource Consumption"},
                "notes": [{"category": "description", "text": "A flaw was found in a parser: a crafted input "
                           "exhausts memory.", "title": "Vulnerability description"}],
                "product_status": {"fixed": fixed, "known_affected": affected, "known_not_affected": not_affected},
                "flags": [{"label": "vulnerable_code_not_in_execute_path", "product_ids": not_affected,
                           "date": "2024-03-01T00:00:00Z"}],
                "remediations": [{"category": "vendor_fix", "details": "Update to the fixed packages.",
                                  "product_ids": fixed, "url": "https://example.com/errata/1"},
                                 {"category": "none_available", "details": "Affected, fix deferred.",
                                  "product_ids": affected}],
                "threats": [{"category": "impact", "details": "Moderate", "product_ids": named}],
                "scores": [{"cvss_v3": {"baseScore": 5.3, "baseSeverity": "MEDIUM", "version": "3.1",
                                        "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"},
                            "products": fixed + affected}],
            }
            out.write(("," if number else "") + json.dumps(vulnerability))
            number += 1
        out.write('], "product_tree": ' + tree_text + "}")
        return out.tell()


def large_cyclonedx(path: Path, megabytes: int) -> int:
    """A CycloneDX 1.6 SBOM with VEX of about `megabytes` MB: 60,000 components (hashes, licenses,
    external references; one in ten with a nested component), then vulnerabilities, each affecting
    eight components (two through a BOM-Link to this BOM, one with `versions[]`), with ratings and an
    analysis whose `response` is a list."""
    serial = "3e671687-395b-41f5-a30f-a58921a69b79"
    with path.open("w") as out:
        out.write('{"bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": "urn:uuid:%s", "version": 1, '
                  '"metadata": {"timestamp": "2024-03-01T00:00:00Z", "supplier": {"name": "Bench PSIRT"}, '
                  '"component": {"bom-ref": "app", "type": "application", "name": "app", "version": "1.0"}}, '
                  '"components": [' % serial)
        count = 60_000
        for n in range(count):
            component = {
                "type": "library", "bom-ref": f"pkg:maven/org.example/lib{n}@{n % 9}.{n % 5}.0", "group": "org.example",
                "name": f"lib{n}", "version": f"{n % 9}.{n % 5}.0", "purl": f"pkg:maven/org.example/lib{n}@{n % 9}.{n % 5}.0",
                "hashes": [{"alg": "SHA-256", "content": f"{n:064x}"}],
                "licenses": [{"license": {"id": "Apache-2.0"}}],
                "externalReferences": [{"type": "vcs", "url": f"https://example.com/lib{n}.git"}],
            }
            if n % 10 == 0:
                component["components"] = [{"type": "library", "bom-ref": f"shaded-{n}", "name": f"shaded{n}",
                                            "version": "0.1", "purl": f"pkg:maven/org.example/shaded{n}@0.1"}]
            out.write(("," if n else "") + json.dumps(component))
        out.write('], "vulnerabilities": [')
        number = 0
        states = ("not_affected", "exploitable", "resolved", "in_triage")
        while out.tell() < megabytes * 1_000_000:
            refs = [f"pkg:maven/org.example/lib{(number * 8 + k) % count}@{((number * 8 + k) % count) % 9}."
                    f"{((number * 8 + k) % count) % 5}.0" for k in range(8)]
            affects = [{"ref": ref} for ref in refs[:5]]
            affects += [{"ref": f"urn:cdx:{serial}/1#{ref}"} for ref in refs[5:7]]
            affects.append({"ref": refs[7], "versions": [{"version": "1.0.0", "status": "affected"},
                                                         {"range": "vers:maven/>=2.0.0|<2.4.1", "status": "unaffected"}]})
            state = states[number % 4]
            vulnerability = {
                "bom-ref": f"vuln-{number}", "id": f"CVE-2024-{number:06d}",
                "source": {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/CVE-2024-{number:06d}"},
                "references": [{"id": f"GHSA-{number:06d}", "source": {"name": "GitHub"}}],
                "ratings": [{"source": {"name": "NVD"}, "score": 7.5, "severity": "high", "method": "CVSSv31",
                             "vector": "AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
                "cwes": [400],
                "description": "A crafted input exhausts memory in the parser.",
                "recommendation": "Upgrade to the fixed release.",
                "updated": "2024-03-01T00:00:00Z",
                "analysis": {"state": state, "response": ["update", "workaround_available"],
                             "detail": "The parser is reachable from the public API."},
                "affects": affects,
            }
            if state == "not_affected":
                vulnerability["analysis"]["justification"] = "code_not_reachable"
            out.write(("," if number else "") + json.dumps(vulnerability))
            number += 1
        out.write("]}")
        return out.tell()


LARGE_DOCUMENTS = {"openvex": large_openvex, "csaf": large_csaf, "cyclonedx": large_cyclonedx}


def _status_kb(field: str) -> int:
    """A `/proc/self/status` figure (`VmRSS`, `VmHWM`), in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def memory_phase(args: argparse.Namespace) -> int:
    """In a fresh process: the peak resident memory added by landing (or backfilling) one document.

    Measured as this process's resident high-water mark (`VmHWM`, reset to the resident memory
    after the imports through `/proc/self/clear_refs`) minus the resident memory then. Not
    `getrusage`'s `ru_maxrss`: Linux carries it over from the forking parent, so a child started
    by a parent holding hundreds of MB would report the parent's size."""
    scoped = sa.make_url(args.url).update_query_dict({"options": f"-csearch_path={args.memory_schema}"})
    database = Database(scoped.render_as_string(hide_password=False))
    database.check()
    before = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again from now
    if args.memory_phase == "land":
        land_paths(database, [args.memory_file], provider="Bench PSIRT")
    else:
        summary = backfill_statements(database, BackfillRequest())
        recompute_pending(database, ConsensusPolicy())
        assert summary.failures == 0 and summary.claims_written > 0, summary
        print(f"statements {summary.claims_written}")
    print((_status_kb("VmHWM") - before) * 1024)
    return 0


def large_document_memory(url: str, megabytes: int, formats: list[str]) -> bool:
    """Peak memory of landing and of backfilling one large document of each format, each phase in a
    fresh process (and each document in a fresh schema)."""
    import subprocess
    import tempfile

    ok = True
    for format in formats:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"large-{format}.json"
            size = LARGE_DOCUMENTS[format](path, megabytes)
            database, schema = fresh_schema(url)
            try:
                peaks, statements = {}, 0
                for phase in ("land", "backfill"):
                    started = time.perf_counter()
                    out = subprocess.run(
                        [sys.executable, __file__, "--url", url, "--memory-phase", phase, "--memory-file", str(path),
                         "--memory-schema", schema],
                        check=True, capture_output=True, text=True,
                    ).stdout.strip().splitlines()
                    peaks[phase] = (int(out[-1]), time.perf_counter() - started)
                    if phase == "backfill":
                        statements = int(out[-2].split()[-1])
            finally:
                database.dispose()
                with Database(url).begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        for phase, (peak, seconds) in peaks.items():
            ratio = peak / size
            ok = ok and ratio <= 4
            what = f"{statements:,} statements, " if phase == "backfill" else ""
            print(f"{size / 1e6:.0f} MB {format} document, {phase} ({what}{seconds:.1f} s): peak memory "
                  f"+{peak / 1e6:.0f} MB = {ratio:.2f}x its size (goal <= 4x): {'met' if ratio <= 4 else 'NOT met'}")
    print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--url", default=os.environ.get("PIPELINES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--large-mb", type=int, default=50, help="size of the streamed documents (0: skip)")
    parser.add_argument("--large-formats", default="openvex,csaf,cyclonedx",
                        help="the formats of the streamed documents measured, comma-separated")
    parser.add_argument("--memory-only", action="store_true", help="measure the streamed documents only")
    parser.add_argument("--memory-phase", choices=("land", "backfill"), help=argparse.SUPPRESS)
    parser.add_argument("--memory-file", help=argparse.SUPPRESS)
    parser.add_argument("--memory-schema", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_phase:
        return memory_phase(args)
    formats = [f for f in args.large_formats.split(",") if f]
    if unknown := set(formats) - set(LARGE_DOCUMENTS):
        parser.error(f"--large-formats: unknown {', '.join(sorted(unknown))}; expected {', '.join(LARGE_DOCUMENTS)}")
    if args.memory_only:
        return 0 if large_document_memory(args.url, args.large_mb, formats) else 1

    documents = build_documents(args.documents)
    database, schema = fresh_schema(args.url)
    try:
        started = time.perf_counter()
        land(database, documents, batch_size=500)
        landing = time.perf_counter() - started

        started = time.perf_counter()
        statements = 0
        for document in documents:
            result = normalize_document(document.content, document.format)
            statements += len(result.statements) if isinstance(result, Normalized) else 0
        baseline = time.perf_counter() - started

        first, first_consensus, first_seconds = backfill_with_consensus(database, args.batch_size)
        with database.begin() as conn:
            rows_after_first = conn.scalar(sa.select(sa.func.count()).select_from(vex_statements))
        second, second_consensus, second_seconds = backfill_with_consensus(database, args.batch_size)
        with database.begin() as conn:
            rows_after_second = conn.scalar(sa.select(sa.func.count()).select_from(vex_statements))

        reading = read_alone(database, args.batch_size)
        copied, copying = copy_alone(database, documents)
    finally:
        database.dispose()
        with Database(args.url).begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))

    n = len(documents)
    whole_ratio = first_seconds / baseline
    second_ratio = second_seconds / first_seconds
    print(f"documents: {n:,} from the corpus shapes, {statements:,} statements; landed in {landing:.1f} s")
    print(f"parse + normalize alone:  {n / baseline:>10,.0f} documents/s  ({baseline:.2f} s)")
    print(f"whole backfill + consensus:{n / first_seconds:>9,.0f} documents/s  ({first_seconds:.2f} s; "
          f"consensus of {first_consensus.pairs:,} pairs {first_consensus.seconds:.2f} s)")
    print(f"  {first.line()}")
    print(f"second backfill, no force:{n / second_seconds:>10,.0f} documents/s  ({second_seconds:.2f} s; "
          f"consensus of {second_consensus.pairs:,} pairs)")
    print(f"  {second.line()}")
    print("for reference, each part alone:")
    print(f"  read every document:    {n / reading:>10,.0f} documents/s  ({reading:.2f} s)")
    print(f"  COPY the statement rows:{copied / copying:>10,.0f} rows/s       ({copying:.2f} s)")
    print(f"  parse+normalize + read + COPY, one after another: {baseline + reading + copying:.2f} s")
    print(f"whole / parse+normalize time: {whole_ratio:.2f}x (goal <= 2.2x): {'met' if whole_ratio <= 2.2 else 'NOT met'}")
    print(f"second / first time:          {second_ratio:.2f}x (goal <= 0.6x): {'met' if second_ratio <= 0.6 else 'NOT met'}")
    inserted = rows_after_second - rows_after_first
    print(f"rows inserted by the second backfill: {inserted} (goal 0): {'met' if inserted == 0 and second.claims_written == 0 else 'NOT met'}")
    print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")
    memory_ok = True
    if args.large_mb:
        memory_ok = large_document_memory(args.url, args.large_mb, formats)
    ok = memory_ok and whole_ratio <= 2.2 and second_ratio <= 0.6 and inserted == 0 and first.claims_written == statements
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
