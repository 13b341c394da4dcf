"""The asset on a real database and object store: metadata per status, failure listing the errors."""

import dagster as dg
import pytest

from pipelines.import_batches.assets import import_batches
from pipelines.import_batches.creators import ImportCreators
from pipelines.import_batches.errors import ImportBatchError
from pipelines.import_batches.partitions import import_batch_partitions

from .conftest import catalog_roots, ci, link, put_batch


def materialize(resources, batch_id, instance):
    instance.add_dynamic_partitions(import_batch_partitions.name, [batch_id])
    return dg.materialize(
        [import_batches],
        partition_key=batch_id,
        instance=instance,
        resources={**resources, "import_creators": ImportCreators()},
    )


def test_the_asset_reports_counts_per_status_and_a_rerun_changes_nothing(resources):
    store = resources["object_store"].get_store()
    a, la = ci("a", "ci-a")
    put_batch(store, "b1", [*catalog_roots(), a], la)
    with dg.instance_for_test() as instance:
        first = materialize(resources, "b1", instance)
        again = materialize(resources, "b1", instance)

    for result in (first, again):
        metadata = result.get_asset_materialization_events()[0].materialization.metadata
        counts = {k: v.value for k, v in metadata.items() if k.startswith(("objects", "links", "waves", "status"))}
        assert counts == {
            "status": "complete",
            "objects": 4,
            "links": 3,
            "waves": 2,
            "objects_pending": 0,
            "objects_awaiting": 0,
            "objects_creating": 0,
            "objects_complete": 4,
            "objects_error": 0,
            "links_pending": 0,
            "links_awaiting": 0,
            "links_creating": 0,
            "links_complete": 3,
            "links_error": 0,
        }


def test_the_asset_fails_listing_the_batch_errors(resources):
    store = resources["object_store"].get_store()
    a, la = ci("a", "ci-a")
    put_batch(store, "b1", [*catalog_roots(), a], [*la, link("x", "ci_parent", "a", "ghost"), link("y", "ci_responsibility", "elf", "a", "Independent")])
    with dg.instance_for_test() as instance, pytest.raises(ImportBatchError) as raised:
        materialize(resources, "b1", instance)

    assert str(raised.value) == (
        "batch b1 ended in error with 2 errors: links line 5: objectId 'elf' names no object of the batch"
        " | links line 4: referenceId 'ghost' names no object of the batch"
    )


def run_check(resources, instance):
    from pipelines.import_batches.assets import import_batches_not_in_error

    result = dg.materialize(
        [import_batches, import_batches_not_in_error],
        selection=dg.AssetSelection.checks(import_batches_not_in_error),
        instance=instance,
        resources={**resources, "import_creators": ImportCreators()},
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_the_warn_check_fails_naming_the_batches_in_error_and_passes_otherwise(resources):
    store = resources["object_store"].get_store()
    a, la = ci("a", "ci-a")
    put_batch(store, "good", [*catalog_roots(), a], la)
    put_batch(store, "bad-2", [*catalog_roots(), a], [*la, link("x", "ci_parent", "a", "ghost")])
    put_batch(store, "bad-1", [catalog_roots()[0], {"pendingObjectId": "q", "objectType": "nope"}])
    with dg.instance_for_test() as instance:
        materialize(resources, "good", instance)
        passing = run_check(resources, instance)
        for batch_id in ("bad-2", "bad-1"):
            with pytest.raises(ImportBatchError):
                materialize(resources, batch_id, instance)
        failing = run_check(resources, instance)

    assert (passing.passed, passing.severity, passing.description) == (True, dg.AssetCheckSeverity.WARN, "no batch in error")
    assert (failing.passed, failing.severity, failing.description) == (
        False, dg.AssetCheckSeverity.WARN, "batches in error: bad-1, bad-2"
    )
    assert failing.metadata["batches_in_error"].value == 2
