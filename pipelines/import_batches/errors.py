"""The one error type of the import_batches domain."""

from pipelines.core.errors import PipelinesError


class ImportBatchError(PipelinesError):
    """A batch that cannot be read, is unknown, or ended in `error` (its errors are in the message)."""
