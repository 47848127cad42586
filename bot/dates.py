"""Moments as people say them, in each language and in the community's time zone.

``12月3日（周四）12:00`` / ``3 декабря (чт), 12:00`` / ``Thu 3 Dec, 12:00``; the year is added only
when it is not the reader's current year. Never an ISO timestamp where people look.

A leaf module (Babel and the standard library only), so services, handlers and the outbox can all
use it. :func:`moment` makes a plain-JSON message parameter that :class:`bot.i18n.Translator`
renders in the reader's language at send time (the outbox stores parameters, not texts).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

# LDML patterns: letters are fields, everything else (CJK, brackets, commas) is literal text
_PATTERNS = {
    "zh": ("M月d日（EEE）HH:mm", "y年M月d日（EEE）HH:mm", "M月d日（EEE）", "y年M月d日（EEE）"),
    "ru": ("d MMMM (EEE), HH:mm", "d MMMM y (EEE), HH:mm", "d MMMM (EEE)", "d MMMM y (EEE)"),
    "en": ("EEE d MMM, HH:mm", "EEE d MMM y, HH:mm", "EEE d MMM", "EEE d MMM y"),
}
_MARK = "moment"


def say_moment(
    moment: datetime, timezone: str, lang: str, *, now: datetime | None = None, with_time: bool = True
) -> str:
    """``moment`` (aware) in ``timezone`` as a person of language ``lang`` says it. The year is
    shown when it differs from the year of ``now`` (default: the moment's own year, i.e. never)."""
    tz = ZoneInfo(timezone)
    local = moment.astimezone(tz)
    reference = (now or moment).astimezone(tz)
    patterns = _PATTERNS.get(lang, _PATTERNS["en"])
    index = (0 if local.year == reference.year else 1) + (0 if with_time else 2)
    return str(format_datetime(local, patterns[index], tzinfo=tz, locale=lang if lang in _PATTERNS else "en"))


def say_day(day: date, lang: str) -> str:
    """A calendar day (no time) as people say it: ``12月3日（周四）``, ``3 декабря (чт)``, ``Thu 3 Dec``."""
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return say_moment(moment, "UTC", lang, with_time=False)


def moment(value: datetime | None, timezone: str, *, now: datetime | None = None) -> dict[str, Any] | str:
    """A message parameter that renders as ``value`` in the reader's language (``"-"`` for None).
    Plain JSON, so the outbox can store it."""
    if value is None:
        return "-"
    param: dict[str, Any] = {_MARK: int(value.timestamp()), "tz": timezone}
    if now is not None:
        param["now"] = int(now.timestamp())
    return param


def is_moment(value: object) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get(_MARK), int) and isinstance(value.get("tz"), str)


def render_moment(value: Mapping[str, Any], lang: str) -> str:
    """The text of a :func:`moment` parameter in ``lang``."""
    when = datetime.fromtimestamp(int(value[_MARK]), UTC)
    now = datetime.fromtimestamp(int(value["now"]), UTC) if isinstance(value.get("now"), int) else None
    try:
        return say_moment(when, str(value["tz"]), lang, now=now)
    except (KeyError, ValueError):  # an unknown zone in an old row: UTC rather than a traceback
        return say_moment(when, "UTC", lang, now=now)


#: A month as the code keys it (elections' periods, points' months): ``2026-11``.
MONTH_KEY = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_MONTH_PATTERNS = {"zh": "y年M月", "ru": "LLLL y", "en": "MMMM y"}


def say_month(key: str, lang: str) -> str:
    """``2026-11`` as people say the month: ``2026年11月`` / ``ноябрь 2026`` / ``November 2026``;
    anything else (a year, a free-form period) is returned as it is."""
    match = MONTH_KEY.fullmatch(key)
    if match is None:
        return key
    day = date(int(match.group(1)), int(match.group(2)), 1)
    locale = lang if lang in _MONTH_PATTERNS else "en"
    return str(format_date(day, _MONTH_PATTERNS[locale], locale=locale))
