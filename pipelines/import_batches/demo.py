"""Demo: a generated catalog batch (services, components, boundaries, responsibilities, component
instances in three levels, their links) dropped into the inbox, then the `import_batches` asset runs it."""

from __future__ import annotations

from pipelines.core.demo import DemoContext, DemoStep
from pipelines.import_batches.cli import ASSET
from pipelines.import_batches.partitions import import_batch_partitions
from pipelines.import_batches.sample import CatalogBatch


def prepare(ctx: DemoContext) -> list[DemoStep]:
    batch_id = f"demo-{ctx.seed}"
    objects, links = CatalogBatch(ctx.count(200, minimum=20), levels=4, prefix=f"import-demo-{ctx.seed}").write(
        ctx.store, batch_id
    )
    ctx.instance.add_dynamic_partitions(import_batch_partitions.name, [batch_id])
    return [
        DemoStep(
            title=f"import batches: batch {batch_id} ({objects} objects, {links} links) in dependency order",
            selection=[ASSET],
            partition_key=batch_id,
        )
    ]
