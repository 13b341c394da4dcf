"""Every domain's tables, so that `metadata` describes the whole application database."""

from pipelines.core.database import metadata
from pipelines.core.domains import domain_modules

domain_modules("tables")

__all__ = ["metadata"]
