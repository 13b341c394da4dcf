"""Demo: three sample tenants, a backup job for one, its archive, and a restore as a new tenant."""

from __future__ import annotations

import sqlalchemy as sa

from pipelines.core.demo import DemoContext, DemoStep
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines.tenant_archives.jobs import schedule_backup
from pipelines.tenant_archives.manifest import manifest_key
from pipelines.tenant_archives.partitions import tenants
from pipelines.tenant_archives.requests import ArchiveRequest, RestoreRequest, archive_run_config, restore_run_config
from pipelines.tenant_archives.tables import applications

TENANTS = ("acme", "globex", "initech")


def prepare(ctx: DemoContext) -> list[DemoStep]:
    with ctx.database.begin() as conn:
        present = set(conn.scalars(sa.select(applications.c.tenant).where(applications.c.tenant.in_(TENANTS))))
    missing = [t for t in TENANTS if t not in present]
    generate_tenants(ctx.database, missing, TenantSize(users=ctx.count(50), events=ctx.count(2000)), seed=ctx.seed)
    job = schedule_backup(ctx.database, "acme")
    restored = f"acme-restored-{str(job.job_id)[:8]}"
    ctx.instance.add_dynamic_partitions(tenants.name, ["acme"])
    return [
        DemoStep(
            "tenant archives: back up tenant acme (backup job -> CSV per entity + manifest)",
            ["tenant_archives"],
            partition_key="acme",
            run_config=archive_run_config(ArchiveRequest(job_id=str(job.job_id))),
        ),
        DemoStep(
            f"tenant archives: restore acme's archive as tenant {restored} (verified first)",
            ["tenant_restore"],
            run_config=restore_run_config(RestoreRequest(manifest_key=manifest_key("acme", str(job.job_id)), tenant=restored)),
        ),
    ]
