"""Errors a user can cause. Each domain subclasses `PipelinesError`; the CLI prints one line."""

from pipelines.core.secrets import mask


class PipelinesError(Exception):
    """An error the user can fix: the message says what was wrong, where, and what to do.

    The message is masked (`core.secrets.mask`): a password or key in it never reaches a user or a log.
    """

    def __init__(self, *args: object):
        super().__init__(*(mask(a) if isinstance(a, str) else a for a in args))


class ConfigurationError(PipelinesError):
    """A setting is missing, malformed, or points at something that is not there."""

    def __init__(self, setting: str, problem: str):
        self.setting = setting
        super().__init__(f"{setting}: {problem}")


class ConnectionLostError(PipelinesError):
    """The database went away in the middle of a run: what was committed stays, the rest rolled back."""
