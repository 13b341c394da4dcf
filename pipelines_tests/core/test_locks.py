"""Named locks: one holder per name and schema; other names and other schemas never wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pipelines.core.database import Database
from pipelines.core.locks import exclusive, transaction_lock, try_transaction_lock
from pipelines_tests.conftest import fresh_schema_url


@pytest.fixture
def other_schema(postgres_server: str) -> Iterator[Database]:
    """A second application beside `pg_database`: the same server and database, its own schema."""
    with fresh_schema_url(postgres_server) as url:
        yield Database(url)


@pytest.mark.postgres
def test_a_transaction_lock_has_one_holder_per_name_and_schema_until_the_transaction_ends(
    pg_database: Database, other_schema: Database
):
    with pg_database.engine.connect() as first, pg_database.engine.connect() as second:
        first.begin()
        second.begin()
        assert try_transaction_lock(first, "restore:acme") is True
        assert try_transaction_lock(second, "restore:acme") is False
        assert try_transaction_lock(second, "restore:globex") is True
        with other_schema.engine.begin() as elsewhere:
            assert try_transaction_lock(elsewhere, "restore:acme") is True
        first.commit()
        second.rollback()
        second.begin()
        assert try_transaction_lock(second, "restore:acme") is True
        second.rollback()


def test_sqlite_grants_a_transaction_lock_at_once_since_its_writers_are_already_serialized(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'app.db'}")
    with database.engine.connect() as first, database.engine.connect() as second:
        transaction_lock(first, "import")
        assert try_transaction_lock(first, "import") is True
        assert try_transaction_lock(second, "import") is True


def test_exclusive_makes_the_second_holder_wait_for_the_first_to_leave(database: Database):
    order: list[str] = []
    entered = threading.Event()

    def first() -> None:
        with exclusive(database, "backfill"):
            order.append("first in")
            entered.set()
            time.sleep(0.5)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    assert entered.wait(10)
    with exclusive(database, "backfill"):
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]
