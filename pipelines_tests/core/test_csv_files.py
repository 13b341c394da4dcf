"""`GroupedCsvWriter`: one CSV object per group, rejected rows, a failing file, and COPY's bytes."""

import hashlib
from contextlib import contextmanager

import sqlalchemy as sa

from pipelines.core.csv_files import GroupedCsvWriter
from pipelines.core.database import copy_out_csv
from pipelines.core.object_store import LocalObjectStore

ROWS = [
    ("1", "a", "x, y"),
    ("2", "a", None),  # rejected: NULL last field
    ("3", "b", 'say "hi"'),
    ("4", "b", ""),
]
A_CSV = b'id,group,value\r\n1,a,"x, y"\r\n'
B_CSV = b'id,group,value\r\n3,b,"say ""hi"""\r\n4,b,""\r\n'


def _writer(store):
    return GroupedCsvWriter(store, ("id", "group", "value"), lambda group: f"out/{group[0]}.csv")


def test_rows_go_to_one_file_per_group_with_counts_and_sha256(local_store):
    writer = _writer(local_store)
    writer.write_rows(ROWS)
    assert [(f.key, f.group, f.rows) for f in writer.files] == [("out/a.csv", ("a",), 1), ("out/b.csv", ("b",), 2)]
    assert local_store.get_bytes("out/a.csv") == A_CSV
    assert local_store.get_bytes("out/b.csv") == B_CSV
    assert [f.sha256 for f in writer.files] == [hashlib.sha256(A_CSV).hexdigest(), hashlib.sha256(B_CSV).hexdigest()]
    assert [f.bytes for f in writer.files] == [len(A_CSV), len(B_CSV)]
    assert writer.rejected == ["2"]


class _FailingOn(LocalObjectStore):
    def __init__(self, root, fail_key):
        super().__init__(root)
        self.fail_key = fail_key

    @contextmanager
    def open_write(self, key):
        with super().open_write(key) as out:
            yield out
            if key == self.fail_key:
                raise OSError(f"simulated failure writing {key}")


def test_a_file_the_store_cannot_write_rejects_its_rows_and_the_others_go_on(tmp_path):
    store = _FailingOn(tmp_path / "objects", "out/a.csv")
    writer = _writer(store)
    writer.write_rows(ROWS)
    assert [f.key for f in writer.files] == ["out/b.csv"]
    assert writer.rejected == ["2", "1"]
    assert [i.key for i in store.list("out/")] == ["out/b.csv"]


def test_copy_rows_of_postgres_are_the_same_bytes(pg_database, local_store):
    values = sa.values(
        sa.column("id", sa.Text), sa.column("grp", sa.Text), sa.column("value", sa.Text), name="v"
    ).data(ROWS)
    query = sa.select(values.c.id, values.c.grp, values.c.value).order_by(values.c.id)
    writer = _writer(local_store)
    with pg_database.begin() as conn:
        writer.write_copy(copy_out_csv(conn, query))
    assert local_store.get_bytes("out/a.csv") == A_CSV
    assert local_store.get_bytes("out/b.csv") == B_CSV
    assert writer.rejected == ["2"]
