"""`pipelines vex ...`: land documents and backfill statements by running the assets in-process."""

from __future__ import annotations

import click

from pipelines.vex.requests import DEFAULT_BATCH_SIZE, BackfillRequest, LandingRequest


@click.group("vex")
def cli() -> None:
    """VEX documents and statements."""


@cli.command("backfill-statements")
@click.option(
    "--retrieved-since", metavar="ISO8601", default=None, help="Only documents retrieved on or after (UTC by default)."
)
@click.option("--force", is_flag=True, default=False, help="Reprocess documents that were already normalized.")
@click.option("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N", help="Raw documents per batch.")
@click.option("--max-documents", type=int, default=None, metavar="N", help="Evaluate at most N raw documents.")
def backfill_statements(retrieved_since: str | None, force: bool, batch_size: int, max_documents: int | None) -> None:
    """Normalize raw documents into statements (runs the vex_statements asset)."""
    from pipelines.vex.runs import run_backfill

    request = BackfillRequest.parse(
        {"retrievedSince": retrieved_since, "force": force, "batchSize": batch_size, "maxDocuments": max_documents}
    )
    click.echo(run_backfill(request).line())


@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--provider", default=None, help="Provider of the documents (default: read from each document).")
def ingest(paths: tuple[str, ...], provider: str | None) -> None:
    """Land local VEX files, or folders of *.json files (runs the vex_raw_documents asset)."""
    from pipelines.vex.runs import run_ingest

    click.echo(run_ingest(LandingRequest.parse({"paths": list(paths), "provider": provider})))
