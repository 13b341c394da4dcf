"""The one error type of the vex domain."""

from pipelines.core.errors import PipelinesError


class VexError(PipelinesError):
    """A VEX request or input the user can fix: the message names the field or path and the value."""
