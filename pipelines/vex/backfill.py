"""`backfill-statements`: rebuild `vex_statements` from the raw documents (the seed's runbook).

Raw documents stream in ascending (`retrieved_at`, `digest`) by keyset pagination, `batch_size` per
page. One query per page reads the page, whether each of its documents already has statements (skipped
unless `force`) and the content of the others, which are normalized; the page's statements are then
bulk-inserted in one transaction (with `force`, the documents' old statements are deleted first, in
that transaction). On PostgreSQL the writes of a page overlap the reading and normalizing of the next.
A document that fails to parse or normalize is logged with its digest and counted; the rest of its
page is still written, and its old statements (if any) are kept.

Counters (README "VEX statements"):
- evaluated: raw documents read in the window (at most `max_documents`);
- skipped: evaluated documents left alone because they already had statements (never with `force`);
- backfilled: evaluated documents normalized and whose statements were written (possibly none);
- failures: evaluated documents that could not be parsed or normalized;
- claims written: statement rows inserted.
evaluated = skipped + backfilled + failures.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pipelines.core.database import Database, Progress, TZDateTime
from pipelines.vex.errors import VexError
from pipelines.vex.normalizers import NormalizeFailure, normalize_document
from pipelines.vex.tables import vex_raw_documents, vex_statements

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100
MAX_BATCH_SIZE = 10_000  # keeps a page's DELETE ... IN (...) under every backend's parameter limit
STATEMENT_COLUMNS = (
    "document_digest",
    "vulnerability_id",
    "product_key",
    "status",
    "justification",
    "detail",
    "subcomponents",
    "provider",
    "statement_at",
    "inserted_at",
    "signature",
)
_FAILED_DIGESTS_KEPT = 20


@dataclass(frozen=True)
class BackfillRequest:
    """What to backfill. Validated here, naming the field (as the CLI and run config spell it)."""

    retrieved_since: dt.datetime | None = None
    retrieved_before: dt.datetime | None = None
    force: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    max_documents: int | None = None

    def __post_init__(self) -> None:
        for name, value in (("retrievedSince", self.retrieved_since), ("retrievedBefore", self.retrieved_before)):
            if value is not None and value.tzinfo is None:
                raise VexError(f"{name}: {value.isoformat()} has no time zone (e.g. 2024-03-01T00:00:00Z)")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or not (
            1 <= self.batch_size <= MAX_BATCH_SIZE
        ):
            raise VexError(f"batchSize: {self.batch_size!r} is not an integer from 1 to {MAX_BATCH_SIZE}")
        if self.max_documents is not None and (
            isinstance(self.max_documents, bool) or not isinstance(self.max_documents, int) or self.max_documents < 0
        ):
            raise VexError(f"maxDocuments: {self.max_documents!r} is not a non-negative integer")


@dataclass
class BackfillSummary:
    evaluated: int = 0
    backfilled: int = 0
    claims_written: int = 0
    skipped: int = 0
    failures: int = 0
    statements_skipped: int = 0
    seconds: float = 0.0
    failed_digests: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"Backfill completed: evaluated {self.evaluated}, backfilled {self.backfilled}, "
            f"claims written {self.claims_written}, skipped {self.skipped}, failures {self.failures}."
        )


def parse_retrieved_since(value: str) -> dt.datetime:
    """An ISO 8601 timestamp from the CLI or run config; UTC when it names no zone (the runbook's default)."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise VexError(f"retrievedSince: {value!r} is not an ISO 8601 timestamp (e.g. 2024-03-01T00:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def backfill_statements(
    database: Database, request: BackfillRequest, *, logger: Any = None
) -> BackfillSummary:
    """Normalize raw documents into statements, page by page; see the module docstring."""
    logger = logger or log
    started = time.monotonic()
    summary = BackfillSummary()
    progress = Progress("vex documents evaluated", logger=logger)
    after: tuple[dt.datetime, str] | None = None
    database.check()  # a connection problem is a ConfigurationError naming the setting
    # One reading connection for the run (a pool checkout and its ping per page would cost more than
    # the page's own query) and one writing connection, see `_PageWriter`.
    with database.engine.connect() as reader, _PageWriter(database, summary) as writer:
        while True:
            limit = request.batch_size
            if request.max_documents is not None:
                limit = min(limit, request.max_documents - summary.evaluated)
            if limit <= 0:
                break
            with reader.begin():
                page = reader.execute(_page_query(request, after, limit)).all()
            if page:
                after = (page[-1].retrieved_at, page[-1].digest)
                writer.submit(_normalize_page(page, request.force, summary, logger))
            progress.advance(len(page))
            if len(page) < limit:
                break
    summary.seconds = time.monotonic() - started
    logger.info(summary.line())
    return summary


def _relax_commit_durability(conn: sa.Connection) -> None:
    """PostgreSQL: this page's COMMIT does not wait for its WAL flush (`synchronous_commit = off`, for
    this transaction only). Statements are derived data: a crash loses at most the last pages of a
    run, whose documents then have no statements and are backfilled by the next run. SQLite: nothing
    to do (the database runs with `synchronous=NORMAL` in WAL mode already)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")


def _page_query(request: BackfillRequest, after: tuple[dt.datetime, str] | None, limit: int) -> sa.Select:
    """One page in keyset order, whether each document has statements (one indexed probe per row of
    the page, in the same query), and the content of the documents that will be normalized only."""
    raw = vex_raw_documents
    # A correlated scalar subquery with LIMIT 1 is an index probe per row; PostgreSQL would run a plain
    # EXISTS as a hashed subplan over the whole statements table, once per page.
    first_statement = (
        sa.select(sa.literal(1))
        .where(vex_statements.c.document_digest == raw.c.digest)
        .limit(1)
        .scalar_subquery()
    )
    has_statements = first_statement.is_not(None)
    content = raw.c.content if request.force else sa.case((has_statements, sa.null()), else_=raw.c.content)
    query = sa.select(
        raw.c.digest,
        raw.c.retrieved_at,
        raw.c.provider,
        raw.c.format,
        raw.c.signature,
        has_statements.label("has_statements"),
        content.label("content"),
    )
    if request.retrieved_since is not None:
        query = query.where(raw.c.retrieved_at >= request.retrieved_since)
    if request.retrieved_before is not None:
        query = query.where(raw.c.retrieved_at < request.retrieved_before)
    if after is not None:
        query = query.where(
            sa.tuple_(raw.c.retrieved_at, raw.c.digest)
            > sa.tuple_(sa.literal(after[0], TZDateTime()), sa.literal(after[1], sa.String()))
        )
    return query.order_by(raw.c.retrieved_at, raw.c.digest).limit(limit)


@dataclass
class _PageWrite:
    """What one page writes: its statement rows, and (with force) the documents whose old ones go."""

    rows: list[tuple[Any, ...]]
    replaced: list[str]


def _normalize_page(page: Sequence[sa.Row], force: bool, summary: BackfillSummary, logger: Any) -> _PageWrite:
    summary.evaluated += len(page)
    due = page if force else [row for row in page if not row.has_statements]
    summary.skipped += len(page) - len(due)
    inserted_at = dt.datetime.now(dt.timezone.utc)
    rows: list[tuple[Any, ...]] = []
    normalized_digests: list[str] = []
    for row in due:
        result = normalize_document(bytes(row.content), row.format)
        if isinstance(result, NormalizeFailure):
            summary.failures += 1
            if len(summary.failed_digests) < _FAILED_DIGESTS_KEPT:
                summary.failed_digests.append(row.digest)
            logger.warning("vex document %s failed to normalize: %s", row.digest, result.reason)
            continue
        for reason in result.skipped:
            logger.info("vex document %s: statement skipped: %s", row.digest, reason)
        summary.statements_skipped += len(result.skipped)
        summary.backfilled += 1
        normalized_digests.append(row.digest)
        rows.extend(
            (
                row.digest,
                s.vulnerability_id,
                s.product_key,
                s.status,
                s.justification,
                s.detail,
                list(s.subcomponents) or None,
                row.provider,
                s.timestamp,
                inserted_at,
                row.signature,
            )
            for s in result.statements
        )
    return _PageWrite(rows, normalized_digests if force else [])


class _PageWriter:
    """Writes pages in order, each in its own transaction (with force: delete the documents' old
    statements, then insert, together). PostgreSQL: on its own connection in a background thread, so
    the server stores page N while this thread reads and normalizes page N+1; at most one page is in
    flight. SQLite: inline on the calling thread (SQLite has one writer at a time anyway)."""

    def __init__(self, database: Database, summary: BackfillSummary):
        self.database, self.summary = database, summary
        self.pending: Future[None] | None = None

    def __enter__(self) -> _PageWriter:
        self.conn = self.database.engine.connect()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="vex-backfill") if self.database.is_postgres else None
        return self

    def submit(self, write: _PageWrite) -> None:
        self._wait()
        if self.pool is None:
            self._write(write)
        else:
            self.pending = self.pool.submit(self._write, write)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def _write(self, write: _PageWrite) -> None:
        with self.conn.begin():
            _relax_commit_durability(self.conn)
            if write.replaced:
                self.conn.execute(
                    sa.delete(vex_statements).where(vex_statements.c.document_digest.in_(write.replaced))
                )
            self.summary.claims_written += self.database.bulk_insert(
                self.conn, vex_statements, write.rows, columns=STATEMENT_COLUMNS
            )

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        try:
            if exc_type is None:
                self._wait()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)
            self.conn.close()




def retrieved_bounds(database: Database, since: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime] | None:
    """The first and last `retrieved_at` of the raw documents (on or after `since`); None when there are none."""
    query = sa.select(sa.func.min(vex_raw_documents.c.retrieved_at), sa.func.max(vex_raw_documents.c.retrieved_at))
    if since is not None:
        query = query.where(vex_raw_documents.c.retrieved_at >= since)
    with database.begin() as conn:
        first, last = conn.execute(query).one()
    if first is None:
        return None
    # min()/max() lose the column type on SQLite: bring the values back through it.
    return _aware(first), _aware(last)


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
