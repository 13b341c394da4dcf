"""The fuzz tests' one hypothesis profile: bounded, with a fixed seed, and no example database, so CI
sees the same examples every run (issue 18: under a minute together)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def bounded(max_examples: int) -> settings:
    """At most `max_examples` examples, derandomized; fixtures may be function-scoped (each test
    compares what is written before and after every example itself)."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
