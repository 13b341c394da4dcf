"""The `pipelines` command on click: one group per domain (each domain's `cli.py` has its group,
`cli`), plus `db upgrade` and `demo`. A command builds the domain's request model, calls the domain
and prints; an error the user can fix prints as one line, `error: ...`, with exit status 2.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import click

from pipelines.core.runner import set_console_log_level, user_error
from pipelines.core.secrets import install_log_masking

EXIT_USER_ERROR = 2


class _Pipelines(click.Group):
    """The root group: domain groups are added when the command runs, and user errors are one line."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.Abort:
            print("error: aborted", file=sys.stderr)
            return 1
        except click.ClickException as exc:
            exc.show()
            return exc.exit_code
        except Exception as exc:
            error = user_error(exc)
            if error is None:
                raise
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USER_ERROR


@click.group(cls=_Pipelines, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("-v", "--verbose", is_flag=True, help="Log progress and Dagster's run log to stderr.")
def cli(verbose: bool) -> None:
    """One Dagster code location for the platform team's data-movement jobs."""
    # Without -v the user sees the command's output or one line of error, not libraries' warnings
    # (dagster-postgres logs each retry of an unreachable instance database).
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, stream=sys.stderr)
    install_log_masking()
    _quiet_dagster_warnings()
    # Run logs are for -v; without it the user sees the command's output, or one line of error.
    set_console_log_level("DEBUG" if verbose else "CRITICAL")


@cli.group()
def db() -> None:
    """The application database."""


@db.command()
def upgrade() -> None:
    """Apply every migration."""
    from pipelines.core.resources import DatabaseResource

    database = DatabaseResource().get_database()
    database.check()
    database.upgrade()
    click.echo(f"database {database.url.render_as_string(hide_password=True)} is up to date")


@cli.command()
@click.option("--scale", type=float, default=1.0, help="Size of the sample data (1 = small).")
@click.option("--seed", type=int, default=7, help="Random seed of the sample data.")
def demo(scale: float, seed: int) -> None:
    """Sample data, then every asset end to end."""
    from pipelines.demo import run_demo

    run_demo(scale=scale, seed=seed)


def _add_domain_groups() -> None:
    from pipelines.core.domains import domain_modules

    for module in domain_modules("cli"):
        cli.add_command(module.cli)


def _quiet_dagster_warnings() -> None:
    """Dagster's notices about beta / preview APIs we use on purpose are not for the CLI's user."""
    import dagster as dg

    for category in (dg.BetaWarning, dg.PreviewWarning):
        warnings.filterwarnings("ignore", category=category)


_add_domain_groups()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (`argv` without the program name); returns the exit status."""
    return cli.main(args=list(argv) if argv is not None else None, prog_name="pipelines") or 0


if __name__ == "__main__":
    sys.exit(main())
