"""Every domain's tables, so that `metadata` describes the whole application database."""

from pipelines.core.database import metadata
from pipelines.posture import tables as posture_tables
from pipelines.study_exports import tables as study_exports_tables  # noqa: F401

__all__ = ["metadata", "posture_tables"]
