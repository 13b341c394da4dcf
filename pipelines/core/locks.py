"""Named locks of the application database: the one home of every domain's "one at a time".

PostgreSQL: advisory locks keyed by the schema and the name, so two applications in two schemas of one
database (each test's, or a staging beside production) never wait on each other's locks. SQLite: a
writing transaction (BEGIN IMMEDIATE) already excludes every other writer, so a transaction lock is
always granted at once; `exclusive`, which spans transactions, holds an `flock` on a file beside the
database (an in-memory database has no other process to wait for).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.database import Database


def _key(name: str) -> sa.ColumnElement:
    return sa.func.hashtextextended(sa.func.concat(sa.func.current_schema(), ":", name), 0)


def transaction_lock(conn: Connection, name: str) -> None:
    """Hold the lock `name` until the transaction ends, waiting for whoever holds it."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_key(name))))


def try_transaction_lock(conn: Connection, name: str) -> bool:
    """Take the lock `name` until the transaction ends, or False at once when another holds it."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(_key(name)))))


@contextmanager
def exclusive(database: Database, name: str) -> Iterator[None]:
    """Hold the lock `name` for the block (any number of transactions), waiting for whoever holds it."""
    if database.is_postgres:
        with database.engine.connect() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_lock(_key(name))))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(_key(name))))
                conn.commit()
        return
    path = database.url.database
    if not path or path == ":memory:":
        yield
        return
    with open(Path(path).with_name(f"{Path(path).name}.{name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
