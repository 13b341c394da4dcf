"""The UI in a real browser: headless Chromium renders the asset graph and a partitions page."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines.definitions import defs as load_defs
from pipelines_tests.e2e.conftest import ARTIFACTS, Deployment

defs = load_defs()

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
    "--virtual-time-budget=20000",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
    return found


def render(url: str, profile: Path, *extra: str) -> str:
    result = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_asset_graph_shows_every_group_and_a_partition_status(deployment: Deployment, tmp_path: Path):
    ARTIFACTS.mkdir(exist_ok=True)
    graph_url = f"{deployment.base_url}/asset-groups"
    dom = render(graph_url, tmp_path / "p1", "--dump-dom")
    groups = {spec.group_name for spec in defs.resolve_all_asset_specs()}
    missing = sorted(group for group in groups if group not in dom)
    assert missing == [], f"asset groups not shown on {graph_url}: {missing}"
    render(graph_url, tmp_path / "p2", f"--screenshot={ARTIFACTS / 'asset-graph.png'}")

    partitions_url = f"{deployment.base_url}/assets/study_exports_daily?view=partitions"
    dom = render(partitions_url, tmp_path / "p3", "--dump-dom")
    assert "Missing" in dom or "Materialized" in dom, f"no partition status on {partitions_url}"
    render(partitions_url, tmp_path / "p4", f"--screenshot={ARTIFACTS / 'study-exports-partitions.png'}")
    assert (ARTIFACTS / "asset-graph.png").stat().st_size > 10_000
