"""The vex sensors: new raw documents -> statement runs for their days; the same tick twice asks for
the same runs (same run keys) and, once the cursor moved, for nothing."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from pipelines.core.resources import DatabaseResource, ObjectStoreResource
from pipelines.vex.sensors import vex_inbox_sensor, vex_raw_documents_sensor
from pipelines_tests.vex.conftest import at, openvex_document, store_documents


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def tick(sensor, instance, resources: dict, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    return sensor(context)


def requested(result) -> list[tuple[str | None, str]]:
    return [(request.partition_key, request.run_key) for request in result.run_requests]


def test_new_documents_request_runs_for_their_partitions_once(database, instance):
    resources = {"database": DatabaseResource(url=database.url.render_as_string(hide_password=False))}
    raws = store_documents(
        database,
        [(openvex_document(1), at(1, 9)), (openvex_document(2), at(1, 13)), (openvex_document(3), at(3, 8, 30))],
    )
    hexes = [raw.digest.removeprefix("sha256:")[:16] for raw in raws]

    first = tick(vex_raw_documents_sensor, instance, resources, None)
    assert requested(first) == [
        ("2024-03-01", f"vex_statements:2024-03-01:2024-03-01T13:00:00+00:00:{hexes[1]}"),
        ("2024-03-03", f"vex_statements:2024-03-03:2024-03-03T08:30:00+00:00:{hexes[2]}"),
    ]
    assert json.loads(first.cursor) == {"retrieved_at": "2024-03-03T08:30:00+00:00", "digest": raws[2].digest}

    # The same tick again (cursor not yet stored) asks for the very same runs: Dagster starts none twice.
    assert requested(tick(vex_raw_documents_sensor, instance, resources, None)) == requested(first)
    # From the stored cursor there is nothing new.
    assert isinstance(tick(vex_raw_documents_sensor, instance, resources, first.cursor), dg.SkipReason)

    later = store_documents(database, [(openvex_document(4), at(3, 9))])
    second = tick(vex_raw_documents_sensor, instance, resources, first.cursor)
    assert requested(second) == [
        ("2024-03-03", f"vex_statements:2024-03-03:2024-03-03T09:00:00+00:00:{later[0].digest.removeprefix('sha256:')[:16]}")
    ]


def test_no_documents_is_a_skip(database, instance):
    resources = {"database": DatabaseResource(url=database.url.render_as_string(hide_password=False))}
    result = tick(vex_raw_documents_sensor, instance, resources, None)
    assert isinstance(result, dg.SkipReason)


def test_the_inbox_sensor_requests_one_landing_per_inbox_content(instance, tmp_path):
    resource = ObjectStoreResource(root=str(tmp_path / "objects"))
    resources = {"object_store": resource}
    assert isinstance(tick(vex_inbox_sensor, instance, resources, None), dg.SkipReason)

    resource.get_store().put_bytes("vex/inbox/x.json", openvex_document(1))
    first = tick(vex_inbox_sensor, instance, resources, None)
    [request] = first.run_requests
    assert request.run_key == f"vex-inbox-{first.cursor}"
    assert requested(tick(vex_inbox_sensor, instance, resources, None)) == requested(first)
    assert isinstance(tick(vex_inbox_sensor, instance, resources, first.cursor), dg.SkipReason)

    resource.get_store().put_bytes("vex/inbox/y.json", openvex_document(2))
    second = tick(vex_inbox_sensor, instance, resources, first.cursor)
    assert len(second.run_requests) == 1 and second.run_requests[0].run_key != request.run_key
