"""The posture part of `pipelines demo`: a realistic catalog, then refresh, export, import twice."""

from __future__ import annotations

import dagster as dg

from pipelines.core.demo import DemoContext, DemoStep
from pipelines.posture.requests import ImportConfig, ImportRequest
from pipelines.posture.sample_catalog import CatalogShape, write_catalog


def prepare(ctx: DemoContext) -> list[DemoStep]:
    shape = CatalogShape(services=ctx.count(24, minimum=2), responsibilities_per_component=12, seed=ctx.seed)
    write_catalog(ctx.database, shape)
    return [
        DemoStep(
            title="posture: refresh the aggregate, export it, import it (REPLACE_ALL)",
            selection=["responsive_responsibility_aggregate", "lite_dynamic_state_export", "lite_dynamic_state_import"],
        ),
        DemoStep(
            title="posture: import the same export again with INSERT (every object skipped)",
            selection=["lite_dynamic_state_import"],
            run_config=dg.RunConfig(ops={"lite_dynamic_state_import": ImportRequest(config=ImportConfig.INSERT)}),
        ),
    ]
