"""The code location loads fast and without I/O."""

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import time
    import dagster  # the frameworks' own import time is not ours to cut; measure what we add
    import sqlalchemy as sa

    connects = []
    sa.event.listen(sa.pool.Pool, "connect", lambda *a: connects.append(a))
    started = time.monotonic()
    import pipelines.definitions as d
    elapsed = time.monotonic() - started
    from pipelines.core import database
    assert d.defs is not None
    print(len(connects), len(database._engines), round(elapsed, 3))
    """
)


def test_importing_definitions_opens_no_connection_and_is_fast(tmp_path):
    import os

    env = {
        **os.environ,
        # An unreachable server: any connection attempt at import would show (or hang).
        "PIPELINES_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/app",
        "PIPELINES_HOME": str(tmp_path / "home"),
    }
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    connects, engines, seconds = result.stdout.split()
    assert (connects, engines) == ("0", "0")
    assert float(seconds) < 2.0
    assert not (tmp_path / "home").exists()
