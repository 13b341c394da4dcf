"""The runbook's post-run verification (`/excititor/statements/{vulnerabilityId}/{productKey}`): the
consensus of a vulnerability (for one product) and the statements behind it, as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.vex.tables import vex_consensus, vex_statements


def purl_base(key: str) -> str:
    """A purl without qualifiers and subpath (`pkg:npm/a@1.0.0?arch=x#lib` -> `pkg:npm/a@1.0.0`);
    any other key as it is."""
    if not key.startswith("pkg:"):
        return key
    return key.split("#", 1)[0].split("?", 1)[0]


def _product_matches(column: sa.ColumnElement[str], product: str) -> sa.ColumnElement[bool]:
    """`column` names `product`: the same key, or (purls) the same purl with or without qualifiers."""
    base = purl_base(product)
    if base == product and not product.startswith("pkg:"):
        return column == product
    escaped = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.or_(
        column == base,
        column.like(escaped + "?%", escape="\\"),
        column.like(escaped + "#%", escape="\\"),
    )


def statements_of(database: Database, vulnerability_id: str, product: str | None = None) -> dict[str, Any]:
    c, s = vex_consensus, vex_statements
    consensus_query = sa.select(c).where(c.c.vulnerability_id == vulnerability_id)
    statements_query = sa.select(s).where(s.c.vulnerability_id == vulnerability_id)
    if product is not None:
        consensus_query = consensus_query.where(_product_matches(c.c.product_key, product))
        statements_query = statements_query.where(_product_matches(s.c.product_key, product))
    with database.snapshot() as conn:
        consensus = conn.execute(consensus_query.order_by(c.c.product_key)).all()
        statements = conn.execute(statements_query.order_by(s.c.product_key, s.c.provider, s.c.id)).all()
    return {
        "vulnerability": vulnerability_id,
        "product": product,
        "consensus": [
            {
                "product": row.product_key,
                "status": row.status,
                "conflict": row.conflict,
                "deciding": row.deciding,
                "statements": row.statements,
                "computedAt": _iso(row.computed_at),
            }
            for row in consensus
        ],
        "statements": [
            {
                "id": row.id,
                "product": row.product_key,
                "provider": row.provider,
                "documentDigest": row.document_digest,
                "status": row.status,
                "justification": row.justification,
                "impactStatement": row.impact_statement,
                "actionStatement": row.action_statement,
                "detail": row.detail,
                "aliases": row.aliases,
                "statementAt": _iso(row.statement_at),
                "documentAt": _iso(row.document_at),
                "retrievedAt": _iso(row.retrieved_at),
                "insertedAt": _iso(row.inserted_at),
                "runId": row.run_id,
            }
            for row in statements
        ],
    }


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()
