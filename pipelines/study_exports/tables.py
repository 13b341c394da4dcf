"""Studies, their records, the per-study export watermark (`study_export_times`) and the export log.

`study_export_times` is kept apart from `studies` on purpose (the seed: it is updated after every
export, `studies` rarely). Deleting a study removes its records and its export time row
(ON DELETE CASCADE; SQLite has foreign keys switched on by `Database`).
"""

import sqlalchemy as sa

from pipelines.core.database import IdType, JSONType, TZDateTime, metadata

# Study ids up to 200 characters. SQLite does not enforce VARCHAR lengths, and changing the declared
# one there would rebuild `studies` under its foreign keys, so SQLite keeps the declared 100.
StudyId = sa.String(200).with_variant(sa.String(100), "sqlite")

studies = sa.Table(
    "studies",
    metadata,
    sa.Column("study_id", StudyId, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
)

records = sa.Table(
    "records",
    metadata,
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("study_id", StudyId, sa.ForeignKey("studies.study_id", ondelete="CASCADE"), nullable=False),
    sa.Column("uploaded_on", TZDateTime, nullable=False),
    sa.Column("schema_key", sa.String(100), nullable=False),
    sa.Column("data", JSONType),
    # Every export reads one study's window: this index serves it and the foreign key's cascade.
    sa.Index(None, "study_id", "uploaded_on"),
)

study_export_times = sa.Table(
    "study_export_times",
    metadata,
    sa.Column(
        "study_id",
        StudyId,
        sa.ForeignKey("studies.study_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    # NULL: the row exists (so that it can be locked) but the study was never exported.
    sa.Column("last_export_date_time", TZDateTime, nullable=True),
)

study_export_log = sa.Table(
    "study_export_log",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("export_id", sa.String(36), nullable=False, unique=True),
    sa.Column("export_type", sa.String(10), nullable=False),
    sa.Column("tag", sa.String(500), nullable=True),
    sa.Column("request", JSONType, nullable=False),
    sa.Column("started_at", TZDateTime, nullable=False),
    sa.Column("finished_at", TZDateTime, nullable=False),
    sa.Column("record_count", sa.Integer, nullable=False),
    sa.Column("counts", JSONType, nullable=False),
    sa.Column("keys", JSONType, nullable=False),
    sa.Column("redrive_key", sa.String(500), nullable=True),
    sa.Column("redrive_count", sa.Integer, nullable=False),
    sa.Column("dead_count", sa.Integer, nullable=False),
    # The published export's manifest, and each study's window (what `current_exports` looks up).
    sa.Column("manifest_key", sa.String(200), nullable=True),
    sa.Column("windows", JSONType, nullable=True),
    sa.CheckConstraint("export_type IN ('DAILY', 'HOURLY', 'INSTANT')", name="export_type"),
)

# An export between its start and its publication; a row left behind is a killed export, whose
# files the next export removes (see `publication.remove_leftovers`).
study_exports_under_way = sa.Table(
    "study_exports_under_way",
    metadata,
    sa.Column("export_id", sa.String(36), primary_key=True),
    sa.Column("prefix", sa.String(200), nullable=False),
    sa.Column("started_at", TZDateTime, nullable=False),
)
