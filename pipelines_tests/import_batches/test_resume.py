"""A run SIGKILLed in its middle (a separate process, PostgreSQL) is resumed by the next run: the batch
ends complete and every object is created once. And statements grow with levels, not objects."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import sqlalchemy as sa

from pipelines.import_batches.processing import process_batch
from pipelines.import_batches.sample import CatalogBatch
from pipelines.import_batches.tables import import_batches, import_object_targets, import_pending_objects
from pipelines.posture import tables as catalog

from .conftest import rows

SLOW_RUN = textwrap.dedent(
    """
    import sys, time
    from pipelines.core.database import Database
    from pipelines.core.object_store import LocalObjectStore
    from pipelines.import_batches.creators import ImportCreators
    from pipelines.import_batches.processing import process_batch

    class SlowCreators(ImportCreators):
        def component_instance(self, wave):
            super().component_instance(wave)
            time.sleep(1.5)  # inside the wave's transaction, after its inserts

    process_batch(Database(sys.argv[1]), LocalObjectStore(sys.argv[2]), "killed", SlowCreators())
    """
)


def waves_done(database) -> int:
    with database.begin() as conn:
        return conn.scalar(sa.select(import_batches.c.waves).where(import_batches.c.batch_id == "killed")) or 0


def test_a_run_killed_half_way_is_resumed_without_creating_anything_twice(pg_database, postgres_url, local_store):
    batch = CatalogBatch(objects=400, levels=7, prefix="kill")
    batch.write(local_store, "killed")
    process = subprocess.Popen([sys.executable, "-c", SLOW_RUN, postgres_url, str(local_store.root)])
    try:
        deadline = time.monotonic() + 60
        while waves_done(pg_database) < 3 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # now inside wave 4's transaction
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    killed_at = rows(pg_database, sa.select(import_batches.c.status, import_batches.c.waves))
    created_before = dict(rows(pg_database, sa.select(catalog.component_instances.c.name, catalog.component_instances.c.id)))
    assert killed_at == [("processing", 3)]
    assert len(created_before) == 2 * batch.per_level  # levels 1 and 2 of 6 instance levels

    state = process_batch(pg_database, local_store, "killed")

    assert (state.status, state.waves, state.errors) == ("complete", 7, [])
    assert state.objects["complete"] == 400
    counts = [
        rows(pg_database, sa.select(sa.func.count(), sa.func.count(sa.distinct(t.c.id))).select_from(t))[0]
        for t in (catalog.services, catalog.component_instances, catalog.component_instance_responsibilities)
    ]
    assert counts == [(400 - batch.instances - 3 * batch.roots,) * 2, (batch.instances,) * 2, (batch.independent_links,) * 2]
    after = dict(rows(pg_database, sa.select(catalog.component_instances.c.name, catalog.component_instances.c.id)))
    assert {name: after[name] for name in created_before} == created_before
    recorded = sa.select(import_object_targets.c.object_id).where(import_object_targets.c.object_id == import_pending_objects.c.id)
    without_id = sa.select(sa.func.count()).where(~recorded.exists())
    assert rows(pg_database, without_id) == [(0,)]


def count_statements(database, run) -> int:
    counted = []
    listener = lambda *args: counted.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    sa.event.listen(database.engine, "before_cursor_execute", listener)
    try:
        run()
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", listener)
    return len(counted)


def test_statements_grow_with_levels_not_with_objects(database, local_store):
    small, large = CatalogBatch(200, 5, prefix="small"), CatalogBatch(1000, 5, prefix="large")
    small.write(local_store, "small")
    large.write(local_store, "large")

    statements = [
        count_statements(database, lambda name=name: process_batch(database, local_store, name))
        for name in ("small", "large")
    ]

    assert statements[0] == statements[1]


CONCURRENT_RUN = textwrap.dedent(
    """
    import sys, time
    from pipelines.core.database import Database
    from pipelines.core.object_store import LocalObjectStore
    from pipelines.import_batches.processing import process_batch

    while time.time() < float(sys.argv[3]):  # both processes start together
        time.sleep(0.01)
    state = process_batch(Database(sys.argv[1]), LocalObjectStore(sys.argv[2]), "twice")
    print(state.status, state.waves)
    """
)


def test_two_concurrent_runs_of_one_new_batch_are_serialized_not_an_integrity_error(
    pg_database, postgres_url, local_store
):
    batch = CatalogBatch(objects=3000, levels=4, prefix="twice")
    batch.write(local_store, "twice")
    start_at = str(time.time() + 3)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_RUN, postgres_url, str(local_store.root), start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=120) for process in processes]

    assert [(process.returncode, out, err) for process, (out, err) in zip(processes, results)] == [
        (0, "complete 4\n", ""),
        (0, "complete 4\n", ""),
    ]
    assert rows(pg_database, sa.select(import_batches.c.status, import_batches.c.waves)) == [("complete", 4)]
    counts = [
        rows(pg_database, sa.select(sa.func.count()).select_from(t))[0][0]
        for t in (catalog.services, catalog.component_instances, catalog.component_instance_responsibilities)
    ]
    assert counts == [3000 - batch.instances - 3 * batch.roots, batch.instances, batch.independent_links]
