"""The one error type of the posture domain."""

from __future__ import annotations

from pipelines.core.errors import PipelinesError


class PostureError(PipelinesError):
    """Bad input or state in the posture domain: the message says what, where, and what to do."""
