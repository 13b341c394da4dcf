"""`pipelines demo`: sample data for every domain, then every asset materialized end to end."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType

from pipelines.core.demo import DemoContext
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.core.runner import cli_instance, numeric_metadata, run_assets


def _domain_demos() -> list[ModuleType]:
    # Imported here so that `pipelines --help` stays fast.
    from pipelines.import_batches import demo as import_batches_demo
    from pipelines.posture import demo as posture_demo
    from pipelines.study_exports import demo as study_exports_demo
    from pipelines.tenant_archives import demo as tenant_archives_demo
    from pipelines.vex import demo as vex_demo

    return [posture_demo, study_exports_demo, vex_demo, tenant_archives_demo, import_batches_demo]


def run_demo(scale: float = 1.0, seed: int = 7, echo: Callable[[str], None] = print) -> dict:
    from pipelines.definitions import defs

    database = DatabaseResource().get_database()
    store = ObjectStoreResource().get_store()
    database.check()
    store.check()
    database.upgrade()
    echo(f"database: {database.url.render_as_string(hide_password=True)}")
    echo(f"object store: {store.describe()}")

    ctx = DemoContext(database=database, store=store, instance=cli_instance(), scale=scale, seed=seed)
    summary: dict[str, dict] = {}
    for module in _domain_demos():
        for step in module.prepare(ctx):
            started = time.monotonic()
            result = run_assets(
                defs,
                step.selection,
                instance=ctx.instance,
                partition_key=step.partition_key,
                run_config=step.run_config,
                tags=step.tags,
            )
            metadata = numeric_metadata(result)
            summary[step.title] = metadata
            echo(f"\n{step.title}  ({time.monotonic() - started:.1f} s)")
            for asset, values in metadata.items():
                shown = ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())
                echo(f"  {asset}: {shown}")
    echo(f"\ndemo complete: {len(summary)} steps, all succeeded")
    return summary


def _fmt(value: float | int) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3f}"
