from pipelines.core.errors import PipelinesError


class TenantArchiveError(PipelinesError):
    """A backup job, an archive or a restore that cannot go on: the message says what and where."""
