"""Every domain's tables, so that `metadata` describes the whole application database."""

from pipelines.core.database import metadata
from pipelines.posture import tables as posture_tables
from pipelines.tenant_archives import tables as tenant_archives_tables

__all__ = ["metadata", "posture_tables", "tenant_archives_tables"]
