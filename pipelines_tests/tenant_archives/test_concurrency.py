"""Two restores into one tenant at once, as two processes on PostgreSQL (issue 13, 4)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipelines.tenant_archives.archive import archive_tenant
from pipelines.tenant_archives.generate import TenantSize, generate_tenants
from pipelines_tests.tenant_archives.conftest import tenant_rows


@pytest.mark.timeout(300)
def test_two_concurrent_restores_into_one_tenant_one_wins_the_other_prints_one_line(pg_database, tmp_path):
    home = tmp_path / "home"
    generate_tenants(pg_database, ["acme"], TenantSize(users=500, events=30000))
    from pipelines.core.object_store import LocalObjectStore

    key, _ = archive_tenant(pg_database, LocalObjectStore(home / "objects"), "acme", "job-1")
    env = {
        **os.environ,
        "PIPELINES_DATABASE_URL": pg_database.url.render_as_string(hide_password=False),
        "PIPELINES_HOME": str(home),
    }
    command = [sys.executable, "-m", "pipelines.cli", "archives", "restore", "--manifest", key, "--tenant", "acme-2"]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    results = [(p.wait(timeout=240), p.stdout.read(), p.stderr.read()) for p in processes]
    assert sorted(code for code, _, _ in results) == [0, 2], results
    [(_, won, _)] = [r for r in results if r[0] == 0]
    [(_, _, lost)] = [r for r in results if r[0] == 2]
    assert won.strip() == f"restored {key} as tenant acme-2: {1 + 3 * 500 + 3 + 30000 + 1 + 14 + 14} rows"
    assert len(lost.strip().splitlines()) == 1, lost
    assert lost.startswith("error: tenant 'acme-2' "), lost
    assert (
        "is being restored by another run right now: wait for it, or restore under another name" in lost
        or "already has rows in applications" in lost
    ), lost
    assert tenant_rows(pg_database, "acme-2") == tenant_rows(pg_database, "acme")
