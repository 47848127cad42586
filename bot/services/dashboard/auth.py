"""Telegram Mini App ``initData``: the signed query string Telegram hands the dashboard page.

Telegram's rule (core.telegram.org/bots/webapps, "Validating data received via the Mini App"):
the data-check string is every field except ``hash`` as ``key=value``, sorted by key, joined by
``\\n``; the secret is HMAC-SHA256(key=b"WebAppData", msg=bot_token); the data is genuine when
hex(HMAC-SHA256(key=secret, msg=data_check_string)) equals ``hash``. The comparison is constant-time.
``auth_date`` must be recent (a copied URL stops working) and not in the future.

A plain module (standard library only): :func:`verify_init_data` returns who signed in or raises
:class:`InitDataRejected` with a short reason for the log (never the data itself).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

MAX_AGE = timedelta(hours=24)  # a Mini App session opened longer ago than this must be reopened
CLOCK_SKEW = timedelta(minutes=5)  # auth_date may be this far ahead of our clock
MAX_LENGTH = 8192  # bytes of initData accepted (Telegram's is well under 2 KB)


class InitDataRejected(Exception):
    """The initData is missing, malformed, forged or stale; ``reason`` is for the log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class WebAppUser:
    id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None
    auth_date: datetime


def _secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def data_check_string(fields: Mapping[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def signature(fields: Mapping[str, str], bot_token: str) -> str:
    return hmac.new(_secret(bot_token), data_check_string(fields).encode(), hashlib.sha256).hexdigest()


def sign_init_data(fields: Mapping[str, str], bot_token: str) -> str:
    """The initData string Telegram would send for ``fields`` (tests, drills and the browser e2e)."""
    signed = {k: v for k, v in fields.items() if k != "hash"}
    signed["hash"] = signature(signed, bot_token)
    return urlencode(signed)


def parse_fields(raw: str) -> dict[str, str]:
    if not raw or len(raw.encode()) > MAX_LENGTH:
        raise InitDataRejected("empty or too long")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise InitDataRejected("not a query string") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise InitDataRejected("a field given twice")
        fields[key] = value
    return fields


def verify_init_data(raw: str, bot_token: str, now: datetime, *, max_age: timedelta = MAX_AGE) -> WebAppUser:
    """Who signed in, if ``raw`` is genuine and fresh; else :class:`InitDataRejected`."""
    fields = parse_fields(raw)
    given = fields.get("hash", "")
    expected = signature(fields, bot_token)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise InitDataRejected("bad signature")
    try:
        auth_date = datetime.fromtimestamp(int(fields["auth_date"]), UTC)
    except (KeyError, ValueError, OverflowError, OSError):
        raise InitDataRejected("no auth_date") from None
    if now - auth_date > max_age:
        raise InitDataRejected("stale")
    if auth_date - now > CLOCK_SKEW:
        raise InitDataRejected("auth_date in the future")
    try:
        user = json.loads(fields["user"])
    except (KeyError, ValueError):
        raise InitDataRejected("no user") from None
    if not isinstance(user, dict) or not isinstance(user.get("id"), int) or isinstance(user.get("id"), bool):
        raise InitDataRejected("no user id")
    if not 0 < user["id"] < 2**63:
        raise InitDataRejected("user id out of range")

    def text(name: str) -> str | None:
        value = user.get(name)
        return value[:256] if isinstance(value, str) else None

    return WebAppUser(
        id=user["id"],
        first_name=text("first_name") or "",
        last_name=text("last_name"),
        username=text("username"),
        language_code=text("language_code"),
        auth_date=auth_date,
    )
