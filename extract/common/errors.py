"""Typed errors of the extractors.

Every message names the *setting* involved (an environment variable or a config-file key), never
its value, and passes through `extract.common.redact.redact` so that a URL or body quoted in a
message cannot carry a secret out into a log, a traceback or the warehouse.
"""

from __future__ import annotations

from extract.common.redact import redact


class ExtractError(Exception):
    """Base class: the message is redacted on construction."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class ConfigError(ExtractError):
    """A setting is missing or malformed. `setting` is the variable/key name (never the value)."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        super().__init__(f"configuration {setting}: {problem}")


class AuthError(ExtractError):
    """The service refused our credentials; `setting` names the variable that holds them."""

    def __init__(self, setting: str, detail: str) -> None:
        self.setting = setting
        super().__init__(f"authentication failed, check {setting}: {detail}")


class TransientError(ExtractError):
    """Worth retrying: connection reset, timeout, 5xx, truncated or non-JSON body."""


class RateLimited(ExtractError):
    """The server refused a call for a rate limit; `retry_at` is a unix time when known."""

    def __init__(self, message: str, kind: str, retry_at: float | None = None, method: str = "") -> None:
        self.kind, self.retry_at, self.method = kind, retry_at, method
        super().__init__(message)


class ApiError(ExtractError):
    """The API answered with an error that retrying will not fix."""

    def __init__(self, message: str, code: str = "", status: int = 0) -> None:
        self.code, self.status = code, status
        super().__init__(message)
