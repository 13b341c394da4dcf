"""The demo's study-export steps run end to end on the embedded default."""

import dagster as dg

from pipelines.core.demo import DemoContext
from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.core.runner import numeric_metadata, run_assets
from pipelines.definitions import defs as load_defs
from pipelines.study_exports import demo
from pipelines.study_exports.watermarks import read_export_times

defs = load_defs()


def test_the_demo_exports_every_step_and_runs_twice(clean_environment):
    database = DatabaseResource().get_database()
    database.upgrade()
    ctx = DemoContext(
        database=database,
        store=ObjectStoreResource().get_store(),
        instance=dg.DagsterInstance.ephemeral(),
        scale=0.5,
        seed=7,
    )
    for _ in range(2):  # a second demo on the same database starts over
        summaries = []
        for step in demo.prepare(ctx):
            result = run_assets(
                defs, step.selection, instance=ctx.instance, partition_key=step.partition_key,
                run_config=step.run_config, tags=step.tags,
            )
            summaries.append(numeric_metadata(result))
        assert len(summaries) == 4
        assert all(next(iter(s.values()))["records_exported"] > 0 for s in summaries)
    watermarks = read_export_times(database)
    assert len(watermarks) == 10 and all(t is not None for t in watermarks.values())
