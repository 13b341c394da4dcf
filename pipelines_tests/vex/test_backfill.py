"""backfill-statements on both backends: windows, batch boundaries, limits, duplicates, force, failures."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import sqlalchemy as sa

from pipelines.vex import backfill
from pipelines.vex.backfill import BackfillSummary, Window, backfill_statements
from pipelines.vex.ingest import digest_of, land, raw_document
from pipelines.vex.requests import BackfillRequest
from pipelines.vex.tables import vex_raw_documents, vex_statements
from pipelines_tests.vex.conftest import UTC, at, openvex_document, store_documents


def statement_rows(database) -> list[tuple]:
    with database.begin() as conn:
        return conn.execute(
            sa.select(vex_statements.c.id, vex_statements.c.document_digest, vex_statements.c.vulnerability_id).order_by(
                vex_statements.c.vulnerability_id
            )
        ).all()


def digests_with_statements(database) -> set[str]:
    with database.begin() as conn:
        return set(conn.scalars(sa.select(vex_statements.c.document_digest).distinct()))


def counters(summary: BackfillSummary) -> tuple[int, int, int, int, int]:
    return (summary.evaluated, summary.backfilled, summary.claims_written, summary.skipped, summary.failures)


@pytest.mark.parametrize("documents", [0, 1, 3, 4], ids=["none", "one", "batch-size", "batch-size-plus-one"])
def test_batch_boundaries_evaluate_every_document_once(database, documents):
    store_documents(database, [(openvex_document(n), at(1, 10, n)) for n in range(documents)])
    summary = backfill_statements(database, BackfillRequest(batch_size=3))
    assert counters(summary) == (documents, documents, 2 * documents, 0, 0)
    assert len(statement_rows(database)) == 2 * documents
    assert summary.line() == (
        f"Backfill completed: evaluated {documents}, backfilled {documents}, claims written {2 * documents}, "
        "skipped 0, failures 0."
    )


def test_documents_retrieved_at_the_same_instant_page_by_digest(database):
    store_documents(database, [(openvex_document(n), at(1)) for n in range(5)])
    summary = backfill_statements(database, BackfillRequest(batch_size=2))
    assert counters(summary) == (5, 5, 10, 0, 0)


def test_retrieved_since_and_before_bound_the_window(database):
    raws = store_documents(database, [(openvex_document(n), at(n + 1)) for n in range(4)])  # March 1..4, noon
    summary = backfill_statements(
        database, BackfillRequest(), window=Window(at(2), dt.datetime(2024, 3, 4, tzinfo=UTC))
    )
    assert counters(summary) == (2, 2, 4, 0, 0)
    assert digests_with_statements(database) == {raws[1].digest, raws[2].digest}


def test_max_documents_takes_the_earliest_documents_first(database):
    raws = store_documents(database, [(openvex_document(n), at(1, 9 + n)) for n in range(5)])
    summary = backfill_statements(database, BackfillRequest(batch_size=2, max_documents=3))
    assert counters(summary) == (3, 3, 6, 0, 0)
    assert digests_with_statements(database) == {raws[0].digest, raws[1].digest, raws[2].digest}
    assert counters(backfill_statements(database, BackfillRequest(max_documents=0))) == (0, 0, 0, 0, 0)


def test_documents_with_statements_are_skipped_and_nothing_is_rewritten(database):
    store_documents(database, [(openvex_document(n), at(1, 9 + n)) for n in range(3)])
    backfill_statements(database, BackfillRequest(batch_size=2))
    before = statement_rows(database)
    store_documents(database, [(openvex_document(7), at(2))])
    summary = backfill_statements(database, BackfillRequest(batch_size=2))
    assert counters(summary) == (4, 1, 2, 3, 0)
    assert statement_rows(database)[:6] == before[:6]


def test_force_replaces_the_statements_of_every_document(database):
    raws = store_documents(database, [(openvex_document(n), at(1, 9 + n)) for n in range(3)])
    backfill_statements(database, BackfillRequest())
    old_ids = {row.id for row in statement_rows(database)}
    summary = backfill_statements(database, BackfillRequest(force=True, batch_size=2))
    assert counters(summary) == (3, 3, 6, 0, 0)
    rows = statement_rows(database)
    assert len(rows) == 6
    assert old_ids.isdisjoint(row.id for row in rows)
    assert {row.document_digest for row in rows} == {raw.digest for raw in raws}


def test_pages_hold_batch_size_documents_whatever_the_read_fetches(database, monkeypatch):
    # PostgreSQL fetches several pages per round trip: still whole pages of batchSize, the last one short.
    monkeypatch.setattr(backfill, "FETCH_DOCUMENTS", 7)
    store_documents(database, [(openvex_document(n), at(1, 9, n)) for n in range(10)])
    with database.engine.connect() as reader:
        sizes = [len(page) for page in backfill._pages(reader, BackfillRequest(batch_size=3), Window())]
    assert sizes == [3, 3, 3, 1]


def test_pages_written_together_keep_every_statement_once_with_and_without_force(database):
    # One document per page: on PostgreSQL, the pages normalized while a write is in flight go together.
    raws = store_documents(database, [(openvex_document(n), at(1, 9, n)) for n in range(40)])
    assert counters(backfill_statements(database, BackfillRequest(batch_size=1))) == (40, 40, 80, 0, 0)
    old_ids = {row.id for row in statement_rows(database)}
    assert counters(backfill_statements(database, BackfillRequest(force=True, batch_size=1))) == (40, 40, 80, 0, 0)
    rows = statement_rows(database)
    assert len(rows) == 80
    assert old_ids.isdisjoint(row.id for row in rows)
    assert digests_with_statements(database) == {raw.digest for raw in raws}


def test_a_failing_document_in_the_middle_of_a_batch_is_counted_and_the_rest_written(database, caplog):
    bad = b"this is not json"
    raws = store_documents(
        database,
        [(openvex_document(1), at(1, 9)), (bad, at(1, 10)), (b'{"bomFormat": "SPDX"}', at(1, 11)), (openvex_document(2), at(1, 12))],
    )
    with caplog.at_level(logging.WARNING, logger="pipelines.vex.backfill"):
        summary = backfill_statements(database, BackfillRequest(batch_size=4))
    assert counters(summary) == (4, 2, 4, 0, 2)
    assert summary.failed_digests == [digest_of(bad), raws[2].digest]
    assert digests_with_statements(database) == {raws[0].digest, raws[3].digest}
    assert f"vex document {digest_of(bad)} failed to normalize: not JSON: Expecting value at line 1 column 1" in caplog.text
    # Failures are evaluated again next time (they have no statements); the others are skipped.
    assert counters(backfill_statements(database, BackfillRequest())) == (4, 0, 0, 2, 2)


def test_force_keeps_the_old_statements_of_a_document_that_now_fails(database):
    raws = store_documents(database, [(openvex_document(1), at(1))])
    backfill_statements(database, BackfillRequest())
    with database.begin() as conn:
        conn.execute(sa.update(vex_raw_documents).values(format="csaf"))
    summary = backfill_statements(database, BackfillRequest(force=True))
    assert counters(summary) == (1, 0, 0, 0, 1)
    assert digests_with_statements(database) == {raws[0].digest}


def test_statement_rows_carry_the_document_provider_signature_and_times(database):
    content = openvex_document(5, status="affected")
    land(database, [raw_document(content, "test://x", at(3), provider="Example PSIRT", signature={"alg": "ES256"})])
    backfill_statements(database, BackfillRequest())
    with database.begin() as conn:
        row = conn.execute(
            sa.select(vex_statements).where(vex_statements.c.vulnerability_id == "CVE-2024-0005").order_by(
                vex_statements.c.product_key
            )
        ).first()
    assert (row.document_digest, row.product_key, row.status, row.justification) == (
        digest_of(content), "pkg:npm/a@1.0.5", "affected", None
    )
    assert (row.provider, row.signature, row.subcomponents) == ("Example PSIRT", {"alg": "ES256"}, None)
    assert row.statement_at == dt.datetime(2024, 3, 1, tzinfo=UTC)
    assert row.inserted_at.tzinfo == UTC
