import json

import pytest

from pipelines.posture.aggregate import refresh_aggregate
from pipelines.posture.errors import PostureError
from pipelines.posture.lite_export import export_lite_dynamic_state
from pipelines.posture.requests import ExportRequest

from .conftest import lite_object


@pytest.fixture
def two_services(catalog):
    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", passing=190, failing=10)
    catalog.cirs("my-service", "security-control-002", "STAGING", "DB", passing=3)
    catalog.cirs("other-service", "security-control-001", "PRODUCTION", "SERVICE", failing=1)
    refresh_aggregate(catalog.database)
    return catalog


def test_export_writes_the_seed_document_of_every_service(database, two_services, local_store):
    result = export_lite_dynamic_state(database, local_store, ExportRequest.parse({}))

    assert result.key.startswith("posture/exports/") and result.key.endswith("Z.json")
    assert (result.objects, result.failing) == (3, 2)
    assert json.loads(local_store.get_bytes(result.key)) == {
        "liteDynamicStateObjects": [
            lite_object("my-service", "security-control-001", "FAILING", "PRODUCTION", "APP"),
            lite_object("my-service", "security-control-002", "PASSING", "STAGING", "DB"),
            lite_object("other-service", "security-control-001", "FAILING", "PRODUCTION", "SERVICE"),
        ]
    }


def test_export_filters_by_service_name(database, two_services, object_store):
    result = export_lite_dynamic_state(database, object_store, ExportRequest.parse({"serviceNames": ["other-service"]}))

    assert json.loads(object_store.get_bytes(result.key)) == {
        "liteDynamicStateObjects": [lite_object("other-service", "security-control-001", "FAILING", "PRODUCTION", "SERVICE")]
    }


def test_an_unknown_service_name_fails_the_export_before_writing(database, two_services, local_store):
    request = ExportRequest.parse({"serviceNames": ["my-service", "nope", "gone"]})
    with pytest.raises(PostureError, match=r"2 invalid field\(s\).*serviceNames\[1\] 'nope' is not a known service"):
        export_lite_dynamic_state(database, local_store, request)
    assert list(local_store.list("posture/")) == []
