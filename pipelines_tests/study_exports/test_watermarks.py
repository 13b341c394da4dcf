"""The watermark table: cascades with its study, moves only forwards, and serializes exports."""

import multiprocessing
import time

import pytest
import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore
from pipelines.study_exports.export import run_export
from pipelines.study_exports.requests import ExportRequest
from pipelines.study_exports.tables import records, studies, study_export_times
from pipelines.study_exports.watermarks import advance_export_times, read_export_times
from pipelines_tests.study_exports.conftest import RECORDS, at, count_rows, exported_ids, seed, set_watermark


def test_deleting_a_study_removes_its_export_time_row_and_records(seeded):
    set_watermark(seeded, "s1", at("10-03 00:00"))
    set_watermark(seeded, "s2", at("10-03 00:00"))
    with seeded.begin() as conn:
        conn.execute(studies.delete().where(studies.c.study_id == "s1"))
    assert read_export_times(seeded) == {"s2": at("10-03 00:00")}
    assert count_rows(seeded, records) == 3


def test_a_watermark_never_moves_backwards(seeded):
    set_watermark(seeded, "s1", at("10-04 00:00"))
    set_watermark(seeded, "s2", None)
    with seeded.begin() as conn:
        moved = advance_export_times(conn, {"s1": at("10-03 00:00"), "s2": at("10-03 00:00")})
    assert moved == 1
    assert read_export_times(seeded) == {"s1": at("10-04 00:00"), "s2": at("10-03 00:00")}


class SlowStore(LocalObjectStore):
    """A real local store whose every write takes a while, so that two exports overlap."""

    def open_write(self, key):
        time.sleep(0.3)
        return super().open_write(key)


def _export_in_process(url, root, barrier, queue):
    database = Database(url)
    request = ExportRequest.parse({"exportType": "DAILY", "endDateTime": "2016-10-04T00:00:00Z"})
    barrier.wait()
    result = run_export(database, SlowStore(root), request)
    queue.put((result.records, result.keys))


@pytest.mark.postgres
def test_two_identical_requests_at_once_export_the_window_once(pg_database, postgres_url, tmp_path):
    seed(pg_database, RECORDS)
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_export_in_process, args=(postgres_url, str(tmp_path / "objects"), barrier, queue))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(queue.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    (zero, no_keys), (seven, keys) = outcomes
    assert (zero, no_keys, seven) == (0, [], 7)
    store = LocalObjectStore(tmp_path / "objects")
    assert sorted(exported_ids(store, keys)) == ["r02", "r03", "r04", "r05", "r07", "r08", "r09"]
    with pg_database.begin() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(study_export_times)) == 3
