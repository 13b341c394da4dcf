"""`pipelines archives ...`: the seed's two calls (schedule, jobs) and the verified restore."""

from __future__ import annotations

import json

import click

from pipelines.core.database import Database


def _database() -> Database:
    from pipelines.core.resources import DatabaseResource

    database = DatabaseResource().get_database()
    database.check()
    return database


@click.group("archives")
def cli() -> None:
    """Tenant archives: backup jobs and restore."""


@cli.command()
@click.argument("tenant")
@click.option("--now", is_flag=True, help="Archive in this process instead of leaving the job to the sensor.")
def schedule(tenant: str, now: bool) -> None:
    """Schedule a backup job of TENANT (POST /backup/schedule); prints the job."""
    from pipelines.tenant_archives.jobs import get_job, schedule_backup

    database = _database()
    job = schedule_backup(database, tenant)
    if now:
        from pipelines.core.runner import cli_instance, run_assets
        from pipelines.definitions import defs
        from pipelines.tenant_archives.partitions import tenants
        from pipelines.tenant_archives.requests import ARCHIVE_ASSET, ArchiveRequest, archive_run_config

        instance = cli_instance()
        instance.add_dynamic_partitions(tenants.name, [job.tenant])
        run_assets(
            defs(), [ARCHIVE_ASSET], instance=instance, partition_key=job.tenant,
            run_config=archive_run_config(ArchiveRequest(job_id=str(job.job_id))),
        )
        job = get_job(database, job.job_id)
    click.echo(json.dumps(job.to_dict(), indent=2))


@cli.command("jobs")
@click.option("--tenant", default=None, help="Only this tenant's jobs.")
def list_backup_jobs(tenant: str | None) -> None:
    """Backup jobs as JSON, newest first (GET /backup/jobs)."""
    from pipelines.tenant_archives.jobs import list_jobs

    click.echo(json.dumps([job.to_seed() for job in list_jobs(_database(), tenant)], indent=2))


@cli.command()
@click.option("--manifest", "manifest_key", required=True, help="Object-store key of the archive's manifest.json.")
@click.option("--tenant", required=True, help="The new tenant.")
def restore(manifest_key: str, tenant: str) -> None:
    """Check an archive, then restore it as a new tenant."""
    from pipelines.core.runner import cli_instance, numeric_metadata, run_assets
    from pipelines.definitions import defs
    from pipelines.tenant_archives.requests import RESTORE_ASSET, RestoreRequest, restore_run_config

    request = RestoreRequest.parse({"manifestKey": manifest_key, "tenant": tenant}, source="restore")
    _database()
    result = run_assets(defs(), [RESTORE_ASSET], instance=cli_instance(), run_config=restore_run_config(request))
    rows = numeric_metadata(result).get(RESTORE_ASSET, {}).get("rows", 0)
    click.echo(f"restored {request.manifest_key} as tenant {request.tenant}: {rows} rows")
