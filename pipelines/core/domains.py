"""The domains of the code location, found once: every package under `pipelines/` with a
`definitions.py` (posture, study_exports, vex, tenant_archives, import_batches).

A domain registers itself by being such a package; the Definitions, the CLI, the demo and the
database schema all take the domains from here, so there is no list of domains to keep by hand.
A domain may also have `cli.py` (a click group named `cli`), `demo.py` (`prepare`) and `tables.py`.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from types import ModuleType

import pipelines

NOT_DOMAINS = frozenset({"core", "migrations"})


@functools.cache
def domain_names() -> tuple[str, ...]:
    """The domain packages, alphabetically (the demo runs them in this order)."""
    return tuple(
        sorted(
            info.name
            for info in pkgutil.iter_modules(pipelines.__path__)
            if info.ispkg and info.name not in NOT_DOMAINS and _has_module(info.name, "definitions")
        )
    )


def domain_modules(module: str) -> list[ModuleType]:
    """`pipelines.<domain>.<module>` of every domain that has it, imported, in domain order."""
    return [importlib.import_module(f"pipelines.{name}.{module}") for name in domain_names() if _has_module(name, module)]


def _has_module(domain: str, module: str) -> bool:
    package = importlib.import_module(f"pipelines.{domain}")
    return any(info.name == module for info in pkgutil.iter_modules(package.__path__))
