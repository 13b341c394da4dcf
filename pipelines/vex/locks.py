"""One writer at a time for the vex domain's bulk steps (a backfill, a consensus recompute): a second
CLI backfill started meanwhile waits for the first, then finds its documents done, instead of
failing on the statements' unique key.

PostgreSQL: a session advisory lock held on its own connection for the step. SQLite: an exclusive
`flock` on a file beside the database (`<database>.<name>.lock`); an in-memory database has no other
process to wait for.
"""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from pipelines.core.database import Database


@contextmanager
def exclusive(database: Database, name: str) -> Iterator[None]:
    """Hold the domain's lock `name` for the block, waiting for whoever holds it."""
    if database.is_postgres:
        key = zlib.crc32(f"pipelines.vex.{name}".encode())
        with database.engine.connect() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_lock(key)))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
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
