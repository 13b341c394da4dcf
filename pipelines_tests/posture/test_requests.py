"""The posture request models: every rule names the field and the value, in one line."""

import pytest

from pipelines.posture.errors import PostureError
from pipelines.posture.requests import ExportRequest, ImportConfig, ImportRequest


def test_no_body_or_null_service_names_mean_every_service():
    assert ExportRequest.parse(None).service_names is None
    assert ExportRequest.parse({"serviceNames": None}).service_names is None
    assert ExportRequest.parse({"serviceNames": ["a", "b"]}).service_names == ["a", "b"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "request r.json: expected a JSON object, got list []"),
        ({"serviceNames": "my-service"}, "request r.json: serviceNames: 'my-service': input should be a valid list"),
        ({"serviceNames": ["ok", 3]}, "request r.json: serviceNames.1: 3: input should be a valid string"),
        ({"serviceNames": ["ok", ""]},
         "request r.json: serviceNames.1: '': string should have at least 1 character"),
        ({"serviceName": ["ok"]}, "request r.json: serviceName: unknown field"),
    ],
    ids=["not-an-object", "not-a-list", "not-a-string", "empty-name", "unknown-field"],
)
def test_bad_export_requests_name_the_field_and_value(body, message):
    with pytest.raises(PostureError) as raised:
        ExportRequest.parse(body, source="request r.json")
    assert str(raised.value) == message


def test_import_defaults_are_the_seeds():
    request = ImportRequest.parse({})
    assert (request.config, request.batch_size, request.export_key, request.uploaded_file) == (
        ImportConfig.REPLACE_ALL, 500, None, None
    )
    assert ImportRequest.parse({"config": "INSERT", "batchSize": 100000}).config is ImportConfig.INSERT


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"config": "DELETE_ALL"}, "config: 'DELETE_ALL': input should be 'INSERT' or 'REPLACE_ALL'"),
        ({"batchSize": 0}, "batchSize: 0: input should be greater than or equal to 1"),
        ({"batchSize": 100001}, "batchSize: 100001: input should be less than or equal to 100000"),
        ({"batchSize": "many"}, "batchSize: 'many': input should be a valid integer, unable to parse string as an integer"),
        ({"exportKey": "posture/exports/a.json", "uploadedFile": "/tmp/a.json"},
         "uploadedFile: '/tmp/a.json': exportKey 'posture/exports/a.json' is set too: "
         "set exportKey or uploadedFile, not both"),
        ({"config": "UPSERT", "batchSize": -1},
         "config: 'UPSERT': input should be 'INSERT' or 'REPLACE_ALL' (and 1 more problem)"),
    ],
    ids=["config", "batch-size-low", "batch-size-high", "batch-size-text", "both-sources", "two-problems"],
)
def test_bad_import_requests_name_the_field_and_value(fields, message):
    with pytest.raises(PostureError) as raised:
        ImportRequest.parse(fields)
    assert str(raised.value) == message
