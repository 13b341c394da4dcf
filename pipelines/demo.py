"""`pipelines demo`: sample data for every domain, then every asset materialized end to end."""

from __future__ import annotations

import time
from collections.abc import Callable

from pipelines.core.demo import DemoContext
from pipelines.core.domains import domain_modules
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.core.runner import cli_instance, numeric_metadata, run_assets


def run_demo(scale: float = 1.0, seed: int = 7, echo: Callable[[str], None] = print) -> dict:
    from pipelines.definitions import defs

    definitions = defs()
    database = DatabaseResource().get_database()
    store = ObjectStoreResource().get_store()
    database.check()
    store.check()
    database.upgrade()
    echo(f"database: {database.url.render_as_string(hide_password=True)}")
    echo(f"object store: {store.describe()}")

    ctx = DemoContext(database=database, store=store, instance=cli_instance(), scale=scale, seed=seed)
    summary: dict[str, dict] = {}
    for module in domain_modules("demo"):
        for step in module.prepare(ctx):
            started = time.monotonic()
            result = run_assets(
                definitions,
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
