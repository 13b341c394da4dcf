"""The `pipelines` command: parses, calls the domain, prints. Errors print as one line."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence

from pipelines.core.errors import PipelinesError
from pipelines.core.runner import set_console_log_level, user_error


def _db_upgrade(args: argparse.Namespace) -> int:
    from pipelines.core.resources import DatabaseResource

    database = DatabaseResource().get_database()
    database.check()
    database.upgrade()
    print(f"database {database.url.render_as_string(hide_password=True)} is up to date")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    run_demo(scale=args.scale, seed=args.seed)
    return 0


def _domain_commands() -> list:
    from pipelines.import_batches import cli as import_batches_cli
    from pipelines.posture import cli as posture_cli
    from pipelines.study_exports import cli as study_exports_cli
    from pipelines.tenant_archives import cli as tenant_archives_cli
    from pipelines.vex import cli as vex_cli

    return [posture_cli, study_exports_cli, vex_cli, tenant_archives_cli, import_batches_cli]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pipelines", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="the application database")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every migration").set_defaults(func=_db_upgrade)

    demo = commands.add_parser("demo", help="sample data, then every asset end to end")
    demo.add_argument("--scale", type=float, default=1.0, help="size of the sample data (1 = small)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the sample data")
    demo.set_defaults(func=_demo)

    for module in _domain_commands():
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    _quiet_dagster_warnings()
    # Run logs are for -v; without it the user sees the command's output, or one line of error.
    set_console_log_level("DEBUG" if args.verbose else "CRITICAL")
    try:
        return args.func(args)
    except Exception as exc:
        error = user_error(exc)
        if error is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2


def _quiet_dagster_warnings() -> None:
    """Dagster's notices about beta / preview APIs we use on purpose are not for the CLI's user."""
    import dagster as dg

    for category in (dg.BetaWarning, dg.PreviewWarning):
        warnings.filterwarnings("ignore", category=category)


if __name__ == "__main__":
    sys.exit(main())
