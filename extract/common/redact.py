"""Secret redaction for log records, exception messages and anything quoted from a request.

Two layers: (1) every secret value the configuration hands out is registered here
(`register_secret`) and replaced wherever it appears; (2) patterns catch secrets we never saw
(a webhook code in a URL, `auth=`/`access_token=` query parameters, JSON token fields, bearer
headers). Modules of `extract/` log through `get_logger(__name__)`, whose records are redacted before any
handler sees them; `install_log_redaction()` also filters the root logger's handlers.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()

_PATTERNS = [
    # Bitrix24 webhook: /rest/<user id>/<code>/
    (re.compile(r"(/rest/\d+/)([^/\s?#\"']+)"), r"\1" + MASK),
    # query or form parameters
    (re.compile(r"(?i)\b(auth|access_token|refresh_token|client_secret|code|token|password)=([^&\s\"']+)"),
     r"\1=" + MASK),
    # JSON fields
    (re.compile(r"(?i)(\"(?:auth|access_token|refresh_token|client_secret|code|token|password|"
                r"webhook_code|long_lived_token)\"\s*:\s*\")([^\"]*)(\")"), r"\1" + MASK + r"\3"),
    # headers
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic)\s+)([^\s'\"]+)"), r"\1" + MASK),
]


def register_secret(value: str | None) -> None:
    """Remember a secret value so that `redact` masks it anywhere it appears."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: object) -> str:
    s = str(text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in s:
            s = s.replace(secret, MASK)
    for pattern, repl in _PATTERNS:
        s = pattern.sub(repl, s)
    return s


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (with its args and exception text) through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not kill logging
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info:
            import traceback

            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


_FILTER = RedactingFilter()


# Libraries that log request URLs (urllib3 logs "POST /rest/1/<webhook code>/batch" at DEBUG).
_LIBRARY_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3", "requests")


def get_logger(name: str) -> logging.Logger:
    """A logger whose records are redacted before any handler sees them (use in extract/*).
    Also guards the HTTP libraries' own loggers, which would print webhook URLs."""
    for n in (name, *_LIBRARY_LOGGERS):
        logger = logging.getLogger(n)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    return logging.getLogger(name)


_installed = False


def install_log_redaction() -> None:
    """Idempotently attach `RedactingFilter` to the `extract` logger and the root handlers."""
    global _installed
    if _installed:
        return
    for h in logging.getLogger().handlers:
        h.addFilter(_FILTER)
    _installed = True
