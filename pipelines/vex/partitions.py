"""Daily partitions of `vex_statements` on the raw documents' `retrieved_at` (UTC).

`end_offset=1`: today's partition exists already, so documents landed today can be backfilled today.
Documents retrieved before `START_DATE` fall in no partition.
"""

import datetime as dt

import dagster as dg

START_DATE = "2020-01-01"

vex_daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, end_offset=1, timezone="UTC")


def partition_key_of(retrieved_at: dt.datetime) -> str:
    return retrieved_at.astimezone(dt.timezone.utc).date().isoformat()
