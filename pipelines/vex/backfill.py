"""`backfill-statements`: rebuild `vex_statements` from the raw documents (the seed's runbook).

Raw documents stream in ascending (`retrieved_at`, `digest`), `batch_size` per page: with each
document, the normalizer version that already did it (`vex_normalized_documents`; then it is
skipped unless `force` or the version is older) and the content of the others, which are
normalized (a large one is read apart, in pieces: `read_content`). One backfill runs at a time
(`locks.exclusive`). PostgreSQL reads the run through one server-side cursor, SQLite by
keyset pagination (one query per page); see `_pages`. A page's statements are bulk-inserted in one
transaction with the documents' done-marks and the consensus pairs they change (with `force` or a
newer normalizer, the documents' old statements and marks are deleted first, in that transaction). On
PostgreSQL the writes run on a second connection while the next pages are read and normalized, and the
pages normalized while a write was in flight go together in the next one; see `_PageWriter`. A document
that fails to parse or normalize is logged with its digest and counted; the rest of its page is still
written, and its old statements (if any) are kept.

Counters (README "VEX statements"):
- evaluated: raw documents read in the window (at most `max_documents`);
- skipped: evaluated documents left alone because the current normalizer version already did them
  (`vex_normalized_documents`; never with `force`);
- backfilled: evaluated documents normalized and whose statements were written (possibly none);
- failures: evaluated documents that could not be parsed or normalized;
- claims written: statement rows inserted.
evaluated = skipped + backfilled + failures.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from psycopg.rows import namedtuple_row

from pipelines.core.database import Database, TZDateTime
from pipelines.core.progress import Progress
from pipelines.vex.consensus import mark_pending_from
from pipelines.core.locks import exclusive
from pipelines.vex.normalizers import NORMALIZER_VERSION, Normalized, NormalizeFailure, normalize_document
from pipelines.vex.requests import MAX_BATCH_SIZE, BackfillRequest
from pipelines.vex.tables import vex_normalized_documents, vex_raw_documents, vex_statements

log = logging.getLogger(__name__)

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
    "impact_statement",
    "action_statement",
    "aliases",
    "document_at",
    "retrieved_at",
    "run_id",
)
# Documents larger than this are read apart from the page, in pieces of CONTENT_PIECE_BYTES.
LARGE_CONTENT_BYTES = 4 * 1024 * 1024
CONTENT_PIECE_BYTES = 1024 * 1024
MARK_COLUMNS = ("digest", "normalizer_version", "statements", "normalized_at", "run_id")
_FAILED_DIGESTS_KEPT = 20
# PostgreSQL: documents per FETCH of the reading cursor; the next FETCH runs while these are normalized.
FETCH_DOCUMENTS = 2000
# PostgreSQL: a write that takes several pages stops taking more at this many statements.
MAX_WRITE_STATEMENTS = 20_000


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
    run_id: str = ""

    def line(self) -> str:
        return (
            f"Backfill completed: evaluated {self.evaluated}, backfilled {self.backfilled}, "
            f"claims written {self.claims_written}, skipped {self.skipped}, failures {self.failures}."
        )


@dataclass(frozen=True)
class Window:
    """The `retrieved_at` range a run covers (a partition range); None: unbounded on that side."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def within(self, request: BackfillRequest) -> Window:
        """This window narrowed by the request's `retrievedSince`."""
        since = request.since
        if since is None or (self.start is not None and self.start >= since):
            return self
        return Window(since, self.end)


def backfill_statements(
    database: Database,
    request: BackfillRequest,
    *,
    window: Window = Window(),
    run_id: str | None = None,
    logger: Any = None,
) -> BackfillSummary:
    """Normalize raw documents into statements, page by page; see the module docstring. Statements
    and done-marks carry `run_id` (a Dagster run's id; a fresh one when not given), what
    `vex rollback --run` deletes."""
    logger = logger or log
    started = time.monotonic()
    summary = BackfillSummary(run_id=run_id or f"backfill-{uuid.uuid4().hex}")
    progress = Progress("vex documents evaluated", logger=logger)
    database.check()  # a connection problem is a ConfigurationError naming the setting
    # One backfill at a time (a second waits, then skips what the first did); one reading
    # connection for the run and one writing connection, see `_PageWriter`.
    with exclusive(database, "vex.backfill"), database.engine.connect() as reader, _PageWriter(database, summary) as writer:
        for page in _pages(reader, request, window.within(request)):
            writer.submit(_normalize_page(page, request.force, summary, logger, database))
            progress.advance(len(page))
    summary.seconds = time.monotonic() - started
    logger.info(summary.line())
    return summary


def _pages(reader: sa.Connection, request: BackfillRequest, window: Window) -> Iterator[Sequence[Any]]:
    """The raw documents of the request in ascending (`retrieved_at`, `digest`), `batch_size` at a
    time, at most `max_documents` in all; each row with the columns of `_documents_query`."""
    if reader.dialect.name == "postgresql":
        return _pages_through_cursor(reader, request, window)
    return _pages_by_keyset(reader, request, window)


def _pages_through_cursor(reader: sa.Connection, request: BackfillRequest, window: Window) -> Iterator[Sequence[Any]]:
    """PostgreSQL: one query for the run through a server-side cursor, about `FETCH_DOCUMENTS` rows
    (whole pages) per round trip, in binary (the content crosses as bytes, not as hex text to
    decode); a second thread fetches the next rows while these are normalized, so the server's side
    of the read overlaps too. At most two fetches are held. A cursor is planned for its first rows: an index scan in keyset
    order, no sort of the window. Whether a document has statements is seen as of the run's start
    (the cursor's snapshot, held until the run's read ends).

    The statements table grows during the run while the plan stays the one made at its start: when
    the table was empty or small then, the planner would scan it once per document (quadratic), so
    sequential scans are off for this read; its every access has an index that fits.
    """
    compiled = _documents_query(request, window, limit=request.max_documents).compile(dialect=reader.dialect)
    driver = reader.connection.driver_connection
    with reader.begin():
        reader.exec_driver_sql("SET LOCAL enable_seqscan = off")
        with driver.cursor(
            "vex_backfill_documents", binary=True, row_factory=namedtuple_row
        ) as cursor, ThreadPoolExecutor(1, thread_name_prefix="vex-backfill-read") as ahead:
            # Bind values go to psycopg as they are: aware datetimes and integers need no SQLAlchemy processing.
            cursor.execute(str(compiled), compiled.params)
            per_fetch = request.batch_size * max(1, FETCH_DOCUMENTS // request.batch_size)  # whole pages
            fetched = cursor.fetchmany(per_fetch)
            while fetched:
                next_fetched = ahead.submit(cursor.fetchmany, per_fetch)
                for start in range(0, len(fetched), request.batch_size):
                    yield fetched[start : start + request.batch_size]
                fetched = next_fetched.result()


def _pages_by_keyset(reader: sa.Connection, request: BackfillRequest, window: Window) -> Iterator[Sequence[Any]]:
    """SQLite: keyset pagination, one query and one transaction per page (a read transaction held
    across the run would hold the lock that the page writes need)."""
    left = sys.maxsize if request.max_documents is None else request.max_documents
    after: tuple[dt.datetime, str] | None = None
    while left > 0:
        limit = min(request.batch_size, left)
        with reader.begin():
            page = reader.execute(_documents_query(request, window, after=after, limit=limit)).all()
        if page:
            yield page
        if len(page) < limit:
            break
        left -= len(page)
        after = (page[-1].retrieved_at, page[-1].digest)


def _relax_commit_durability(conn: sa.Connection) -> None:
    """PostgreSQL: this write's COMMIT does not wait for its WAL flush (`synchronous_commit = off`, for
    this transaction only). Statements are derived data: a crash loses at most the last writes of a
    run, whose documents then have no statements and are backfilled by the next run. SQLite: nothing
    to do (the database runs with `synchronous=NORMAL` in WAL mode already)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")


def _documents_query(
    request: BackfillRequest,
    window: Window,
    *,
    after: tuple[dt.datetime, str] | None = None,
    limit: int | None = None,
) -> sa.Select:
    """The request's documents in keyset order (after `after`, at most `limit`), whether each has
    statements (one indexed probe per row, in the same query), and the content of the documents that
    will be normalized only."""
    raw = vex_raw_documents
    # A correlated scalar subquery on the marks' primary key is an index probe per row; PostgreSQL
    # would run a join or EXISTS as a hashed subplan over the whole table.
    done_version = (
        sa.select(vex_normalized_documents.c.normalizer_version)
        .where(vex_normalized_documents.c.digest == raw.c.digest)
        .scalar_subquery()
    )
    is_done = sa.func.coalesce(done_version, 0) >= NORMALIZER_VERSION
    size = sa.func.length(raw.c.content)
    # A large document's content is read apart, in pieces (see `read_content`): through the
    # cursor it would sit in the driver's buffers twice beside its bytes.
    skip_content = size > LARGE_CONTENT_BYTES if request.force else sa.or_(is_done, size > LARGE_CONTENT_BYTES)
    content = sa.case((skip_content, sa.null()), else_=raw.c.content)
    query = sa.select(
        raw.c.digest,
        raw.c.retrieved_at,
        raw.c.provider,
        raw.c.format,
        raw.c.signature,
        done_version.label("done_version"),
        size.label("size"),
        content.label("content"),
    )
    if window.start is not None:
        query = query.where(raw.c.retrieved_at >= window.start)
    if window.end is not None:
        query = query.where(raw.c.retrieved_at < window.end)
    if after is not None:
        query = query.where(
            sa.tuple_(raw.c.retrieved_at, raw.c.digest)
            > sa.tuple_(sa.literal(after[0], TZDateTime()), sa.literal(after[1], sa.String()))
        )
    return query.order_by(raw.c.retrieved_at, raw.c.digest).limit(limit)


@dataclass
class _PageWrite:
    """What one page (or several, see `_PageWriter`) writes: statement rows, and (with force) the
    documents whose old statements go."""

    rows: list[tuple[Any, ...]]
    replaced: list[str]
    marks: list[tuple[Any, ...]]

    def take(self, other: _PageWrite) -> None:
        self.rows += other.rows
        self.replaced += other.replaced
        self.marks += other.marks

    def full(self) -> bool:
        """Take no more pages: a write holds at most 2 x `MAX_BATCH_SIZE` replaced documents, under
        PostgreSQL's 65,535 parameters (SQLite writes one page at a time)."""
        return len(self.rows) >= MAX_WRITE_STATEMENTS or len(self.replaced) >= MAX_BATCH_SIZE


def read_content(database: Database, digest: str, size: int) -> bytearray:
    """A raw document's bytes read in `CONTENT_PIECE_BYTES` pieces into one buffer of its size."""
    content = bytearray(size)
    with database.engine.connect() as conn:
        for start in range(0, size, CONTENT_PIECE_BYTES):
            piece = conn.scalar(
                sa.select(sa.func.substr(vex_raw_documents.c.content, start + 1, CONTENT_PIECE_BYTES)).where(
                    vex_raw_documents.c.digest == digest
                )
            )
            content[start : start + len(piece)] = piece
    return content


def _normalize_page(
    page: Sequence[Any], force: bool, summary: BackfillSummary, logger: Any, database: Database
) -> _PageWrite:
    summary.evaluated += len(page)
    due = page if force else [row for row in page if (row.done_version or 0) < NORMALIZER_VERSION]
    summary.skipped += len(page) - len(due)
    inserted_at = dt.datetime.now(dt.timezone.utc)
    rows: list[tuple[Any, ...]] = []
    replaced: list[str] = []
    marks: list[tuple[Any, ...]] = []
    for row in due:
        content = row.content if row.content is not None else read_content(database, row.digest, row.size)
        result = normalize_document(content, row.format)
        del content
        if isinstance(result, NormalizeFailure):
            summary.failures += 1
            if len(summary.failed_digests) < _FAILED_DIGESTS_KEPT:
                summary.failed_digests.append(row.digest)
            logger.warning("vex document %s failed to normalize: %s", row.digest, result.reason)
            continue
        for reason in result.skipped:
            logger.info("vex document %s: statement skipped: %s", row.digest, reason)
        summary.statements_skipped += result.skipped_count
        summary.backfilled += 1
        if force or row.done_version is not None:
            replaced.append(row.digest)  # its statements and mark of an earlier normalization go
        marks.append((row.digest, NORMALIZER_VERSION, len(result.statements), inserted_at, summary.run_id))
        rows += statement_rows(row, result, inserted_at, summary.run_id)
        del result
    return _PageWrite(rows, replaced, marks)


def statement_rows(document: Any, result: Normalized, inserted_at: dt.datetime, run_id: str) -> list[tuple[Any, ...]]:
    """One document's normalized statements as `vex_statements` rows, in `STATEMENT_COLUMNS` order
    (`result.statements` is emptied); `document` has the raw document's `digest`, `provider`, `signature` and `retrieved_at`."""
    digest, provider, signature, retrieved_at = (
        document.digest, document.provider, document.signature, document.retrieved_at
    )
    document_at = result.document_timestamp
    rows = []
    # Taken from the end of the statement list as the rows are made, so that a large document does
    # not hold its statements and their rows at once.
    statements = result.statements
    while statements:
        s = statements.pop()
        rows.append(
            (
                digest,
                s.vulnerability_id,
                s.product_key,
                s.status,
                s.justification,
                s.detail,
                s.subcomponents or None,  # JSON arrays; the tuples are shared, not copied per row
                provider,
                s.timestamp,
                inserted_at,
                signature,
                s.impact,
                s.action,
                s.aliases or None,
                document_at,
                retrieved_at,
                run_id,
            )
        )
    rows.reverse()
    return rows


class _PageWriter:
    """Writes pages in order, a write in one transaction (with force: delete the documents' old
    statements, then insert, together).

    PostgreSQL: on its own connection in a background thread, so that the server stores statements
    while this thread reads and normalizes the next pages. The pages normalized while a write is in
    flight wait, and the next write takes them all (one transaction, one COPY; up to
    `MAX_WRITE_STATEMENTS`, then the caller waits): that thread then needs the interpreter lock a few
    dozen times per run rather than several times per page, and normalization keeps it. A write in
    flight and one waiting are all that is held. SQLite: each page inline on the calling thread
    (SQLite has one writer at a time anyway)."""

    def __init__(self, database: Database, summary: BackfillSummary):
        self.database, self.summary = database, summary
        self.in_flight: Future[None] | None = None
        self.waiting: _PageWrite | None = None

    def __enter__(self) -> _PageWriter:
        self.conn = self.database.engine.connect()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="vex-backfill") if self.database.is_postgres else None
        return self

    def submit(self, write: _PageWrite) -> None:
        if self.pool is None:
            self._write(write)
            return
        if self.waiting is None:
            self.waiting = write
        else:
            self.waiting.take(write)
        if self.in_flight is None or self.in_flight.done() or self.waiting.full():
            self._wait()
            self.in_flight, self.waiting = self.pool.submit(self._write, self.waiting), None

    def _wait(self) -> None:
        if self.in_flight is not None:
            in_flight, self.in_flight = self.in_flight, None
            in_flight.result()

    def _write(self, write: _PageWrite) -> None:
        """One transaction: the replaced documents' statements and marks out, the new ones in, and
        the pairs whose consensus that changes recorded as pending (server-side, from the rows
        themselves: the writes are serialized by the backfill lock, so the ids above the largest
        before the COPY are this write's)."""
        s = vex_statements
        pair = (s.c.vulnerability_id, s.c.product_key)
        with self.conn.begin():
            _relax_commit_durability(self.conn)
            if write.replaced:
                replaced = s.c.document_digest.in_(write.replaced)
                mark_pending_from(self.conn, sa.select(*pair).where(replaced).distinct())
                self.conn.execute(sa.delete(s).where(replaced))
                self.conn.execute(
                    sa.delete(vex_normalized_documents).where(vex_normalized_documents.c.digest.in_(write.replaced))
                )
            last_id = self.conn.scalar(sa.select(sa.func.coalesce(sa.func.max(s.c.id), 0)))
            written = self.database.bulk_insert(self.conn, s, write.rows, columns=STATEMENT_COLUMNS)
            self.summary.claims_written += written
            self.database.bulk_insert(self.conn, vex_normalized_documents, write.marks, columns=MARK_COLUMNS)
            if written:
                mark_pending_from(self.conn, sa.select(*pair).where(s.c.id > last_id).distinct())

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        try:
            if exc_type is None:
                self._wait()
                if self.waiting is not None:
                    self._write(self.waiting)
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
