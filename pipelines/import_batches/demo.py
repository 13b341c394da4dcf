"""Demo: a catalog batch (services, components, boundaries, responsibilities, component instances in
three levels, their links) dropped into the inbox, then the `import_batches` asset runs it."""

from __future__ import annotations

import json
from typing import Any

from pipelines.core.demo import DemoContext, DemoStep
from pipelines.import_batches.batch_files import batch_prefix
from pipelines.import_batches.cli import ASSET
from pipelines.import_batches.partitions import import_batch_partitions

LEVELS = 3


def demo_batch(ctx: DemoContext) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = ctx.rng("import_batches")
    roots = ctx.count(4, minimum=2)
    objects: list[dict[str, Any]] = []
    for i in range(roots):
        objects += [
            {"pendingObjectId": f"svc-{i}", "objectType": "service", "name": f"import-demo-service-{i}"},
            {"pendingObjectId": f"cmp-{i}", "objectType": "component", "slug": f"import-demo-{i}", "name": f"Component {i}"},
            {"pendingObjectId": f"bnd-{i}", "objectType": "boundary", "slug": f"import-demo-{i}", "name": f"Boundary {i}"},
            {"pendingObjectId": f"rsp-{i}", "objectType": "responsibility", "slug": f"import-demo-{i}", "title": f"Duty {i}"},
        ]
    links: list[dict[str, Any]] = []
    previous: list[str] = []
    for level in range(LEVELS):
        current = [f"ci-{level}-{j}" for j in range(ctx.count(10))]
        for ci in current:
            objects.append({"pendingObjectId": ci, "objectType": "component_instance", "name": f"import-demo-{ci}"})
            for tag, prefix in (("ci_service", "svc"), ("ci_component", "cmp"), ("ci_boundary", "bnd")):
                links.append(_link(f"{ci}-{tag}", "Dependent", tag, ci, f"{prefix}-{rng.randrange(roots)}"))
            if previous:
                links.append(_link(f"{ci}-parent", "Dependent", "ci_parent", ci, rng.choice(previous)))
            links.append(_link(f"{ci}-rsp", "Independent", "ci_responsibility", ci, f"rsp-{rng.randrange(roots)}"))
        previous = current
    return objects, links


def _link(pending_id: str, link_type: str, tag: str, child: str, parent: str) -> dict[str, Any]:
    return {"pendingLinkId": pending_id, "linkType": link_type, "linkTag": tag, "objectId": child, "referenceId": parent}


def prepare(ctx: DemoContext) -> list[DemoStep]:
    batch_id = f"demo-{ctx.seed}"
    objects, links = demo_batch(ctx)
    prefix = batch_prefix(batch_id)
    for kind, records in (("links", links), ("objects", objects)):
        ctx.store.put_bytes(f"{prefix}{kind}.jsonl", "".join(json.dumps(r) + "\n" for r in records).encode())
    ctx.instance.add_dynamic_partitions(import_batch_partitions.name, [batch_id])
    return [
        DemoStep(
            title=f"Import batches: batch {batch_id} ({len(objects)} objects, {len(links)} links) in dependency order",
            selection=[ASSET],
            partition_key=batch_id,
        )
    ]
