"""Every domain's tables, so that `metadata` describes the whole application database."""

from pipelines.core.database import metadata
from pipelines.import_batches import tables as import_batches_tables
from pipelines.posture import tables as posture_tables
from pipelines.study_exports import tables as study_exports_tables
from pipelines.tenant_archives import tables as tenant_archives_tables
from pipelines.vex import tables as vex_tables

__all__ = ["metadata", "import_batches_tables", "posture_tables", "study_exports_tables", "tenant_archives_tables", "vex_tables"]
