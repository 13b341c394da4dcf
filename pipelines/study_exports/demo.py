"""Demo data for study exports: studies with records over 2024-06-01..03 (a few with bad data, which
are re-driven), then a daily partition, an hourly partition, an instant export and a re-export."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from pipelines.core.demo import DemoContext, DemoStep
from pipelines.study_exports.requests import ExportRequest
from pipelines.study_exports.tables import records, studies

_SCHEMAS = ("survey", "walk", "heart_rate")
_START = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)


def prepare(ctx: DemoContext) -> list[DemoStep]:
    rng = ctx.rng("study_exports")
    study_ids = [f"demo-{n:03d}" for n in range(ctx.count(20, minimum=2))]
    per_study = ctx.count(500, minimum=20)

    def rows():
        for study_id in study_ids:
            for n in range(per_study):
                uploaded_on = _START + dt.timedelta(seconds=rng.randrange(3 * 24 * 3600))
                data = {"value": rng.randint(0, 1000), "note": rng.choice(["", "ok", 'said "hi", left'])}
                if rng.random() < 0.002:
                    data = ["not", "an", "object"]  # a bad record: re-driven, then dead
                yield (f"{study_id}-{n:06d}", study_id, uploaded_on, rng.choice(_SCHEMAS), data)

    with ctx.database.begin() as conn:
        # The demo can run again on the same database: its studies go first (records and
        # export time rows follow by ON DELETE CASCADE).
        conn.execute(studies.delete().where(studies.c.study_id.like("demo-%")))
        conn.execute(studies.insert(), [{"study_id": s, "name": f"Demo study {s}"} for s in study_ids])
        ctx.database.bulk_insert(
            conn, records, rows(), columns=["record_id", "study_id", "uploaded_on", "schema_key", "data"]
        )

    def on_request(**message) -> dg.RunConfig:
        return dg.RunConfig(ops={"study_exports_on_request": ExportRequest.parse(message)})

    return [
        DemoStep("study exports: daily partition 2024-06-02", ["study_exports_daily"], partition_key="2024-06-02"),
        DemoStep(
            "study exports: hourly partition 2024-06-03 09:00",
            ["study_exports_hourly"],
            partition_key="2024-06-03-09:00",
        ),
        DemoStep(
            "study exports: instant export of two studies up to 2024-06-03 12:00",
            ["study_exports_on_request"],
            run_config=on_request(
                exportType="INSTANT", studyWhitelist=study_ids[:2], endDateTime="2024-06-03T12:00:00Z"
            ),
        ),
        DemoStep(
            "study exports: re-export of 2024-06-01 (ignoreLastExportTime, watermarks kept)",
            ["study_exports_on_request"],
            run_config=on_request(
                exportType="DAILY",
                endDateTime="2024-06-02T00:00:00Z",
                ignoreLastExportTime=True,
                tag="demo re-export",
            ),
        ),
    ]
