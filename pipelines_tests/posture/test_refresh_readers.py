"""PostgreSQL: a refresh of `responsive_responsibility_aggregate` never blocks its readers.

Each reader sets `lock_timeout`: a reader that had to wait for a lock longer than that fails the test
instead of hanging. The refresh is held in its middle by a transaction that locks a catalog table
(so the standby's REFRESH waits for it), and at its swap by a reader that started before it.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.posture.aggregate import MATERIALIZED, active_materialized_view, refresh_aggregate
from pipelines.posture.tables import component_instance_responsibility_fulfillments as cirfs

pytestmark = pytest.mark.postgres

READER_LOCK_TIMEOUT = "1s"


def read_view(database: Database) -> tuple[int, int]:
    """(rows, FAILING rows) of the view, read by a reader that waits at most READER_LOCK_TIMEOUT."""
    with database.begin() as conn:
        conn.execute(sa.text(f"SET LOCAL lock_timeout = '{READER_LOCK_TIMEOUT}'"))
        return tuple(conn.execute(sa.text(
            "SELECT count(*), count(*) FILTER (WHERE status = 'FAILING') FROM responsive_responsibility_aggregate"
        )).one())


class Refresh(threading.Thread):
    def __init__(self, database: Database):
        super().__init__(daemon=True)
        self.database, self.result, self.error = database, None, None

    def run(self) -> None:
        try:
            self.result = refresh_aggregate(self.database)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def waiting_for_lock(database: Database, statement_start: str) -> bool:
    with database.begin() as conn:
        return bool(conn.scalar(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE :q"
        ), {"q": f"{statement_start}%"}))


@pytest.fixture
def database(pg_database: Database) -> Database:
    """PostgreSQL only (the `catalog` fixture builds on this)."""
    return pg_database


@pytest.fixture
def refreshed(pg_database, catalog):
    catalog.cirs("my-service", "security-control-001", "PRODUCTION", "APP", passing=3)
    catalog.cirs("my-service", "security-control-002", "PRODUCTION", "APP", failing=1)
    refresh_aggregate(pg_database)
    return pg_database


def test_readers_see_the_old_rows_while_the_standby_refreshes_then_the_new_ones(refreshed, catalog):
    database = refreshed
    before = active_materialized_view_of(database)
    catalog.cirs("other-service", "security-control-003", "STAGING", "DB", failing=2)
    blocker = database.engine.connect()
    blocker_tx = blocker.begin()
    blocker.execute(sa.text(f"LOCK TABLE {cirfs.name} IN ACCESS EXCLUSIVE MODE"))
    refresh = Refresh(database)
    refresh.start()
    try:
        wait_until(lambda: waiting_for_lock(database, "REFRESH MATERIALIZED VIEW"))

        assert read_view(database) == (2, 1)  # the old snapshot, without waiting
    finally:
        blocker_tx.rollback()
        blocker.close()
    refresh.join(60)

    assert refresh.error is None
    assert read_view(database) == (3, 2)
    assert refresh.result.materialized_view != before
    assert {before, refresh.result.materialized_view} == set(MATERIALIZED)


def test_a_reader_that_holds_the_view_delays_the_swap_but_not_other_readers(refreshed, catalog):
    database = refreshed
    catalog.cirs("other-service", "security-control-003", "STAGING", "DB", failing=2)
    long_reader = database.engine.connect()
    long_tx = long_reader.begin()
    assert long_reader.scalar(sa.text("SELECT count(*) FROM responsive_responsibility_aggregate")) == 2
    refresh = Refresh(database)
    refresh.start()
    try:
        wait_until(lambda: refresh.is_alive() and waiting_for_lock(database, "CREATE OR REPLACE VIEW"))
        started = time.monotonic()
        for _ in range(5):  # every reader gets through, each within the swap's lock wait
            assert read_view(database) == (2, 1)
        assert time.monotonic() - started < 5
    finally:
        long_tx.rollback()
        long_reader.close()
    refresh.join(60)

    assert refresh.error is None
    assert refresh.result.swap_attempts > 1
    assert read_view(database) == (3, 2)


def active_materialized_view_of(database: Database) -> str:
    with database.begin() as conn:
        return active_materialized_view(conn)
