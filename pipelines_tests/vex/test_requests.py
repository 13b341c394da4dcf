"""The vex request models: every rule names the field (as the seed spells it) and the value, and the
launchpad refuses a bad bound before a run exists."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from dagster._core.execution.api import create_execution_plan

from pipelines.definitions import defs as code_location
from pipelines.vex.errors import VexError
from pipelines.vex.requests import BackfillRequest, LandingRequest, RollbackRequest

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"batchSize": 0}, "batchSize: 0: input should be greater than or equal to 1"),
        ({"batchSize": 10_001}, "batchSize: 10001: input should be less than or equal to 10000"),
        ({"batchSize": "many"}, "batchSize: 'many': input should be a valid integer"),
        ({"maxDocuments": -1}, "maxDocuments: -1: input should be greater than or equal to 0"),
        ({"retrievedSince": "last week"}, "retrievedSince: 'last week': is not an ISO 8601 timestamp"),
        ({"force": "sometimes"}, "force: 'sometimes': input should be a valid boolean"),
        ({"batch": 5}, "batch: unknown field"),
    ],
)
def test_a_bad_backfill_request_is_one_line_naming_field_and_value(data, message):
    with pytest.raises(VexError) as raised:
        BackfillRequest.parse(data)
    assert str(raised.value).startswith(message)


def test_retrieved_since_is_utc_unless_it_names_a_zone():
    assert BackfillRequest.parse({"retrievedSince": "2024-03-01T06:00:00"}).since == dt.datetime(
        2024, 3, 1, 6, tzinfo=UTC
    )
    request = BackfillRequest.parse({"retrievedSince": "2024-03-01T06:00:00+02:00"})
    assert request.retrieved_since == "2024-03-01T04:00:00+00:00"
    assert BackfillRequest.parse({}).since is None


def test_the_backfill_defaults_are_the_runbooks():
    request = BackfillRequest.parse({})
    assert (request.force, request.batch_size, request.max_documents, request.retrieved_since) == (
        False, 100, None, None
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"prefix": "/etc/"}, "prefix: '/etc/': is not a relative object-store prefix"),
        ({"prefix": "vex/../../etc/"}, "prefix: 'vex/../../etc/': is not a relative object-store prefix"),
        ({"prefix": "vex//inbox/"}, "prefix: 'vex//inbox/': is not a relative object-store prefix"),
        ({"provider": "   "}, "provider: '   ': must be 1 to 200 characters"),
        ({"provider": "bad\udcff"}, "provider: 'bad\\udcff': is not valid UTF-8 text"),
        ({"paths": "one.json"}, "paths: 'one.json': input should be a valid list"),
    ],
)
def test_a_bad_landing_request_is_one_line(data, message):
    with pytest.raises(VexError) as raised:
        LandingRequest.parse(data)
    assert str(raised.value).startswith(message)


def test_a_landing_request_keeps_an_inbox_prefix():
    assert LandingRequest.parse({"prefix": "vex/inbox/partner-a/"}).prefix == "vex/inbox/partner-a/"
    assert LandingRequest.parse({}).prefix == "vex/inbox/"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "give runId, or both insertedSince and insertedUntil"),
        (
            {"runId": "r1", "insertedSince": "2024-03-01T00:00:00Z", "insertedUntil": "2024-03-02T00:00:00Z"},
            "give runId, or insertedSince and insertedUntil, not both",
        ),
        (
            {"insertedSince": "2024-03-02T00:00:00Z", "insertedUntil": "2024-03-01T00:00:00Z"},
            "insertedSince 2024-03-02T00:00:00+00:00 is not before insertedUntil 2024-03-01T00:00:00+00:00",
        ),
        ({"insertedSince": "soon", "insertedUntil": "2024-03-01T00:00:00Z"}, "insertedSince: 'soon': is not an ISO"),
    ],
)
def test_a_rollback_names_one_selection(data, message):
    with pytest.raises(VexError) as raised:
        RollbackRequest.parse(data)
    assert str(raised.value).startswith(message)


def test_a_rollback_window_is_aware():
    request = RollbackRequest.parse({"insertedSince": "2024-03-01T00:00:00", "insertedUntil": "2024-03-01T01:00:00Z"})
    assert request.window == (dt.datetime(2024, 3, 1, tzinfo=UTC), dt.datetime(2024, 3, 1, 1, tzinfo=UTC))


def plan(job: str, asset: str, config: dict):
    job_def = code_location().resolve_job_def(job)
    partition = "2024-03-01" if asset == "vex_statements" else None
    return create_execution_plan(job_def, run_config={"ops": {asset: {"config": config}}}, tags={"dagster/partition": partition} if partition else None)


@pytest.mark.parametrize(
    ("job", "asset", "config", "problem"),
    [
        ("vex_landing_job", "vex_raw_documents", {"prefix": "vex/../../etc/"}, "prefix\n  Value error, is not a relative"),
        ("vex_landing_job", "vex_raw_documents", {"prefix": "/etc/"}, "prefix\n  Value error, is not a relative"),
        ("vex_landing_job", "vex_raw_documents", {"provider": "  "}, "provider\n  Value error, must be 1 to 200"),
    ],
)
def test_the_launchpad_refuses_a_bad_rule_before_a_run_exists(job, asset, config, problem):
    with dg.instance_for_test() as instance:
        with pytest.raises(dg.DagsterError) as raised:
            plan(job, asset, config)
        assert problem in str(raised.value.__cause__)
        assert instance.get_runs() == []


def test_the_launchpad_refuses_a_value_of_the_wrong_type():
    with pytest.raises(dg.DagsterInvalidConfigError, match="paths"):
        plan("vex_landing_job", "vex_raw_documents", {"paths": "x"})


def test_the_launchpad_takes_a_good_request():
    assert plan("vex_landing_job", "vex_raw_documents", {"prefix": "vex/inbox/a/"}).step_keys_to_execute == [
        "vex_raw_documents"
    ]
