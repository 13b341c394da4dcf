"""Tenant-archive fixtures: a second, fresh database on the same backend, sample tenants, row reading."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore
from pipelines.core.rfc4180 import read_records
from pipelines.tenant_archives import tables
from pipelines.tenant_archives.settings import TENANT_ARCHIVE_SETTINGS
from pipelines_tests.conftest import POSTGRES_URL


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
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = Database(POSTGRES_URL).engine
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    target = Database(url.render_as_string(hide_password=False))
    try:
        target.upgrade()
        yield target
    finally:
        target.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


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
