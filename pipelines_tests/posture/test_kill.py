"""A REPLACE_ALL import killed (SIGKILL, another process) in its middle leaves exactly the previous set."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa

from pipelines.posture.documents import DocumentSource, write_document
from pipelines.posture.lite_import import import_lite_dynamic_state
from pipelines.posture.requests import ImportRequest
from pipelines.posture.sample_catalog import CatalogShape, lite_objects, write_catalog
from pipelines.posture.tables import (
    component_instance_responsibilities as cirs,
    component_instance_responsibility_fulfillments as cirfs,
    component_instances as cis,
)

IMPORTER = textwrap.dedent(
    """
    import sys, time
    from pipelines.core.database import Database
    from pipelines.core.object_store import LocalObjectStore
    from pipelines.posture.documents import DocumentSource
    from pipelines.posture.lite_import import import_lite_dynamic_state
    from pipelines.posture.requests import ImportRequest

    def on_batch(result):
        print(f"written {result.componentInstanceResponsibilitiesInserted}", flush=True)
        time.sleep(0.02)

    url, path, root = sys.argv[1:4]
    result = import_lite_dynamic_state(
        Database(url), LocalObjectStore(root), DocumentSource(path=path), ImportRequest(batch_size=500),
        on_batch=on_batch,
    )
    print("committed", result.componentInstancesDeleted, flush=True)
    """
)


def script_set(database):
    with database.begin() as conn:
        return sorted(tuple(row) for row in
            conn.execute(
                sa.select(cis.c.id, cis.c.name, cis.c.parent_id, cirs.c.responsibility_id, cirfs.c.status)
                .outerjoin(cirs, cirs.c.component_instance_id == cis.c.id)
                .outerjoin(cirfs, cirfs.c.component_instance_responsibility_id == cirs.c.id)
                .where(cis.c.created_by == "lite-import-script")
            )
        )


def write_objects(path, shape, count, failing_share):
    with open(path, "w", encoding="utf-8") as out:
        write_document(out, lite_objects(shape, count, failing_share))
    return path


@pytest.mark.postgres
def test_sigkill_in_the_middle_of_replace_all_leaves_the_previous_set(pg_database, local_store, tmp_path, postgres_url):
    shape = CatalogShape.for_objects(12000, responsibilities_per_component=20)
    write_catalog(pg_database, shape)
    previous = write_objects(tmp_path / "previous.json", shape, 400, 0.1)
    import_lite_dynamic_state(pg_database, local_store, DocumentSource(path=str(previous)), ImportRequest())
    before = script_set(pg_database)
    assert len(before) == 400
    replacement = write_objects(tmp_path / "replacement.json", shape, 12000, 0.5)

    child = subprocess.Popen(
        [sys.executable, "-c", IMPORTER, postgres_url, str(replacement), str(local_store.root)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in child.stdout:  # the previous set is deleted by now, batches are being written
            lines.append(line.strip())
            if line.strip() == "written 5000":  # the first 5000 rows are written, 7000 to go
                os.kill(child.pid, signal.SIGKILL)
                break
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    assert lines == ["written 0"] * 9 + ["written 5000"]

    assert script_set(pg_database) == before
    # The killed session's lock is gone: the same import now runs to its end.
    done = import_lite_dynamic_state(pg_database, local_store, DocumentSource(path=str(replacement)), ImportRequest())
    assert (done.componentInstanceResponsibilitiesDeleted, done.componentInstanceResponsibilitiesInserted) == (400, 12000)
