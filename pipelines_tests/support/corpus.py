"""The shared corpus of real VEX documents (`shared/corpora/vex`, beside the repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def corpus_dir() -> Path:
    """`shared/corpora/vex` next to the repository (CI, /work/main), else /work/shared (worktrees)."""
    candidates = [REPO / ".." / "shared" / "corpora" / "vex", Path("/work/shared/corpora/vex")]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    pytest.fail(f"the VEX corpus is missing: looked in {', '.join(str(c) for c in candidates)}")


def corpus_bytes(relative: str) -> bytes:
    return (corpus_dir() / relative).read_bytes()
