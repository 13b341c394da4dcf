"""Progress of a long loop, logged every few seconds: done / total and the rate."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)


class Progress:
    """Logs `done / total` and the rate every `every` seconds of a long loop."""

    def __init__(self, what: str, total: int | None = None, *, logger: Any = None, every: float = 5.0):
        self.what, self.total, self.every = what, total, every
        self.logger = logger or log
        self.done = 0
        self.started = self._last = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.logger.info(self.message())

    def message(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        of = f" / {self.total}" if self.total is not None else ""
        return f"{self.what}: {self.done}{of} ({self.done / elapsed:,.0f}/s)"

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started
