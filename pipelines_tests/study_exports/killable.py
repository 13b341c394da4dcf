"""A study export in its own process that stops half way, for the SIGKILL test.

    python -m pipelines_tests.study_exports.killable DATABASE_URL STORE_ROOT MARKER

Runs a DAILY export ending 2016-10-04 on a store that writes the first file, then, in the middle of
the second (its temporary file on disk), creates MARKER and waits to be killed.
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
    """A real local store whose second CSV write stops half way and never returns."""

    def __init__(self, root: str, marker: str):
        super().__init__(root)
        self.marker, self.csv_writes = Path(marker), 0

    @contextmanager
    def open_write(self, key: str):
        with super().open_write(key) as out:
            if key.endswith(".csv"):
                self.csv_writes += 1
                if self.csv_writes == 2:
                    out.write(b"record_id,study_id,schema_key,uploaded_on,data\r\n")
                    out.flush()
                    self.marker.write_text("stalled\n")
                    time.sleep(600)
            yield out


def main() -> None:
    url, root, marker = sys.argv[1:4]
    request = ExportRequest.parse({"exportType": "DAILY", "endDateTime": "2016-10-04T00:00:00Z"})
    run_export(Database(url), StallingStore(root, marker), request)


if __name__ == "__main__":
    main()
