"""Consensus: one answer per (vulnerability, product) across providers and documents.

Policy (README "Consensus"), for the statements of one pair:
1. Within one provider the latest statement wins: the latest statement timestamp, falling back to
   the document's timestamp, then to when the document was retrieved; on a tie, the later document
   timestamp, then the later retrieval, then the later insert.
2. Across providers, only the most trusted providers that speak about the pair decide
   (`ConsensusPolicy.trust_order`; default: every provider equally trusted).
3. Among those: one status when they agree. `not_affected` needs no `affected` from an equally (or
   more) trusted provider: both present is `conflict`. Other disagreements take the most cautious
   status (affected > under_investigation > fixed > not_affected).

Incremental: a write that changes statements records their pairs in `vex_consensus_pending` (same
transaction); `recompute_pending` takes the pending pairs, recomputes exactly those, and clears them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.locks import exclusive
from pipelines.vex.requests import ConsensusPolicy
from pipelines.vex.tables import vex_consensus, vex_consensus_pending, vex_statements

log = logging.getLogger(__name__)

CONFLICT = "conflict"
_CAUTION = {"affected": 3, "under_investigation": 2, "fixed": 1, "not_affected": 0}
_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc)
WRITE_ROWS = 5000
CONSENSUS_COLUMNS = ("vulnerability_id", "product_key", "status", "conflict", "deciding", "statements", "computed_at")


@dataclass(frozen=True)
class Claim:
    """What the policy reads of one statement."""

    id: int
    provider: str
    status: str
    statement_at: dt.datetime | None
    document_at: dt.datetime | None
    retrieved_at: dt.datetime | None

    def recency(self) -> tuple[dt.datetime, dt.datetime, dt.datetime, int]:
        effective = self.statement_at or self.document_at or self.retrieved_at or _EPOCH
        return (effective, self.document_at or self.retrieved_at or _EPOCH, self.retrieved_at or _EPOCH, self.id)


@dataclass(frozen=True)
class Decision:
    status: str
    conflict: bool
    deciding: list[Claim]


@dataclass
class ConsensusSummary:
    pairs: int = 0
    conflicts: int = 0
    removed: int = 0
    seconds: float = 0.0
    conflicting: list[tuple[str, str]] = field(default_factory=list)


def decide(claims: Sequence[Claim], policy: ConsensusPolicy) -> Decision:
    """The effective status of one pair's statements (at least one); see the module docstring."""
    latest: dict[str, Claim] = {}
    for claim in claims:
        kept = latest.get(claim.provider)
        if kept is None or claim.recency() > kept.recency():
            latest[claim.provider] = claim
    top = min(policy.rank(provider) for provider in latest)
    deciding = sorted((c for p, c in latest.items() if policy.rank(p) == top), key=lambda c: c.provider)
    statuses = {c.status for c in deciding}
    if {"affected", "not_affected"} <= statuses:
        return Decision(CONFLICT, True, deciding)
    return Decision(max(statuses, key=_CAUTION.__getitem__), False, deciding)


def mark_pending_from(conn: sa.Connection, pairs: sa.Select) -> None:
    """Record the (vulnerability_id, product_key) pairs `pairs` selects as pending, in the caller's
    transaction (server-side: the pairs never cross into Python)."""
    conn.execute(sa.insert(vex_consensus_pending).from_select(["vulnerability_id", "product_key"], pairs))


def recompute_pending(database: Database, policy: ConsensusPolicy, *, logger: Any = None) -> ConsensusSummary:
    """Recompute the consensus of the pending pairs (every pair with `recompute_all`), in one
    transaction, then clear them."""
    logger = logger or log
    started = time.monotonic()
    summary = ConsensusSummary()
    computed_at = dt.datetime.now(dt.timezone.utc)
    s, pending = vex_statements, vex_consensus_pending
    with exclusive(database, "vex.consensus"), database.begin() as conn:
        if policy.recompute_all:
            conn.execute(sa.delete(pending))
            conn.execute(
                sa.insert(pending).from_select(
                    ["vulnerability_id", "product_key"],
                    sa.select(s.c.vulnerability_id, s.c.product_key).distinct(),
                )
            )
        last = conn.scalar(sa.select(sa.func.max(pending.c.id)))
        if last is None:
            return summary
        pairs = (
            sa.select(pending.c.vulnerability_id, pending.c.product_key)
            .where(pending.c.id <= last)
            .distinct()
            .subquery("pairs")
        )
        pair_key = sa.tuple_(vex_consensus.c.vulnerability_id, vex_consensus.c.product_key)
        summary.removed = conn.execute(
            sa.delete(vex_consensus).where(pair_key.in_(sa.select(pairs.c.vulnerability_id, pairs.c.product_key)))
        ).rowcount
        query = _latest_per_provider(pairs)
        rows = (row for batch in database.stream(conn, query) for row in batch)
        # Whole COPYs of at most WRITE_ROWS between the read's fetches: one connection does both.
        decided = _consensus_rows(rows, policy, computed_at, summary)
        while chunk := list(itertools.islice(decided, WRITE_ROWS)):
            database.bulk_insert(conn, vex_consensus, chunk, columns=CONSENSUS_COLUMNS)
        conn.execute(sa.delete(pending).where(pending.c.id <= last))
    summary.seconds = time.monotonic() - started
    logger.info("vex consensus: %d pairs recomputed, %d in conflict", summary.pairs, summary.conflicts)
    return summary


def _latest_per_provider(pairs: sa.Subquery) -> sa.Select:
    """Per pending pair and provider, that provider's latest statement (policy step 1, in the
    database: the read is one row per pair and provider, not one per statement), with the pair's
    statement count; ordered by pair."""
    s = vex_statements
    effective = sa.func.coalesce(s.c.statement_at, s.c.document_at, s.c.retrieved_at)
    latest_first = (
        effective.desc().nulls_last(),
        sa.func.coalesce(s.c.document_at, s.c.retrieved_at).desc().nulls_last(),
        s.c.retrieved_at.desc().nulls_last(),
        s.c.id.desc(),
    )
    pair = (s.c.vulnerability_id, s.c.product_key)
    ranked = (
        sa.select(
            s.c.id, s.c.vulnerability_id, s.c.product_key, s.c.provider, s.c.status,
            sa.func.row_number().over(partition_by=(*pair, s.c.provider), order_by=latest_first).label("recency"),
            sa.func.count().over(partition_by=pair).label("total"),
        )
        .join(pairs, sa.and_(pairs.c.vulnerability_id == s.c.vulnerability_id, pairs.c.product_key == s.c.product_key))
        .subquery("ranked")
    )
    return (
        sa.select(ranked.c.id, ranked.c.vulnerability_id, ranked.c.product_key, ranked.c.provider, ranked.c.status,
                  ranked.c.total)
        .where(ranked.c.recency == 1)
        .order_by(ranked.c.vulnerability_id, ranked.c.product_key)
    )


def _consensus_rows(rows: Iterable[Any], policy: ConsensusPolicy, computed_at: dt.datetime, summary: ConsensusSummary):
    for (vulnerability_id, product_key), group in itertools.groupby(rows, key=lambda r: (r.vulnerability_id, r.product_key)):
        latest = list(group)
        # One claim per provider already (the latest): `decide` needs no timestamps to choose among them.
        claims = [Claim(r.id, r.provider, r.status, None, None, None) for r in latest]
        decision = decide(claims, policy)
        summary.pairs += 1
        if decision.conflict:
            summary.conflicts += 1
            if len(summary.conflicting) < 50:
                summary.conflicting.append((vulnerability_id, product_key))
        deciding = [{"id": c.id, "provider": c.provider, "status": c.status} for c in decision.deciding]
        yield (vulnerability_id, product_key, decision.status, decision.conflict, deciding, latest[0].total, computed_at)


def conflicts(database: Database, limit: int = 50) -> tuple[int, list[dict[str, Any]]]:
    """How many pairs are in conflict, and the first `limit` of them with their deciding statements."""
    with database.begin() as conn:
        count = conn.scalar(sa.select(sa.func.count()).select_from(vex_consensus).where(vex_consensus.c.conflict)) or 0
        rows = conn.execute(
            sa.select(vex_consensus.c.vulnerability_id, vex_consensus.c.product_key, vex_consensus.c.deciding)
            .where(vex_consensus.c.conflict)
            .order_by(vex_consensus.c.vulnerability_id, vex_consensus.c.product_key)
            .limit(limit)
        ).all()
    return count, [{"vulnerability": r[0], "product": r[1], "deciding": r[2]} for r in rows]
