"""The repository as a new user meets it (README "Open the UI"): `dagster dev`, `dg check defs` and
`dg list defs` in the repository root with no DAGSTER_* / PIPELINES_* variables set. They read the
top-level dagster.yaml (the embedded default's instance), never the production one in deploy/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines_tests.support.code_location import ASSET_GROUPS
from pipelines_tests.support.dagster_instance import (
    BIN,
    REPO,
    free_port,
    graphql,
    group_alive,
    running,
    wait_for_webserver,
)


@pytest.fixture
def nothing_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new user's shell: no DAGSTER_* or PIPELINES_* variable at all (not even the tests' own)."""
    for name in list(os.environ):
        if name.startswith(("DAGSTER_", "PIPELINES_")):
            monkeypatch.delenv(name)


def fresh_copy(destination: Path) -> Path:
    """The working tree as `git clone` would give it: tracked and new unignored files only, so no
    .venv, no .pipelines, no instance folder left by an earlier `dagster dev`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True, timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is not listed as such
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def test_dagster_dev_in_a_fresh_copy_serves_the_asset_nodes_on_the_embedded_default(nothing_set, tmp_path):
    root = fresh_copy(tmp_path / "pipelines")
    assert (root / "dagster.yaml").is_file() and not (root / ".venv").exists()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    args = [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)]
    with running("dagster-dev", args, {}, tmp_path, cwd=root) as dev:
        wait_for_webserver(dev, base_url, timeout=240)
        data = graphql(
            base_url,
            "{ assetNodes { assetKey { path } groupName } "
            "instance { info poolConfig { defaultPoolLimit } } }",
        )
        pgid = dev.process.pid
    served = {"/".join(node["assetKey"]["path"]): node["groupName"] for node in data["assetNodes"]}
    assert served == ASSET_GROUPS
    # The root dagster.yaml (its pool limit) on SQLite, not deploy/dagster.yaml's PostgreSQL storage.
    assert data["instance"]["poolConfig"] == {"defaultPoolLimit": 1}
    assert "run_storage: SqliteRunStorage" in data["instance"]["info"], data["instance"]["info"]
    assert not group_alive(pgid), "dagster dev left processes behind"


def dg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "dg"), *args], cwd=REPO, capture_output=True, text=True, timeout=240,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_dg_check_defs_loads_the_definitions_from_the_repository_root(nothing_set):
    result = dg("check", "defs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully." in result.stdout


def test_dg_list_defs_lists_every_asset_in_its_group_from_the_repository_root(nothing_set):
    result = dg("list", "defs", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assets = json.loads(result.stdout)["assets"]
    assert {asset["asset_key"]: asset["group_name"] for asset in assets} == ASSET_GROUPS
