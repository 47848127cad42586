"""Logging set-up that can never print the bot token (httpx logs request URLs, which contain it)."""

from __future__ import annotations

import logging


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "<token>")
            record.msg, record.args = message, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if any(s in text for s in self.secrets):
                for secret in self.secrets:
                    text = text.replace(secret, "<token>")
                record.exc_info = None
                record.exc_text = None
                record.msg = f"{record.msg}\n{text}"
        return True


class FloodControlIsNotAnError(logging.Filter):
    """PTB's rate limiter logs ``Rate limit hit after maximum of N retries`` at ERROR with a traceback
    when it gives a 429 back to its caller. For this bot a 429 is a normal, handled case (the outbox
    reschedules the message after Telegram's retry_after, see handlers/delivery.py), so the record is
    kept as a one-line WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and record.getMessage().startswith("Rate limit hit after"):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def setup_logging(level: str, secrets: list[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL (with the token) at INFO
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("telegram.ext.AIORateLimiter").addFilter(FloodControlIsNotAnError())
