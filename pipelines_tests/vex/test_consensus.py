"""Consensus on both backends: agreement, disagreement, a provider's later statement superseding its
earlier one, trust order changing the answer, a rollback removing the deciding statement; and the
documents that normalize to nothing are done."""

from __future__ import annotations

import json

import sqlalchemy as sa

from pipelines.vex.backfill import backfill_statements
from pipelines.vex.consensus import recompute_pending
from pipelines.vex.ingest import land, raw_document
from pipelines.vex.lookup import statements_of
from pipelines.vex.requests import BackfillRequest, ConsensusPolicy, RollbackRequest
from pipelines.vex.rollback import rollback
from pipelines.vex.tables import vex_consensus
from pipelines_tests.vex.conftest import at

CVE = "CVE-2024-1000"
PRODUCT = "pkg:npm/widget@1.0.0"


def openvex(number: int, status: str, timestamp: str, product: str = PRODUCT) -> bytes:
    statement = {"vulnerability": {"name": CVE}, "products": [{"@id": product}], "status": status,
                 "timestamp": timestamp}
    if status == "not_affected":
        statement["justification"] = "vulnerable_code_not_present"
    return json.dumps({"@context": "https://openvex.dev/ns/v0.2.0", "@id": f"https://example.com/vex/{number}",
                       "author": "x", "timestamp": timestamp, "statements": [statement]}).encode()


def land_from(database, provider: str, documents: list[bytes], day: int = 1) -> None:
    land(database, [raw_document(c, f"test://{provider}/{i}", at(day, 10 + i), provider=provider) for i, c in enumerate(documents)])


def consensus(database) -> list[tuple]:
    with database.begin() as conn:
        rows = conn.execute(sa.select(vex_consensus).order_by(vex_consensus.c.product_key)).all()
    return [(r.vulnerability_id, r.product_key, r.status, r.conflict, [(d["provider"], d["status"]) for d in r.deciding]) for r in rows]


def backfill(database, policy: ConsensusPolicy | None = None):
    summary = backfill_statements(database, BackfillRequest())
    recompute_pending(database, policy or ConsensusPolicy())
    return summary


def test_two_providers_agreeing(database):
    land_from(database, "Vendor", [openvex(1, "not_affected", "2024-03-01T00:00:00Z")])
    land_from(database, "Distro", [openvex(2, "not_affected", "2024-03-02T00:00:00Z")])
    backfill(database)
    assert consensus(database) == [
        (CVE, PRODUCT, "not_affected", False, [("Distro", "not_affected"), ("Vendor", "not_affected")])
    ]


def test_two_equally_trusted_providers_disagreeing_is_a_conflict(database):
    land_from(database, "Vendor", [openvex(1, "not_affected", "2024-03-01T00:00:00Z")])
    land_from(database, "Distro", [openvex(2, "affected", "2024-03-02T00:00:00Z")])
    backfill(database)
    assert consensus(database) == [
        (CVE, PRODUCT, "conflict", True, [("Distro", "affected"), ("Vendor", "not_affected")])
    ]


def test_a_later_statement_of_one_provider_supersedes_its_earlier_one(database):
    # Landed in the other order: the statement timestamp decides, not the retrieval.
    land_from(database, "Vendor", [openvex(2, "not_affected", "2024-03-05T00:00:00Z"), openvex(1, "affected", "2024-03-01T00:00:00Z")])
    backfill(database)
    assert consensus(database) == [(CVE, PRODUCT, "not_affected", False, [("Vendor", "not_affected")])]


def test_trust_order_changes_the_answer(database):
    land_from(database, "Vendor", [openvex(1, "not_affected", "2024-03-01T00:00:00Z")])
    land_from(database, "Scanner", [openvex(2, "affected", "2024-03-02T00:00:00Z")])
    backfill(database, ConsensusPolicy(trust_order=["Vendor"]))
    assert consensus(database) == [(CVE, PRODUCT, "not_affected", False, [("Vendor", "not_affected")])]
    recompute_pending(database, ConsensusPolicy(trust_order=["Scanner", "Vendor"], recompute_all=True))
    assert consensus(database) == [(CVE, PRODUCT, "affected", False, [("Scanner", "affected")])]


def test_a_rollback_removing_the_deciding_statement_recomputes_the_pair(database):
    land_from(database, "Vendor", [openvex(1, "not_affected", "2024-03-01T00:00:00Z")])
    backfill(database)
    land_from(database, "Distro", [openvex(2, "affected", "2024-03-02T00:00:00Z")], day=2)
    second = backfill(database)
    assert consensus(database)[0][2:4] == ("conflict", True)

    dry = rollback(database, RollbackRequest(run_id=second.run_id, dry_run=True))
    assert (dry.statements, dry.pairs, dry.marks) == (1, 1, 1)
    assert consensus(database)[0][2:4] == ("conflict", True)  # the dry run wrote nothing

    done = rollback(database, RollbackRequest(run_id=second.run_id))
    assert (done.statements, done.consensus.pairs) == (1, 1)
    assert consensus(database) == [(CVE, PRODUCT, "not_affected", False, [("Vendor", "not_affected")])]
    # The raw document stays: the next backfill normalizes it again.
    assert backfill(database).backfilled == 1
    assert consensus(database)[0][2:4] == ("conflict", True)


def test_a_document_that_normalizes_to_nothing_is_done_until_forced(database):
    empty = json.dumps({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "statements": []}).encode()
    land_from(database, "Vendor", [empty])
    first = backfill_statements(database, BackfillRequest())
    assert (first.evaluated, first.backfilled, first.claims_written, first.skipped) == (1, 1, 0, 0)
    again = backfill_statements(database, BackfillRequest())
    assert (again.evaluated, again.backfilled, again.skipped) == (1, 0, 1)
    forced = backfill_statements(database, BackfillRequest(force=True))
    assert (forced.evaluated, forced.backfilled, forced.skipped) == (1, 1, 0)


def test_lookup_matches_purls_with_and_without_qualifiers(database):
    land_from(database, "Vendor", [openvex(1, "fixed", "2024-03-01T00:00:00Z", product="pkg:npm/widget@1.0.0?arch=x")])
    backfill(database)
    for product in ("pkg:npm/widget@1.0.0", "pkg:npm/widget@1.0.0?arch=x", "pkg:npm/widget@1.0.0?arch=y"):
        found = statements_of(database, CVE, product)
        assert [(c["product"], c["status"]) for c in found["consensus"]] == [("pkg:npm/widget@1.0.0?arch=x", "fixed")]
        assert [(s["provider"], s["status"], s["statementAt"]) for s in found["statements"]] == [
            ("Vendor", "fixed", "2024-03-01T00:00:00+00:00")
        ]
    assert statements_of(database, CVE, "pkg:npm/widget@1.0.1")["statements"] == []
