"""README command 1: `pipelines demo` on the embedded default, no server, no settings."""

import os
import subprocess
import sys


def test_demo_runs_every_domain_end_to_end_on_the_embedded_default(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINES_", "DAGSTER_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "demo", "--scale", "0.2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "demo complete:" in result.stdout
    assert (tmp_path / ".pipelines" / "pipelines.db").exists()
