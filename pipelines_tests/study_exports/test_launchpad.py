"""The launchpad (the webserver's GraphQL) refuses a bad export request before any run exists."""

from pipelines_tests.support.dagster_instance import graphql

VALIDATE = """
query Validate($selector: PipelineSelector!, $runConfigData: RunConfigData) {
  isPipelineConfigValid(pipeline: $selector, mode: "default", runConfigData: $runConfigData) {
    __typename
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
SELECTOR = {
    "repositoryLocationName": "pipelines",
    "repositoryName": "__repository__",
    "pipelineName": "study_exports_instant_job",
}


def _config(**fields):
    return {"ops": {"study_exports_on_request": {"config": fields}}}


def test_the_launchpad_refuses_an_unknown_export_type_and_no_run_exists(launchpad):
    weekly = graphql(launchpad, VALIDATE, {
        "selector": SELECTOR,
        "runConfigData": _config(exportType="WEEKLY", studyWhitelist=["s1"], endDateTime="2016-10-04T00:00:00Z"),
    })["isPipelineConfigValid"]
    good = graphql(launchpad, VALIDATE, {
        "selector": SELECTOR,
        "runConfigData": _config(exportType="INSTANT", studyWhitelist=["s1"]),
    })["isPipelineConfigValid"]
    runs = graphql(launchpad, "{ runsOrError { ... on Runs { results { runId } } } }")
    assert weekly["__typename"] == "RunConfigValidationInvalid"
    assert any("WEEKLY" in error["message"] for error in weekly["errors"]), weekly
    assert good["__typename"] == "PipelineConfigValidationValid"
    assert runs["runsOrError"]["results"] == []
