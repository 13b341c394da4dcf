"""A study export in its own process that stops half way, for the SIGKILL and the parallel tests.

    python -m pipelines_tests.study_exports.killable DATABASE_URL STORE_ROOT MARKER [STUDY] [GATE]

Runs a DAILY export ending 2016-10-04 (of STUDY only, when given) on a store that writes the first
file, then, as it opens the second (its temporary file on disk), creates MARKER and waits: until
GATE exists when one is named, else until it is killed.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path

from pipelines.core.database import Database
from pipelines.core.object_store import LocalObjectStore
from pipelines.study_exports.export import run_export
from pipelines.study_exports.requests import ExportRequest


class StallingStore(LocalObjectStore):
    """A real local store whose second CSV write stops half way."""

    def __init__(self, root: str, marker: str, gate: str | None):
        super().__init__(root)
        self.marker, self.gate, self.csv_writes = Path(marker), Path(gate) if gate else None, 0

    @contextmanager
    def open_write(self, key: str):
        with super().open_write(key) as out:
            if key.endswith(".csv"):
                self.csv_writes += 1
                if self.csv_writes == 2:
                    self.marker.write_text("stalled\n")
                    deadline = time.monotonic() + 600
                    while time.monotonic() < deadline and not (self.gate and self.gate.exists()):
                        time.sleep(0.05)
            yield out


def main() -> None:
    url, root, marker, *rest = sys.argv[1:]
    study, gate = (rest + [None, None])[:2]
    message = {"exportType": "DAILY", "endDateTime": "2016-10-04T00:00:00Z"}
    if study:
        message["studyWhitelist"] = [study]
    result = run_export(Database(url), StallingStore(root, marker, gate), ExportRequest.parse(message))
    print(result.records, flush=True)


if __name__ == "__main__":
    main()
