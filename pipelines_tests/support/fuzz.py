"""The fuzz tests' one hypothesis profile: bounded, with a fixed seed, and no example database, so CI
sees the same examples every run (issue 18: under a minute together)."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


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


@st.composite
def edited_bytes(draw: st.DrawFn, content: bytes, pieces: Sequence[bytes]) -> bytes:
    """`content` after one to six edits, each a short piece (random bytes, or one of `pieces`: the
    format's own delimiters and escapes) inserted, put in place of as many bytes, or as many deleted."""
    data = bytearray(content)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.binary(min_size=1, max_size=4) | st.sampled_from(list(pieces)))
        if edit == "insert":
            data[at:at] = piece
        elif edit == "delete":
            del data[at : at + len(piece)]
        else:
            data[at : at + len(piece)] = piece
    return bytes(data)
