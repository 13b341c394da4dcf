"""The `pipelines` command: bad configuration is one clear line naming the setting, exit 2."""

import subprocess
import sys

import pytest

from pipelines.cli import main


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_db_upgrade_on_the_embedded_default(clean_environment, capsys):
    assert main(["db", "upgrade"]) == 0
    assert "is up to date" in capsys.readouterr().out
    assert (clean_environment / "pipelines.db").exists()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PIPELINES_DATABASE_URL": "postgres ql://x"}, "error: PIPELINES_DATABASE_URL: malformed database URL"),
        (
            {"PIPELINES_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/app"},
            "error: PIPELINES_DATABASE_URL: cannot connect to postgresql+psycopg://nobody@127.0.0.1:1/app",
        ),
    ],
    ids=["malformed-url", "unreachable-postgres"],
)
def test_bad_database_setting_is_one_line(env, expected):
    result = run_cli("db", "upgrade", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(expected)
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_bucket_is_one_line(moto_server):
    result = run_cli(
        "demo",
        env={"PIPELINES_S3_BUCKET": "no-such-bucket", "PIPELINES_S3_ENDPOINT_URL": moto_server},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: PIPELINES_S3_BUCKET: bucket 'no-such-bucket' does not exist at {moto_server}"
