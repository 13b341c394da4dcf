"""`pipelines vex ...`: land documents and backfill statements by running the assets in-process."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    vex = commands.add_parser("vex", help="VEX documents and statements")
    sub = vex.add_subparsers(dest="vex_command", required=True)

    backfill = sub.add_parser(
        "backfill-statements", help="normalize raw documents into statements (runs the vex_statements asset)"
    )
    backfill.add_argument("--retrieved-since", metavar="ISO8601", help="only documents retrieved on or after (UTC by default)")
    backfill.add_argument("--force", action="store_true", help="reprocess documents that already have statements")
    backfill.add_argument("--batch-size", type=int, default=100, metavar="N", help="raw documents per batch (default 100)")
    backfill.add_argument("--max-documents", type=int, metavar="N", help="evaluate at most N raw documents")
    backfill.set_defaults(func=_backfill_statements)

    ingest = sub.add_parser("ingest", help="land local VEX files (runs the vex_raw_documents asset)")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files, or folders of *.json files")
    ingest.add_argument("--provider", help="provider of the documents (default: read from each document)")
    ingest.set_defaults(func=_ingest)


def _backfill_statements(args: argparse.Namespace) -> int:
    from pipelines.vex.runs import run_backfill

    print(
        run_backfill(
            retrieved_since=args.retrieved_since,
            force=args.force,
            batch_size=args.batch_size,
            max_documents=args.max_documents,
        ).line()
    )
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from pipelines.vex.runs import run_ingest

    print(run_ingest(args.paths, provider=args.provider))
    return 0

