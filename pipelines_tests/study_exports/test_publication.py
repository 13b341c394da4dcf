"""Publication (issue 12): no export, failed or killed, removes or hides another export's files; the
watermarks move only over what was written; any study id exports; a killed export's leftovers go."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from contextlib import contextmanager

import psycopg
import pytest
import sqlalchemy as sa

from pipelines.core.object_store import LocalObjectStore
from pipelines.study_exports import publication
from pipelines.study_exports.export import run_export
from pipelines.study_exports.publication import current_exports, published_manifests, read_manifest
from pipelines.study_exports.requests import ExportRequest
from pipelines.study_exports.tables import records, studies, study_export_log, study_exports_under_way
from pipelines.study_exports.watermarks import read_export_times
from pipelines_tests.study_exports.conftest import FailingStore, at, count_rows, exported_ids, seed

DAILY_END = "2016-10-04T00:00:00Z"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def export(database, store, **message):
    return run_export(database, store, ExportRequest.parse(message))


def _sha256(store, key):
    return hashlib.sha256(store.get_bytes(key)).hexdigest()


def _listed_keys(store):
    """Every file a consumer can reach: the files of the published manifests."""
    return sorted(f["key"] for key in published_manifests(store) for f in read_manifest(store, key)["files"])


class _TerminatingStore(LocalObjectStore):
    """A real local store that, when the export opens its second file, has another session end the
    export's database connection (`pg_terminate_backend`) while its COPY is streaming."""

    def __init__(self, root, admin_url):
        super().__init__(root)
        self.admin_url, self.csv_writes, self.ended = admin_url, 0, []

    @contextmanager
    def open_write(self, key):
        if key.endswith(".csv"):
            self.csv_writes += 1
            if self.csv_writes == 2:
                with psycopg.connect(self.admin_url, autocommit=True) as admin:
                    self.ended = admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                        "AND query LIKE 'COPY (SELECT records.record_id, records.study_id%'"
                    ).fetchall()
                time.sleep(0.5)  # the server closes the connection
        with super().open_write(key) as out:
            yield out


def test_a_reexport_that_fails_half_way_leaves_the_first_export_whole(database, tmp_path, postgres_server):
    seed(database)
    store = LocalObjectStore(tmp_path / "objects")
    first = export(database, store, exportType="DAILY", endDateTime=DAILY_END)
    manifest = read_manifest(store, first.manifest_key)
    sums = {f["key"]: f["sha256"] for f in manifest["files"]}
    assert len(sums) == 4 and {_sha256(store, k) for k in sums} == set(sums.values())
    watermarks = read_export_times(database)

    if database.is_postgres:
        admin = sa.make_url(postgres_server).set(drivername="postgresql").render_as_string(hide_password=False)
        failing = _TerminatingStore(tmp_path / "objects", admin)
        expected = (sa.exc.OperationalError, psycopg.OperationalError)
    else:
        failing = FailingStore(tmp_path / "objects", fail_key="study_exports/manifests/")
        expected = (OSError,)
    with pytest.raises(expected):
        export(database, failing, exportType="DAILY", endDateTime=DAILY_END, ignoreLastExportTime=True,
               startDateTime="2016-10-03T00:00:00Z")

    if database.is_postgres:
        assert failing.ended == [(True,)]  # the export's own connection, and only it
    assert {key: _sha256(store, key) for key in sums} == sums
    assert read_manifest(store, first.manifest_key) == manifest
    assert read_export_times(database) == watermarks == {s: at("10-04 00:00") for s in ("s1", "s2", "s3")}
    assert published_manifests(store) == [first.manifest_key]
    assert _listed_keys(store) == sorted(sums)
    # Nothing of the failed export is left, in the bucket or the database.
    assert [i.key for i in store.list("study_exports/")] == sorted([*sums, first.manifest_key])
    assert count_rows(database, study_exports_under_way) == 0
    assert count_rows(database, study_export_log) == 1
    window = (at("10-03 00:00"), at("10-04 00:00"))
    assert current_exports(database, "DAILY", *window) == {s: first.manifest_key for s in ("s1", "s2", "s3")}


def test_a_reexport_is_a_new_export_beside_the_first_and_becomes_current(database, local_store):
    seed(database)
    first = export(database, local_store, exportType="DAILY", endDateTime=DAILY_END)
    again = export(database, local_store, exportType="DAILY", endDateTime=DAILY_END, ignoreLastExportTime=True)
    assert set(first.keys).isdisjoint(again.keys)
    assert exported_ids(local_store, first.keys) == exported_ids(local_store, again.keys)
    assert sorted(published_manifests(local_store)) == sorted([first.manifest_key, again.manifest_key])
    window = (at("10-03 00:00"), at("10-04 00:00"))
    assert current_exports(database, "DAILY", *window) == {s: again.manifest_key for s in ("s1", "s2", "s3")}


def _wait_for(path, process, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"the export process exited with {process.returncode}"
        assert time.monotonic() < deadline, "the export process never reached its second file"
        time.sleep(0.1)


def _wait_until_postgres_lets_go(database, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with database.begin() as conn:
            busy = conn.scalar(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND query LIKE 'COPY (SELECT records.record_id, records.study_id%'"
            ))
        if not busy:
            return
        time.sleep(0.2)
    raise AssertionError("the killed export's backend is still there")


def test_a_killed_export_is_never_listed_and_the_next_run_removes_its_leftovers(database, tmp_path, monkeypatch):
    seed(database)
    root, marker = tmp_path / "objects", tmp_path / "stalled"
    url = database.url.render_as_string(hide_password=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines_tests.study_exports.killable", url, str(root), str(marker)], cwd=REPO
    )
    try:
        _wait_for(marker, process)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    if database.is_postgres:
        _wait_until_postgres_lets_go(database)
    store = LocalObjectStore(root)
    with database.begin() as conn:
        [(killed, prefix)] = conn.execute(sa.select(study_exports_under_way.c.export_id, study_exports_under_way.c.prefix))
    leftovers = [p for p in (root / prefix).rglob("*") if p.is_file()]
    assert len(leftovers) == 2 and any(p.name.startswith(".tmp-") for p in leftovers)  # one CSV, one half
    assert published_manifests(store) == []
    assert read_export_times(database) == {"s1": None, "s2": None, "s3": None}

    monkeypatch.setattr(publication, "LEFTOVER_GRACE", publication.dt.timedelta(0))
    after = export(database, store, exportType="DAILY", endDateTime=DAILY_END)
    assert not (root / prefix).exists()
    assert count_rows(database, study_exports_under_way) == 0
    assert published_manifests(store) == [after.manifest_key]
    assert not any(killed in key for key in _listed_keys(store))
    assert exported_ids(store, after.keys) == ["r02", "r04", "r05", "r03", "r07", "r08", "r09"]
    assert [i.key for i in store.list("study_exports/")] == sorted([*after.keys, after.manifest_key])


def test_an_export_that_is_running_is_not_taken_for_a_leftover(pg_database, local_store):
    seed(pg_database)
    publication.begin(pg_database, "running-export", at("10-03 00:00"))
    local_store.put_bytes("study_exports/exports/running-export/daily/x.csv", b"a\r\n")
    with pg_database.begin() as conn:
        publication.hold(pg_database, conn, "running-export")
        # Another session's cleanup skips the row this transaction holds.
        assert publication.remove_leftovers(pg_database, local_store, at("10-05 00:00")) == []
    assert local_store.exists("study_exports/exports/running-export/daily/x.csv")
    assert publication.remove_leftovers(pg_database, local_store, at("10-05 00:00")) == ["running-export"]
    assert not local_store.exists("study_exports/exports/running-export/daily/x.csv")


ODD_IDS = [".", "..", "a/b", "étude", "x" * 200]


def test_any_study_id_exports_under_a_reversible_key_and_the_manifest_names_it(database, local_store):
    with database.begin() as conn:
        conn.execute(studies.insert(), [{"study_id": s, "name": f"odd study {n}"} for n, s in enumerate(ODD_IDS)])
        conn.execute(records.insert(), [
            {"record_id": f"r{n}", "study_id": s, "uploaded_on": at("10-03 12:00"), "schema_key": "survey", "data": {"n": n}}
            for n, s in enumerate(ODD_IDS)
        ])
    result = export(database, local_store, exportType="DAILY", endDateTime=DAILY_END)
    manifest = read_manifest(local_store, result.manifest_key)
    assert sorted(f["study_id"] for f in manifest["files"]) == sorted(ODD_IDS)
    assert sorted(manifest["windows"]) == sorted(ODD_IDS)
    segments = {f["study_id"]: f["key"].split("/")[-2] for f in manifest["files"]}
    assert segments["."] == "%2E" and segments[".."] == "%2E%2E"
    assert segments["a/b"] == "a%2Fb" and segments["étude"] == "%C3%A9tude"
    assert all(urllib.parse.unquote(segments[s]) == s for s in ODD_IDS)
    assert exported_ids(local_store, result.keys) == ["r0", "r1", "r2", "r4", "r3"]
    assert result.records == 5


def test_a_very_long_id_of_non_ascii_letters_gets_a_short_segment_with_a_hash():
    segment = publication.key_segment("é" * 200)
    assert len(segment) <= publication.MAX_SEGMENT_BYTES
    assert segment.startswith("%C3%A9") and "~" in segment
    assert segment != publication.key_segment("é" * 199)


def test_an_empty_instant_window_leaves_a_never_exported_study_alone_and_daily_exports_each_record_once(
    database, local_store
):
    seed(database)
    # INSTANT ending at midnight: its window [00:00, 00:00) of the end's day is empty.
    empty = export(database, local_store, exportType="INSTANT", endDateTime=DAILY_END, studyWhitelist=["s1", "s2"])
    assert (empty.records, empty.windows, empty.watermarks_moved) == (0, {"s1": None, "s2": None}, 0)
    assert read_export_times(database) == {"s1": None, "s2": None}
    daily = export(database, local_store, exportType="DAILY", endDateTime=DAILY_END)
    assert read_export_times(database) == {s: at("10-04 00:00") for s in ("s1", "s2", "s3")}
    every_file = _listed_keys(local_store)
    assert sorted(exported_ids(local_store, every_file)) == ["r02", "r03", "r04", "r05", "r07", "r08", "r09"]
    assert daily.records == 7


def _start_export(database, root, marker, study, gate):
    url = database.url.render_as_string(hide_password=False)
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines_tests.study_exports.killable", url, str(root), str(marker), study, str(gate)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )


def _waiting_on_a_watermark_lock(database):
    with database.begin() as conn:
        return conn.scalar(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0 "
            "AND query LIKE '%study_export_times%FOR UPDATE%'"
        ))


def test_disjoint_study_sets_export_at_once_and_identical_requests_export_once(pg_database, tmp_path):
    seed(pg_database)
    root = tmp_path / "objects"
    gate = tmp_path / "go"
    first = _start_export(pg_database, root, tmp_path / "first", "s1", gate)
    try:
        _wait_for(tmp_path / "first", first)
        # s1's export is half way, holding s1's watermark row: an export of s2 does not wait for it.
        other = export(pg_database, LocalObjectStore(root), exportType="DAILY", endDateTime=DAILY_END,
                       studyWhitelist=["s2"])
        assert exported_ids(LocalObjectStore(root), other.keys) == ["r07", "r08"]
        # The same request as the first waits for the first's commit, then finds nothing new.
        same = _start_export(pg_database, root, tmp_path / "same", "s1", gate)
        deadline = time.monotonic() + 30
        while not _waiting_on_a_watermark_lock(pg_database):
            assert time.monotonic() < deadline and same.poll() is None
            time.sleep(0.1)
        gate.write_text("go\n")
        assert [process.communicate(timeout=60)[0] for process in (first, same)] == ["4\n", "0\n"]
    finally:
        gate.write_text("go\n")
        for process in (first, locals().get("same")):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    store = LocalObjectStore(root)
    assert sorted(exported_ids(store, _listed_keys(store))) == ["r02", "r03", "r04", "r05", "r07", "r08"]
    assert read_export_times(pg_database) == {"s1": at("10-04 00:00"), "s2": at("10-04 00:00")}


def test_a_connection_lost_mid_export_is_one_line_and_nothing_is_half_written(pg_database, tmp_path, postgres_server):
    from pipelines.core.errors import ConnectionLostError
    from pipelines.core.runner import user_error

    seed(pg_database)
    admin = sa.make_url(postgres_server).set(drivername="postgresql").render_as_string(hide_password=False)
    failing = _TerminatingStore(tmp_path / "objects", admin)

    with pytest.raises((sa.exc.OperationalError, psycopg.OperationalError)) as raised:
        export(pg_database, failing, exportType="DAILY", endDateTime=DAILY_END)

    error = user_error(raised.value)  # what the CLI prints after "error: ", and the run's failure reason
    assert isinstance(error, ConnectionLostError) and "\n" not in str(error)
    assert str(error).startswith("the database connection failed or was lost: ")
    assert str(error).endswith("; what was committed before stays, the rest was rolled back")
    assert failing.ended == [(True,)]
    assert published_manifests(failing) == [] and _listed_keys(failing) == []
    assert read_export_times(pg_database) == {"s1": None, "s2": None, "s3": None}  # not moved
    assert (count_rows(pg_database, study_export_log), count_rows(pg_database, study_exports_under_way)) == (0, 0)
