"""Errors a user can cause. Each domain subclasses `PipelinesError`; the CLI prints one line."""


class PipelinesError(Exception):
    """An error the user can fix: the message says what was wrong, where, and what to do."""


class ConfigurationError(PipelinesError):
    """A setting is missing, malformed, or points at something that is not there."""

    def __init__(self, setting: str, problem: str):
        self.setting = setting
        super().__init__(f"{setting}: {problem}")
