"""VEX tables: raw documents as they were retrieved (exact bytes, keyed by digest) and the statements
normalized from them."""

import sqlalchemy as sa

from pipelines.core.database import IdType, JSONType, TZDateTime, metadata

FORMATS = ("csaf", "cyclonedx", "openvex")
STATUSES = ("not_affected", "affected", "fixed", "under_investigation")

vex_raw_documents = sa.Table(
    "vex_raw_documents",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    # `sha256:<hex>` of `content`, the exact bytes retrieved.
    sa.Column("digest", sa.String(71), nullable=False, unique=True),
    sa.Column("provider", sa.String(200), nullable=False),
    # NULL: the format could not be detected when the document landed; the backfill counts it as a failure.
    sa.Column("format", sa.String(20), nullable=True),
    sa.Column("source_uri", sa.String(2000), nullable=False),
    sa.Column("retrieved_at", TZDateTime, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("signature", JSONType, nullable=True),
    sa.CheckConstraint("format IN ('csaf', 'cyclonedx', 'openvex')", name="format"),
    # The backfill's and the sensor's keyset order.
    sa.Index(None, "retrieved_at", "digest"),
)

vex_statements = sa.Table(
    "vex_statements",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("document_digest", sa.String(71), nullable=False),
    sa.Column("vulnerability_id", sa.String(200), nullable=False),
    sa.Column("product_key", sa.String(2000), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("justification", sa.String(60), nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("subcomponents", JSONType, nullable=True),
    sa.Column("provider", sa.String(200), nullable=False),
    # The statement's own timestamp, the document's, and when the document was retrieved: the
    # consensus's "latest statement" order, in that order.
    sa.Column("statement_at", TZDateTime, nullable=True),
    sa.Column("inserted_at", TZDateTime, nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("signature", JSONType, nullable=True),
    sa.Column("impact_statement", sa.Text, nullable=True),
    sa.Column("action_statement", sa.Text, nullable=True),
    sa.Column("aliases", JSONType, nullable=True),
    sa.Column("document_at", TZDateTime, nullable=True),
    sa.Column("retrieved_at", TZDateTime, nullable=True),
    # The Dagster run (or CLI backfill) that inserted the statement: what `vex rollback --run` deletes.
    sa.Column("run_id", sa.String(64), nullable=True),
    # Leading column `document_digest` also serves the per-batch "which documents have statements".
    sa.UniqueConstraint("document_digest", "vulnerability_id", "product_key"),
    sa.CheckConstraint("status IN ('not_affected', 'affected', 'fixed', 'under_investigation')", name="status"),
    sa.Index(None, "vulnerability_id", "product_key"),
    sa.Index(None, "run_id"),
)

# A raw document normalized by a version of the normalizers, whatever it yielded (no statements
# included): the backfill skips it unless `force` or a newer NORMALIZER_VERSION.
vex_normalized_documents = sa.Table(
    "vex_normalized_documents",
    metadata,
    sa.Column("digest", sa.String(71), primary_key=True),
    sa.Column("normalizer_version", sa.Integer, nullable=False),
    sa.Column("statements", sa.Integer, nullable=False),
    sa.Column("normalized_at", TZDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Index(None, "run_id"),
)

# (vulnerability, product) pairs whose consensus must be recomputed: written with the statements
# that change them (backfill, rollback), taken and cleared by `vex_consensus`.
vex_consensus_pending = sa.Table(
    "vex_consensus_pending",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("vulnerability_id", sa.String(200), nullable=False),
    sa.Column("product_key", sa.String(2000), nullable=False),
)

# One answer per (vulnerability, product): see `pipelines/vex/consensus.py` and the README.
vex_consensus = sa.Table(
    "vex_consensus",
    metadata,
    sa.Column("vulnerability_id", sa.String(200), primary_key=True),
    sa.Column("product_key", sa.String(2000), primary_key=True),
    # One of STATUSES, or `conflict`.
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("conflict", sa.Boolean, nullable=False),
    # The statements that decided it: [{"id", "provider", "status"}], most trusted first.
    sa.Column("deciding", JSONType, nullable=False),
    sa.Column("statements", sa.Integer, nullable=False),
    sa.Column("computed_at", TZDateTime, nullable=False),
    sa.Index(None, "conflict"),
)
