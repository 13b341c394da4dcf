"""`pipelines archives ...`: the seed's two calls (schedule, jobs) and the verified restore."""

from __future__ import annotations

import argparse
import json


def register(commands: argparse._SubParsersAction) -> None:
    archives = commands.add_parser("archives", help="tenant archives: backup jobs and restore")
    sub = archives.add_subparsers(dest="archives_command", required=True)

    schedule = sub.add_parser("schedule", help="schedule a backup job of a tenant (POST /backup/schedule)")
    schedule.add_argument("tenant")
    schedule.add_argument(
        "--now", action="store_true", help="archive in this process instead of leaving the job to the sensor"
    )
    schedule.set_defaults(func=_schedule)

    jobs = sub.add_parser("jobs", help="backup jobs as JSON, newest first (GET /backup/jobs)")
    jobs.add_argument("--tenant", help="only this tenant's jobs")
    jobs.set_defaults(func=_jobs)

    restore = sub.add_parser("restore", help="check an archive, then restore it as a new tenant")
    restore.add_argument("--manifest", required=True, help="object-store key of the archive's manifest.json")
    restore.add_argument("--tenant", required=True, help="the new tenant")
    restore.set_defaults(func=_restore)


def _database():
    from pipelines.core.resources import DatabaseResource

    database = DatabaseResource().get_database()
    database.check()
    return database


def _schedule(args: argparse.Namespace) -> int:
    from pipelines.tenant_archives.jobs import get_job, schedule_backup

    database = _database()
    job = schedule_backup(database, args.tenant)
    if args.now:
        from pipelines.core.runner import cli_instance, run_assets
        from pipelines.definitions import defs
        from pipelines.tenant_archives.assets import archive_run_config
        from pipelines.tenant_archives.partitions import tenants

        instance = cli_instance()
        instance.add_dynamic_partitions(tenants.name, [job.tenant])
        run_assets(
            defs(), ["tenant_archives"], instance=instance, partition_key=job.tenant,
            run_config=archive_run_config(str(job.job_id)),
        )
        job = get_job(database, job.job_id)
    print(json.dumps(job.to_dict(), indent=2))
    return 0


def _jobs(args: argparse.Namespace) -> int:
    from pipelines.tenant_archives.jobs import list_jobs

    print(json.dumps([job.to_seed() for job in list_jobs(_database(), args.tenant)], indent=2))
    return 0


def _restore(args: argparse.Namespace) -> int:
    from pipelines.core.runner import cli_instance, numeric_metadata, run_assets
    from pipelines.definitions import defs
    from pipelines.tenant_archives.assets import restore_run_config

    _database()
    result = run_assets(
        defs(), ["tenant_restore"], instance=cli_instance(), run_config=restore_run_config(args.manifest, args.tenant)
    )
    rows = numeric_metadata(result).get("tenant_restore", {}).get("rows", 0)
    print(f"restored {args.manifest} as tenant {args.tenant}: {rows} rows")
    return 0
