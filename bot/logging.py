"""Logging set-up that can never print the bot token (httpx logs request URLs, which contain it).

Every line names the instance (``UNITBOT_INSTANCE_NAME``, else the host name) and, while one is being
worked on, the appeal (:func:`appeal_scope` / :func:`set_appeal`, a context variable: each update and
each job runs in its own asyncio context). ``UNITBOT_LOG_FORMAT=json`` writes one JSON object a line
for log shippers. Secrets are replaced in the *formatted* line, so no format (or traceback) can leak
them.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime

_APPEAL: ContextVar[int | None] = ContextVar("unitbot_appeal", default=None)
REDACTED = "<token>"


def set_appeal(appeal_id: int | None) -> Token[int | None]:
    """The appeal the current update or job works on, for log lines (until the context ends)."""
    return _APPEAL.set(appeal_id)


def current_appeal() -> int | None:
    return _APPEAL.get()


@contextmanager
def appeal_scope(appeal_id: int | None) -> Iterator[None]:
    """Log lines inside the block carry ``appeal_id``; the previous value comes back afterwards."""
    token = _APPEAL.set(appeal_id)
    try:
        yield
    finally:
        _APPEAL.reset(token)


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            record.msg, record.args = _redact(message, self.secrets), None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if any(s in text for s in self.secrets):
                # the traceback stays a traceback (JSON: the "exception" field), redacted
                record.exc_info = None
                record.exc_text = _redact(text, self.secrets)
        return True


class ContextFields(logging.Filter):
    """Adds ``instance`` and ``appeal`` (the id or None) and ``appeal_tag`` (`` [appeal 12]`` or ``""``)."""

    def __init__(self, instance: str) -> None:
        super().__init__()
        self.instance = instance

    def filter(self, record: logging.LogRecord) -> bool:
        record.instance = self.instance
        appeal = _APPEAL.get()
        record.appeal = appeal
        record.appeal_tag = f" [appeal {appeal}]" if appeal is not None else ""
        return True


TEXT_FORMAT = "%(asctime)s %(instance)s %(levelname)s %(name)s:%(appeal_tag)s %(message)s"


class TextFormatter(logging.Formatter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__(TEXT_FORMAT, defaults={"instance": "-", "appeal_tag": ""})
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record), self.secrets)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, instance, logger, message, appeal_id
    (when there is one), exception (the formatted traceback, when there is one)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "instance": getattr(record, "instance", ""),
            "logger": record.name,
            "message": record.getMessage(),
        }
        appeal = getattr(record, "appeal", None)
        if appeal is not None:
            entry["appeal_id"] = appeal
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _redact(json.dumps(entry, ensure_ascii=False, default=str), self.secrets)


class FloodControlIsNotAnError(logging.Filter):
    """PTB's rate limiter logs ``Rate limit hit after maximum of N retries`` at ERROR with a traceback
    when it gives a 429 back to its caller. For this bot a 429 is a normal, handled case (the outbox
    reschedules the message after Telegram's retry_after, see handlers/outbox_sender.py), so the record is
    kept as a one-line WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and record.getMessage().startswith("Rate limit hit after"):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def instance_label(configured: str) -> str:
    """``UNITBOT_INSTANCE_NAME``, else the host name (a container's is its id)."""
    return configured.strip() or socket.gethostname() or "unitbot"


def setup_logging(level: str, secrets: list[str], *, instance: str = "", log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    formatter: logging.Formatter = JsonFormatter(secrets) if log_format == "json" else TextFormatter(secrets)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets(secrets))
    handler.addFilter(ContextFields(instance_label(instance)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL (with the token) at INFO
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # aiohttp's access log would print every webhook request; errors are logged by the routes
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("telegram.ext.AIORateLimiter").addFilter(FloodControlIsNotAnError())
