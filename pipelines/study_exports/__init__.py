"""study_exports: daily / hourly / instant CSV exports of records per study from a per-study
`last_export_date_time` watermark, with record re-drives from a queue."""
