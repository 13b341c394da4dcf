"""The launchpad (the webserver's GraphQL) refuses a bad export request before any run exists."""

from pipelines_tests.support.dagster_instance import (
    free_port,
    graphql,
    running,
    wait_for_webserver,
    webserver_args,
)

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


def test_the_launchpad_refuses_an_unknown_export_type_and_no_run_exists(tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    home = tmp_path / "dagster_home"
    home.mkdir()
    with running("webserver", webserver_args(port), {"DAGSTER_HOME": str(home)}, tmp_path) as web:
        wait_for_webserver(web, base_url)
        weekly = graphql(base_url, VALIDATE, {
            "selector": SELECTOR,
            "runConfigData": _config(exportType="WEEKLY", studyWhitelist=["s1"], endDateTime="2016-10-04T00:00:00Z"),
        })["isPipelineConfigValid"]
        good = graphql(base_url, VALIDATE, {
            "selector": SELECTOR,
            "runConfigData": _config(exportType="INSTANT", studyWhitelist=["s1"]),
        })["isPipelineConfigValid"]
        runs = graphql(base_url, "{ runsOrError { ... on Runs { results { runId } } } }")
    assert weekly["__typename"] == "RunConfigValidationInvalid"
    assert any("WEEKLY" in error["message"] for error in weekly["errors"]), weekly
    assert good["__typename"] == "PipelineConfigValidationValid"
    assert runs["runsOrError"]["results"] == []
