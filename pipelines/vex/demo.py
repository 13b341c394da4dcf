"""The vex demo: sample CSAF / CycloneDX / OpenVEX documents (and one that is not JSON) dropped in the
inbox, landed, then today's statements backfilled."""

from __future__ import annotations

import datetime as dt

from pipelines.core.demo import DemoContext, DemoStep
from pipelines.vex.requests import INBOX_PREFIX
from pipelines.vex.partitions import partition_key_of
from pipelines.vex.samples import sample_documents


def prepare(ctx: DemoContext) -> list[DemoStep]:
    for name, content in sample_documents(ctx.rng("vex"), ctx.count(60, minimum=3)):
        ctx.store.put_bytes(f"{INBOX_PREFIX}demo/{name}", content)
    # A document that fails to parse: counted as a failure (the WARN check shows it), the rest written.
    ctx.store.put_bytes(f"{INBOX_PREFIX}demo/broken.json", b"{ this is not JSON")
    today = partition_key_of(dt.datetime.now(dt.timezone.utc))
    return [
        DemoStep("vex: land the inbox into vex_raw_documents", ["vex_raw_documents"]),
        DemoStep(f"vex: backfill vex_statements for {today}", ["vex_statements"], partition_key=today),
    ]
