"""Generated catalog batches, for the demo, the benchmark and the tests: `objects` objects in `levels`
levels and about as many links.

Level 0 holds services, components, boundaries and responsibilities; levels 1.. hold component
instances, each with its three required Dependent links (service, component, boundary) and, from
level 2, a Dependent `ci_parent` link to an instance of the level below; Independent
`ci_responsibility` links make up the rest of the links.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pipelines.core.object_store import ObjectStore
from pipelines.import_batches.batch_files import batch_prefix

ROOT_TYPES = (("service", "svc"), ("component", "cmp"), ("boundary", "bnd"), ("responsibility", "rsp"))


@dataclass(frozen=True)
class CatalogBatch:
    objects: int
    levels: int
    prefix: str = "gen"

    @property
    def per_level(self) -> int:
        """Component instances per level: their links (3 each, +1 from level 2) about match objects."""
        return max(1, self.objects // (3 * (self.levels - 1) + (self.levels - 2) + 1))

    @property
    def instances(self) -> int:
        return self.per_level * (self.levels - 1)

    @property
    def roots(self) -> int:
        return max(len(ROOT_TYPES), self.objects - self.instances) // len(ROOT_TYPES)

    @property
    def independent_links(self) -> int:
        dependent = 3 * self.instances + self.per_level * (self.levels - 2)
        return min(self.instances, max(self.objects - dependent, 1))

    def object_records(self) -> Iterator[dict[str, Any]]:
        for object_type, short in ROOT_TYPES:
            # Services take the remainder, so that the batch has exactly `objects` objects.
            count = self.objects - self.instances - 3 * self.roots if object_type == "service" else self.roots
            for i in range(count):
                key = f"{self.prefix}-{short}-{i}"
                fields = {
                    "service": {"name": key},
                    "responsibility": {"slug": key, "title": f"Responsibility {i}"},
                }.get(object_type, {"slug": key, "name": f"{object_type} {i}"})
                yield {"pendingObjectId": f"{short}-{i}", "objectType": object_type, **fields}
        for level in range(1, self.levels):
            for j in range(self.per_level):
                yield {
                    "pendingObjectId": self._ci(level, j),
                    "objectType": "component_instance",
                    "name": f"{self.prefix}-{self._ci(level, j)}",
                }

    def link_records(self) -> Iterator[dict[str, Any]]:
        for level in range(1, self.levels):
            for j in range(self.per_level):
                ci, n = self._ci(level, j), level * self.per_level + j
                for tag, short in (("ci_service", "svc"), ("ci_component", "cmp"), ("ci_boundary", "bnd")):
                    yield _link(f"{ci}-{tag}", "Dependent", tag, ci, f"{short}-{n % self.roots}")
                if level >= 2:
                    yield _link(f"{ci}-parent", "Dependent", "ci_parent", ci, self._ci(level - 1, j))
        for k in range(self.independent_links):
            level, j = 1 + k % (self.levels - 1), (k // (self.levels - 1)) % self.per_level
            ci = self._ci(level, j)
            yield _link(f"{ci}-rsp-{k}", "Independent", "ci_responsibility", ci, f"rsp-{k % self.roots}")

    def _ci(self, level: int, j: int) -> str:
        return f"ci-{level}-{j}"

    def write(self, store: ObjectStore, batch_id: str) -> tuple[int, int]:
        """Write the batch's links then objects as JSON lines, streamed; returns (objects, links)."""
        counts = {}
        prefix = batch_prefix(batch_id)
        for kind, records in (("links", self.link_records()), ("objects", self.object_records())):
            counts[kind] = write_jsonl(store, f"{prefix}{kind}.jsonl", records)
        return counts["objects"], counts["links"]


def write_jsonl(store: ObjectStore, key: str, records: Iterator[dict[str, Any]]) -> int:
    count = 0
    with store.open_write(key) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        for record in records:
            text.write(json.dumps(record, separators=(",", ":")) + "\n")
            count += 1
        text.flush()
        text.detach()  # the store closes the stream it opened
    return count


def _link(pending_id: str, link_type: str, tag: str, child: str, parent: str) -> dict[str, Any]:
    return {"pendingLinkId": pending_id, "linkType": link_type, "linkTag": tag, "objectId": child, "referenceId": parent}
