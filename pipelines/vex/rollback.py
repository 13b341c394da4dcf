"""Rollback (the seed's runbook): delete the statements a backfill inserted, by run or by `inserted_at`
window, and the documents' done-marks (so a rerun normalizes them again); the raw documents stay.
The consensus of every pair the deleted statements named is recomputed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.vex.consensus import ConsensusSummary, mark_pending_from, recompute_pending
from pipelines.vex.requests import ConsensusPolicy, RollbackRequest
from pipelines.vex.tables import vex_normalized_documents, vex_statements

DOCUMENTS_LISTED = 100


@dataclass
class RollbackSummary:
    dry_run: bool
    statements: int = 0
    pairs: int = 0
    marks: int = 0
    documents: list[dict[str, Any]] = field(default_factory=list)
    consensus: ConsensusSummary | None = None

    def as_json(self, request: RollbackRequest) -> dict[str, Any]:
        selection = {"runId": request.run_id} if request.run_id else {
            "insertedSince": request.inserted_since, "insertedUntil": request.inserted_until
        }
        return {
            "dryRun": self.dry_run,
            "selection": selection,
            "statementsRemoved" if not self.dry_run else "statementsToRemove": self.statements,
            "documents": self.documents,
            "documentsToNormalizeAgain": self.marks,
            "pairs": self.pairs,
            "consensusRecomputed": self.consensus.pairs if self.consensus else 0,
        }


def _statements_where(request: RollbackRequest) -> sa.ColumnElement[bool]:
    if request.run_id is not None:
        return vex_statements.c.run_id == request.run_id
    since, until = request.window
    return sa.and_(vex_statements.c.inserted_at >= since, vex_statements.c.inserted_at < until)


def _marks_where(request: RollbackRequest) -> sa.ColumnElement[bool]:
    marks = vex_normalized_documents
    if request.run_id is not None:
        return marks.c.run_id == request.run_id
    since, until = request.window
    return sa.and_(marks.c.normalized_at >= since, marks.c.normalized_at < until)


def rollback(database: Database, request: RollbackRequest, policy: ConsensusPolicy | None = None) -> RollbackSummary:
    """Remove (dry run: count) what the request selects, in one transaction; then recompute the consensus."""
    s = vex_statements
    where = _statements_where(request)
    summary = RollbackSummary(dry_run=request.dry_run)
    with database.begin() as conn:
        per_document = conn.execute(
            sa.select(s.c.document_digest, sa.func.count())
            .where(where)
            .group_by(s.c.document_digest)
            .order_by(s.c.document_digest)
        ).all()
        summary.statements = sum(n for _, n in per_document)
        summary.documents = [{"digest": d, "statements": n} for d, n in per_document[:DOCUMENTS_LISTED]]
        pairs = sa.select(s.c.vulnerability_id, s.c.product_key).where(where).distinct()
        summary.pairs = conn.scalar(sa.select(sa.func.count()).select_from(pairs.subquery())) or 0
        summary.marks = conn.scalar(
            sa.select(sa.func.count()).select_from(vex_normalized_documents).where(_marks_where(request))
        ) or 0
        if request.dry_run:
            return summary
        mark_pending_from(conn, pairs)
        conn.execute(sa.delete(s).where(where))
        conn.execute(sa.delete(vex_normalized_documents).where(_marks_where(request)))
    summary.consensus = recompute_pending(database, policy or ConsensusPolicy())
    return summary
