"""The inbox sensor on a real object store: one run per new batch, partitions added, cursor kept."""

import dagster as dg

from pipelines.core.resources import ObjectStoreResource
from pipelines.import_batches.sensors import import_batches_inbox_sensor

from .conftest import catalog_roots, put_batch


def evaluate(instance, store_resource, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"object_store": store_resource})
    return import_batches_inbox_sensor(context)


def test_each_new_batch_starts_one_run_keyed_by_its_id(object_store_resource: ObjectStoreResource):
    store = object_store_resource.get_store()
    put_batch(store, "b1", catalog_roots())
    put_batch(store, "b2", catalog_roots(), fmt="csv")
    store.put_bytes("imports/inbox/b3/links.jsonl", b"")  # no objects file yet: not a whole batch
    with dg.instance_for_test() as instance:
        result = evaluate(instance, object_store_resource)
        assert sorted((r.run_key, r.partition_key) for r in result.run_requests) == [("b1", "b1"), ("b2", "b2")]
        assert [request.partition_keys for request in result.dynamic_partitions_requests] == [["b1", "b2"]]
        instance.add_dynamic_partitions("import_batches", ["b1", "b2"])

        again = evaluate(instance, object_store_resource, result.cursor)
        assert isinstance(again, dg.SkipReason)

        put_batch(store, "b3", catalog_roots())
        third = evaluate(instance, object_store_resource, result.cursor)
        assert [r.run_key for r in third.run_requests] == ["b3"]
