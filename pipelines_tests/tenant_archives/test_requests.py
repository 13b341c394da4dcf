"""The tenant-archive request models: one line naming field and value; bad config refused before a run exists."""

import dagster as dg
import pytest

from pipelines.definitions import defs as load_defs
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.requests import ArchiveRequest, RestoreRequest, RetentionRequest

defs = load_defs()
JOB_ID = "5b0c2f7e-6a58-4f1b-9d3e-2b6f0c1a9e77"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"partSizeBytes": 100}, "partSizeBytes: 100: input should be greater than or equal to 4096"),
        ({"partSizeBytes": 200_000_000}, "partSizeBytes: 200000000: input should be less than or equal to 104857600"),
        ({"jobId": "job-1"}, "jobId: 'job-1': is not a UUID"),
        ({"tenantColumn": ""}, "tenantColumn: '': is not a table or column name"),
        ({"tenantColumn": "tenant; drop"}, "tenantColumn: 'tenant; drop': is not a table or column name"),
        ({"tables": ["users", "users"]}, "tables: ['users', 'users']: names users more than once"),
        ({"tables": ["users", "a b"]}, "tables: ['users', 'a b']: is not a table or column name"),
        ({"config": "DELETE_ALL"}, "config: unknown field"),
    ],
)
def test_a_bad_archive_request_is_one_line_naming_field_and_value(data, message):
    with pytest.raises(TenantArchiveError) as raised:
        ArchiveRequest.parse(data, source="archive")
    assert str(raised.value).startswith(f"archive: {message}")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"manifestKey": "archives/a/j/manifest.json", "tenant": "../x"}, "tenant: '../x': is not a tenant name"),
        ({"manifestKey": "archives/a/j/users.csv", "tenant": "b"}, "manifestKey: 'archives/a/j/users.csv': is not the key of a manifest.json"),
        ({"tenant": "b"}, "give exactly one of manifestKey (an archive in the object store) or fromPath (files)"),
        (
            {"manifestKey": "archives/a/j/manifest.json", "fromPath": "/tmp/a.zip", "tenant": "b"},
            "give exactly one of manifestKey (an archive in the object store) or fromPath (files)",
        ),
        ({"manifestKey": "archives/a/j/manifest.json"}, "tenant: None: input should be a valid string"),
    ],
)
def test_a_bad_restore_request_is_one_line_naming_field_and_value(data, message):
    with pytest.raises(TenantArchiveError) as raised:
        RestoreRequest.parse(data)
    assert str(raised.value).startswith(message)


def test_requests_take_the_seeds_names_and_the_attribute_names():
    request = ArchiveRequest.parse({"jobId": JOB_ID.upper(), "partSizeBytes": 4096})
    assert (request.job_id, request.part_size_bytes, request.tenant_column, request.tables) == (JOB_ID, 4096, "tenant", [])
    assert ArchiveRequest(job_id=JOB_ID) == request.model_copy(update={"part_size_bytes": 100 * 1024 * 1024})
    assert RestoreRequest(from_path="/tmp/a", tenant="b").from_path == "/tmp/a"
    assert RetentionRequest().keep_last == 7
    with pytest.raises(TenantArchiveError, match=r"^keepLast: 0: input should be greater than or equal to 1$"):
        RetentionRequest.parse({"keepLast": 0})


@pytest.mark.parametrize(
    ("job", "asset", "config", "field"),
    [
        ("tenant_restore_job", "tenant_restore", {"manifestKey": "archives/a/j/users.csv", "tenant": "b"}, "manifestKey"),
        ("tenant_restore_job", "tenant_restore", {"manifestKey": "archives/a/j/manifest.json", "tenant": "a/b"}, "tenant"),
    ],
)
def test_a_bad_bound_is_refused_before_a_run_exists(job, asset, config, field):
    with dg.instance_for_test() as instance:
        with pytest.raises(dg.DagsterError) as raised:
            defs.resolve_job_def(job).execute_in_process(
                run_config={"ops": {asset: {"config": config}}}, instance=instance
            )
        assert f"ops.{asset}.config.{field}" in str(raised.value.__cause__)
        assert instance.get_runs() == []


def test_the_launchpad_refuses_unknown_fields_and_wrong_types_over_graphql():
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    import pipelines.definitions

    query = """
    query ($selector: PipelineSelector!, $runConfigData: RunConfigData) {
      isPipelineConfigValid(pipeline: $selector, mode: "default", runConfigData: $runConfigData) {
        __typename
        ... on RunConfigValidationInvalid { errors { message } }
      }
    }"""
    with dg.instance_for_test() as instance, define_out_of_process_context(
        pipelines.definitions.__file__, "defs", instance
    ) as context:
        [location] = context.code_locations
        [repository] = location.get_repositories().values()
        selector = {
            "repositoryLocationName": location.name,
            "repositoryName": repository.name,
            "pipelineName": "tenant_archive_job",
        }

        def validate(config: dict) -> dict:
            run_config = {"ops": {"tenant_archives": {"config": config}}}
            result = execute_dagster_graphql(context, query, {"selector": selector, "runConfigData": run_config})
            return result.data["isPipelineConfigValid"]

        assert validate({"partSizeBytes": 8192, "tables": ["users"]})["__typename"] == "PipelineConfigValidationValid"
        unknown = validate({"config": "DELETE_ALL"})
        wrong_type = validate({"partSizeBytes": "big"})
        assert instance.get_runs() == []
    assert unknown["__typename"] == "RunConfigValidationInvalid"
    assert 'Received unexpected config entry "config"' in unknown["errors"][0]["message"]
    assert wrong_type["__typename"] == "RunConfigValidationInvalid"
    assert wrong_type["errors"][0]["message"] == (
        'Invalid scalar at path root:ops:tenant_archives:config:partSizeBytes. '
        "Value \"big\" of type \"<class 'str'>\" is not valid for expected type \"Int\"."
    )
