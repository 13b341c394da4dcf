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


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgres:/u:Hunter2Secret@host/db",
            "error: PIPELINES_DATABASE_URL: malformed database URL 'postgres:/u:***@host/db': "
            "expected e.g. postgresql://user@host:5432/db",
        ),
        (
            "postgresql://u:Hunter2Secret@host:abc/db",
            "error: PIPELINES_DATABASE_URL: malformed database URL 'postgresql://u:***@host:abc/db': "
            "its port is not a number (e.g. host:5432)",
        ),
    ],
    ids=["malformed-url-with-password", "non-numeric-port"],
)
def test_a_bad_database_url_is_one_line_and_never_shows_its_password(url, expected):
    result = run_cli("db", "upgrade", env={"PIPELINES_DATABASE_URL": url})
    assert result.returncode == 2
    assert result.stderr.strip() == expected
    assert "Hunter2Secret" not in result.stdout + result.stderr


def _demo_on_the_production_instance(tmp_path, **dagster_pg: str) -> list[str]:
    """`pipelines demo` with DAGSTER_HOME holding deploy/dagster.yaml and only the given DAGSTER_PG_*
    variables set; returns the lines it printed to stderr (it must exit 2)."""
    import os
    import shutil

    from pipelines_tests.support.dagster_instance import REPO

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    env.update(DAGSTER_HOME=str(home), PIPELINES_HOME=str(tmp_path / "home"), **dagster_pg)
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "demo", "--scale", "0.01"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    return result.stderr.strip().splitlines()


def test_an_unset_dagster_pg_variable_is_one_line_naming_it(tmp_path):
    [line] = _demo_on_the_production_instance(tmp_path)
    assert line.startswith("error: DAGSTER_PG_")
    assert line.endswith(f"not set; {tmp_path / 'dagster_home'}/dagster.yaml reads it (see README: Run it like production)")


def test_an_unreachable_instance_database_is_one_line_with_no_password(tmp_path):
    [line] = _demo_on_the_production_instance(
        tmp_path,
        DAGSTER_PG_HOST="127.0.0.1",
        DAGSTER_PG_PORT="1",
        DAGSTER_PG_USER="dagster",
        DAGSTER_PG_PASSWORD="Hunter2Secret",
        DAGSTER_PG_DB="dagster",
    )
    assert line.startswith("error: DAGSTER_PG_HOST: cannot connect to the instance's PostgreSQL")
    assert "Hunter2Secret" not in line
