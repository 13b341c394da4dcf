"""What a refused input must leave as it was: the rows of a domain's tables and the objects of a store.

The fuzz tests take a snapshot before feeding an input and compare after a refusal: equal snapshots
mean nothing was written (no row added, changed or removed; no object added, changed or removed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import ObjectStore


def table_rows(database: Database, tables: Iterable[sa.Table]) -> dict[str, list[tuple[str, ...]]]:
    """Every row of each table, as text, in a stable order (the test's tables are small)."""
    found: dict[str, list[tuple[str, ...]]] = {}
    with database.begin() as conn:
        for table in tables:
            found[table.name] = sorted(tuple(repr(value) for value in row) for row in conn.execute(sa.select(table)))
    return found


def store_objects(store: ObjectStore, prefix: str = "") -> dict[str, str]:
    """Each object's key and the sha256 of its bytes."""
    return {info.key: hashlib.sha256(store.get_bytes(info.key)).hexdigest() for info in store.list(prefix)}
