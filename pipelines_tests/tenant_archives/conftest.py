"""Tenant-archive fixtures: a second, fresh database on the same backend, sample tenants, row reading."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore
from pipelines.core.rfc4180 import read_records
from pipelines.tenant_archives import tables
from pipelines.tenant_archives.settings import TENANT_ARCHIVE_SETTINGS
from pipelines_tests.conftest import fresh_schema_url


@pytest.fixture(autouse=True)
def no_archive_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's archive keys or stale time; a test sets what it needs."""
    for setting in TENANT_ARCHIVE_SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)


@pytest.fixture
def target_database(database: Database, tmp_path: Path) -> Iterator[Database]:
    """A second migrated database, empty, on the same backend as `database`."""
    if not database.is_postgres:
        target = Database(f"sqlite:///{tmp_path / 'target.db'}")
        target.upgrade()
        yield target
        return
    with fresh_schema_url() as url:
        target = Database(url)
        target.upgrade()
        yield target


@pytest.fixture
def store(local_store: LocalObjectStore) -> LocalObjectStore:
    return local_store


def tenant_rows(database: Database, tenant: str) -> dict[str, list[dict]]:
    """Every row of `tenant` per entity table, tenant column blanked, in primary-key order."""
    found = {}
    with database.begin() as conn:
        for table in tables.ENTITY_TABLES:
            rows = conn.execute(sa.select(table).where(table.c.tenant == tenant)).mappings()
            found[table.name] = sorted(
                ({**row, "tenant": "*"} for row in rows), key=lambda r: [repr(r[c.name]) for c in table.primary_key]
            )
    return found


def row_counts(database: Database) -> dict[str, int]:
    with database.begin() as conn:
        return {t.name: conn.scalar(sa.select(sa.func.count()).select_from(t)) for t in tables.ENTITY_TABLES}


def csv_records(store: LocalObjectStore, key: str) -> list[list[str | None]]:
    with store.open_read(key) as raw:
        return list(read_records(io.TextIOWrapper(raw, encoding="utf-8", newline="")))
