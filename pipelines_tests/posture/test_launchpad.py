"""The launchpad refuses bad posture requests before a run exists: the webserver's GraphQL validates
the run config of `posture_refresh_export_import` with the request models."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


from pipelines_tests.support.dagster_instance import graphql

SELECTOR = {"repositoryLocationName": "pipelines", "repositoryName": "__repository__"}
JOB = {**SELECTOR, "pipelineName": "posture_refresh_export_import"}
VALIDATE = """
query($selector: PipelineSelector!, $config: RunConfigData) {
  isPipelineConfigValid(pipeline: $selector, mode: "default", runConfigData: $config) {
    __typename
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
  }
}"""
LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message causes { message } }
  }
}"""
RUNS = "{ runsOrError { __typename ... on Runs { results { runId } } } }"


def import_config(**fields: object) -> dict:
    return {"ops": {"lite_dynamic_state_import": {"config": fields}}}


def test_a_config_other_than_insert_or_replace_all_is_invalid_run_config(launchpad):
    answer = graphql(launchpad, VALIDATE, {"selector": JOB, "config": import_config(config="DELETE_ALL")})

    result = answer["isPipelineConfigValid"]
    assert result["__typename"] == "RunConfigValidationInvalid"
    [error] = result["errors"]
    assert "DELETE_ALL" in error["message"] and "ImportConfig" in error["message"]


def test_a_valid_request_is_valid_run_config(launchpad):
    answer = graphql(launchpad, VALIDATE, {"selector": JOB, "config": import_config(config="INSERT", batchSize=7)})

    assert answer["isPipelineConfigValid"]["__typename"] == "PipelineConfigValidationValid"


def test_launching_a_negative_batch_size_names_it_and_creates_no_run(launchpad):
    params = {"selector": {**SELECTOR, "jobName": JOB["pipelineName"]}, "runConfigData": import_config(batchSize=-1)}

    result = post(launchpad, LAUNCH, {"params": params})["launchRun"]

    # The request model refuses the bound while Dagster maps the run config, before a run is created.
    assert result["__typename"] == "PythonError"
    [cause] = result["causes"]
    assert "ops.lite_dynamic_state_import.config.batchSize\n  Input should be greater than or equal to 1" in cause["message"]
    assert "input_value=-1" in cause["message"]
    assert graphql(launchpad, RUNS)["runsOrError"] == {"__typename": "Runs", "results": []}


def post(base_url: str, query: str, variables: dict) -> dict:
    """The GraphQL answer's data, also when the launchpad sends it with status 500 (a PythonError)."""
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(f"{base_url}/graphql", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["data"]
    except urllib.error.HTTPError as exc:
        return json.load(exc)["data"]
