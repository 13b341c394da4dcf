"""`pipelines vex ...`: land documents and backfill statements by running the assets in-process."""

from __future__ import annotations

import json

import click

from pipelines.vex.requests import DEFAULT_BATCH_SIZE, BackfillRequest, LandingRequest, RollbackRequest


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


@cli.command("statements")
@click.argument("vulnerability_id", metavar="VULN_ID")
@click.option("--product", default=None, metavar="KEY", help="Only this product (a purl matches with or without qualifiers).")
def statements(vulnerability_id: str, product: str | None) -> None:
    """Print the consensus of a vulnerability and the statements behind it, as JSON."""
    from pipelines.vex.lookup import statements_of
    from pipelines.vex.runs import ready_database

    click.echo(json.dumps(statements_of(ready_database(), vulnerability_id, product), indent=2))


@cli.command("rollback")
@click.option("--run", "run_id", default=None, metavar="RUN_ID", help="Delete the statements this backfill run inserted.")
@click.option("--inserted-since", default=None, metavar="ISO8601", help="Delete statements inserted on or after.")
@click.option("--inserted-until", default=None, metavar="ISO8601", help="... and before this.")
@click.option("--dry-run", is_flag=True, default=False, help="Print what would be removed; remove nothing.")
def rollback(run_id: str | None, inserted_since: str | None, inserted_until: str | None, dry_run: bool) -> None:
    """Delete what a backfill inserted (raw documents stay), print it, recompute the consensus."""
    from pipelines.vex.runs import run_rollback

    request = RollbackRequest.parse(
        {"runId": run_id, "insertedSince": inserted_since, "insertedUntil": inserted_until, "dryRun": dry_run}
    )
    click.echo(json.dumps(run_rollback(request), indent=2))
