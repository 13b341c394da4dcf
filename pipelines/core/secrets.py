"""Secrets never appear in a message or a log: passwords in URLs, tokens and keys are masked.

`mask(text)` is applied to every user-facing error (`PipelinesError`) and, through `MaskingFilter`,
to every log record the CLI prints. It masks what looks like a secret by its shape (the password of a
URL, even a malformed one; `password=` / `token=` / `secret=` / `key=` parameters; AWS access key
ids) and the values of the environment variables that hold secrets by name.
"""

from __future__ import annotations

import logging
import os
import re

MASK = "***"
# scheme:[//]user:password@ (a malformed URL such as `postgres:/u:pw@host/db` included).
_URL_PASSWORD = re.compile(r"(?P<lead>\b[a-zA-Z][\w+.-]*:/{0,3}[^\s:/@'\"]*:)(?P<secret>[^\s@/'\"]+)(?=@)")
_PARAMETER = re.compile(
    r"(?P<lead>\b(?:password|passwd|pwd|token|secret|api[_-]?key|access[_-]?key|signing[_-]?key|"
    r"aws_secret_access_key|x-amz-security-token)[\"']?\s*[=:]\s*[\"']?)(?P<secret>[^\s&,;'\"]+)",
    re.IGNORECASE,
)
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_SECRET_NAMES = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY$|KEY_|WEBHOOK)", re.IGNORECASE)
_MIN_SECRET_LENGTH = 6


def mask(text: str) -> str:
    """`text` with every secret it holds replaced by `***`."""
    if not text:
        return text
    for value in _secret_values():
        text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: m.group("lead") + MASK, text)
    text = _PARAMETER.sub(lambda m: m.group("lead") + MASK, text)
    return _AWS_KEY_ID.sub(MASK, text)


def _secret_values() -> list[str]:
    """Values of the environment variables named like secrets, longest first."""
    values = {
        value
        for name, value in os.environ.items()
        if _SECRET_NAMES.search(name) and len(value) >= _MIN_SECRET_LENGTH
    }
    return sorted(values, key=len, reverse=True)


class MaskingFilter(logging.Filter):
    """Masks secrets in a log record's message (its arguments folded in first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Mask secrets in every record the handlers of `logger` (default: the root logger) emit."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
