"""What a domain's demo module gets and gives: `prepare(ctx) -> list[DemoStep]`.

`prepare` writes the domain's sample data (fixed seed, size set by `scale`) and returns the asset
materializations that run it end to end; `pipelines demo` runs them in order and prints a summary.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from pipelines.core.database import Database
from pipelines.core.object_store import ObjectStore


@dataclass
class DemoContext:
    database: Database
    store: ObjectStore
    instance: dg.DagsterInstance
    scale: float
    seed: int

    def rng(self, domain: str) -> random.Random:
        """A random generator per domain, so one domain's data does not shift another's."""
        return random.Random(f"{self.seed}:{domain}")

    def count(self, base: int, minimum: int = 1) -> int:
        """`base` items at scale 1, scaled and never below `minimum`."""
        return max(minimum, round(base * self.scale))


@dataclass
class DemoStep:
    title: str
    selection: list[str]
    partition_key: str | None = None
    run_config: Mapping[str, Any] | dg.RunConfig = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
