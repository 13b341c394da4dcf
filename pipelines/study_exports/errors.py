"""The one error type of study exports: what was wrong (the request field and its value), and what to do."""

from pipelines.core.errors import PipelinesError


class StudyExportError(PipelinesError):
    """A request or its data cannot be exported: a bad field, an unknown study, a missing override file."""
