"""The vex assets in Dagster: landing from the inbox, one partition, a partition range in one run, checks."""

from __future__ import annotations

import dagster as dg
import pydantic
import pytest

from pipelines.core.runner import run_assets
from pipelines.vex.assets import FAILURES_CHECK, vex_raw_documents, vex_statements, vex_statements_have_documents
from pipelines.vex.definitions import defs
from pipelines.vex.requests import BackfillRequest
from pipelines.vex.runs import RANGE_END_TAG, RANGE_START_TAG
from pipelines_tests.vex.conftest import at, corpus_bytes, openvex_document, store_documents

ASSETS = [vex_raw_documents, vex_statements, vex_statements_have_documents]


def metadata_of(result: dg.ExecuteInProcessResult, asset: str) -> list[dict]:
    found = []
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key == dg.AssetKey(asset):
            found.append({k: v.value for k, v in materialization.metadata.items()})
    return found


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, str]]:
    return {
        evaluation.check_name: (evaluation.passed, evaluation.severity.value)
        for evaluation in result.get_asset_check_evaluations()
    }


def test_raw_documents_asset_lands_the_inbox(resources):
    store = resources["object_store"].get_store()
    store.put_bytes("vex/inbox/one.json", corpus_bytes("openvex/v0.2.0.json"))
    store.put_bytes("vex/inbox/two.json", corpus_bytes("cyclonedx/use-case-2.vex.json"))
    result = dg.materialize(ASSETS, selection=[vex_raw_documents], resources=resources)
    assert result.success
    [metadata] = metadata_of(result, "vex_raw_documents")
    assert (metadata["landed"], metadata["duplicates"], metadata["unrecognized"]) == (2, 0, 0)
    assert [info.key for info in store.list("vex/inbox/")] == []


def test_one_partition_backfills_the_documents_retrieved_that_day(resources, database):
    store_documents(database, [(openvex_document(1), at(1, 23, 59)), (openvex_document(2), at(2, 0, 0))])
    result = dg.materialize(ASSETS, selection=[vex_statements], resources=resources, partition_key="2024-03-01")
    [metadata] = metadata_of(result, "vex_statements")
    assert {k: metadata[k] for k in ("evaluated", "backfilled", "claims_written", "skipped", "failures")} == {
        "evaluated": 1, "backfilled": 1, "claims_written": 2, "skipped": 0, "failures": 0,
    }
    assert metadata["summary"] == "Backfill completed: evaluated 1, backfilled 1, claims written 2, skipped 0, failures 0."
    assert checks_of(result) == {FAILURES_CHECK: (True, "WARN"), "vex_statements_have_documents": (True, "ERROR")}


def test_a_partition_range_runs_as_one_run_with_the_config(resources, database):
    store_documents(database, [(openvex_document(n), at(1 + n)) for n in range(3)] + [(b"garbage", at(2, 13))])
    result = run_assets(
        defs,
        ["vex_statements"],
        instance=dg.DagsterInstance.ephemeral(),
        resources=resources,
        tags={RANGE_START_TAG: "2024-03-01", RANGE_END_TAG: "2024-03-03"},
        run_config=dg.RunConfig(ops={"vex_statements": BackfillRequest(batch_size=2, max_documents=3)}),
    )
    materialized = metadata_of(result, "vex_statements")
    assert len(materialized) == 3  # one materialization per partition of the single run
    assert materialized[0]["summary"] == (
        "Backfill completed: evaluated 3, backfilled 2, claims written 4, skipped 0, failures 1."
    )
    assert checks_of(result)[FAILURES_CHECK] == (False, "WARN")
    assert result.success


def test_bad_config_stops_the_run_with_the_field_named(resources):
    with pytest.raises(pydantic.ValidationError, match="batchSize\n  Input should be greater than or equal to 1"):
        run_assets(
            defs,
            ["vex_statements"],
            instance=dg.DagsterInstance.ephemeral(),
            resources=resources,
            partition_key="2024-03-01",
            run_config={"ops": {"vex_statements": {"config": {"batchSize": 0}}}},
        )


def test_a_landing_run_lists_what_it_landed_and_the_check_names_its_days(database, resources, tmp_path):
    import json as _json

    document = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/listed-1",
        "author": "Example Security",
        "timestamp": "2024-03-01T00:00:00Z",
        "version": 1,
        "statements": [
            {"vulnerability": {"name": "CVE-2024-0001"}, "products": [{"@id": "pkg:npm/a@1.0.0"}], "status": "not_affected",
             "justification": "component_not_present"}
        ],
    }
    path = tmp_path / "listed.json"
    path.write_text(_json.dumps(document))
    from pipelines.vex.definitions import defs as vex_defs
    from pipelines.vex.requests import LandingRequest

    result = dg.materialize(
        [*vex_defs.assets], selection=["vex_raw_documents"], resources=resources,
        run_config=dg.RunConfig(ops={"vex_raw_documents": LandingRequest(paths=[str(path)])}),
    )
    [event] = result.get_asset_materialization_events()
    table = event.step_materialization_data.materialization.metadata["documents_landed"].value
    lines = table.splitlines()
    assert lines[:2] == ["| digest | provider | format | source |", "|---|---|---|---|"]
    assert len(lines) == 3 and "| Example Security | openvex |" in lines[2] and lines[2].startswith("| `sha256:")
