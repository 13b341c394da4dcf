"""Study-export fixtures: a few studies with records around 2016-10-03 (the seed's example day)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import pytest
import sqlalchemy as sa

from pipelines.core import rfc4180
from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore, ObjectStore
from pipelines.study_exports.tables import records, studies, study_export_times

UTC = dt.timezone.utc
# The seed's re-drive message (its field names and text values).
SEED_MESSAGE = {
    "endDateTime": "2016-10-04T00:00:00Z",
    "startDateTime": "2016-10-03T00:00:00Z",
    "exportType": "DAILY",
    "ignoreLastExportTime": "true",
    "tag": "test exporter",
}


def at(text: str) -> dt.datetime:
    """`"10-03 12:00"` -> 2016-10-03T12:00Z."""
    return dt.datetime.fromisoformat(f"2016-{text}").replace(tzinfo=UTC)


# (record_id, study_id, uploaded_on, schema_key, data)
RECORDS = [
    ("r01", "s1", at("10-02 23:00"), "survey", {"q": 0}),
    ("r02", "s1", at("10-03 00:00"), "survey", {"q": 1}),
    ("r03", "s1", at("10-03 06:30"), "walk", {"steps": 300}),
    ("r04", "s1", at("10-03 12:00"), "survey", {"q": 2}),
    ("r05", "s1", at("10-03 23:10"), "survey", {"q": "3, \"quoted\""}),
    ("r06", "s1", at("10-04 00:00"), "survey", {"q": 4}),
    ("r07", "s2", at("10-03 08:00"), "walk", {"steps": 10}),
    ("r08", "s2", at("10-03 23:30"), "walk", {"steps": 20}),
    ("r09", "s3", at("10-03 23:45"), "survey", {"q": 9}),
]


def seed(database: Database, rows=RECORDS, study_ids=("s1", "s2", "s3")) -> None:
    with database.begin() as conn:
        conn.execute(studies.insert(), [{"study_id": s, "name": f"Study {s}"} for s in study_ids])
        database.bulk_insert(
            conn,
            records,
            rows,
            columns=["record_id", "study_id", "uploaded_on", "schema_key", "data"],
        )


def set_watermark(database: Database, study_id: str, when: dt.datetime | None) -> None:
    with database.begin() as conn:
        conn.execute(study_export_times.insert().values(study_id=study_id, last_export_date_time=when))


@pytest.fixture
def seeded(database: Database) -> Database:
    seed(database)
    return database


def exported_ids(store: ObjectStore, keys) -> list[str]:
    """The record ids in the CSV files at `keys`, in file order."""
    ids = []
    for key in keys:
        with store.open_read(key) as raw:
            rows = list(rfc4180.read_records(io.TextIOWrapper(raw, encoding="utf-8", newline="")))
        assert rows[0] == ["record_id", "study_id", "schema_key", "uploaded_on", "data"]
        ids.extend(row[0] for row in rows[1:])
    return ids


class FailingStore(LocalObjectStore):
    """A real local store whose writes fail from the `fail_from`-th on (the store "goes down"),
    or only for keys containing `fail_key` (one bad file)."""

    def __init__(self, root, fail_from: int | None = None, fail_key: str | None = None):
        super().__init__(root)
        self.fail_from, self.fail_key, self.writes = fail_from, fail_key, 0

    @contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        self.writes += 1
        failing = (self.fail_from is not None and self.writes >= self.fail_from) or (
            self.fail_key is not None and self.fail_key in key
        )
        with super().open_write(key) as out:
            yield out
            if failing:
                raise OSError(f"simulated store failure writing {key}")


def count_rows(database: Database, table: sa.Table) -> int:
    with database.begin() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table))
