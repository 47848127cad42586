"""The statistics' typed vocabulary: what is asked (Scope, Period) and what is answered (Figures).

Plain frozen dataclasses (no Telegram, no SQL): the /stats command, the monthly report and the
Mini App dashboard all read these. The definitions behind every number are in docs/stats.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.models import Category, Level

MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")


class ScopeKind(StrEnum):
    UNIT = "unit"
    BUILDING = "building"
    COMMUNITY = "community"
    STREET = "street"  # a street office: every community linked to its chat


@dataclass(frozen=True)
class Scope:
    """Which appeals count: those of some units, some buildings, or whole communities.

    ``community_ids`` is always set (the communities whose calendars and time zones apply);
    ``building_ids`` / ``unit_ids`` narrow it further (empty = no narrowing at that level)."""

    kind: ScopeKind
    community_ids: tuple[int, ...]
    building_ids: tuple[int, ...] = ()
    unit_ids: tuple[int, ...] = ()

    @classmethod
    def unit(cls, community_id: int, *unit_ids: int) -> Scope:
        return cls(ScopeKind.UNIT, (community_id,), unit_ids=tuple(sorted(set(unit_ids))))

    @classmethod
    def building(cls, community_id: int, *building_ids: int) -> Scope:
        return cls(ScopeKind.BUILDING, (community_id,), building_ids=tuple(sorted(set(building_ids))))

    @classmethod
    def community(cls, community_id: int) -> Scope:
        return cls(ScopeKind.COMMUNITY, (community_id,))

    @classmethod
    def street(cls, community_ids: Iterable[int]) -> Scope:
        return cls(ScopeKind.STREET, tuple(sorted(set(community_ids))))


@dataclass(frozen=True)
class Period:
    """Local calendar days ``[start, end)`` in each community's own time zone; ``month`` is set
    ('YYYY-MM') when the period is exactly one calendar month."""

    start: date
    end: date
    month: str | None = None

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"empty period {self.start} .. {self.end}")

    @classmethod
    def of_month(cls, year: int, month: int) -> Period:
        if not (1 <= month <= 12 and 2000 <= year <= 2200):
            raise ValueError(f"no such month {year}-{month}")
        start = date(year, month, 1)
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return cls(start, end, f"{year:04d}-{month:02d}")

    @classmethod
    def parse_month(cls, text: str) -> Period:
        """'2026-11' (or '2026-1') -> that month; ValueError for anything else."""
        found = MONTH_RE.match(text.strip())
        if not found:
            raise ValueError(f"not a month: {text!r}")
        return cls.of_month(int(found.group(1)), int(found.group(2)))

    @classmethod
    def containing(cls, moment: datetime, timezone: str) -> Period:
        local = moment.astimezone(ZoneInfo(timezone))
        return cls.of_month(local.year, local.month)

    def previous(self, months: int = 1) -> Period:
        """The calendar month ``months`` before this period's first month."""
        index = self.start.year * 12 + self.start.month - 1 - months
        return Period.of_month(index // 12, index % 12 + 1)

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """UTC instants of local midnight at ``start`` and ``end`` in ``timezone``."""
        tz = ZoneInfo(timezone)
        begin = datetime.combine(self.start, time(0), tzinfo=tz).astimezone(UTC)
        finish = datetime.combine(self.end, time(0), tzinfo=tz).astimezone(UTC)
        return begin, finish

    def months(self) -> list[str]:
        """Every 'YYYY-MM' the period touches (to sum monthly points over)."""
        out: list[str] = []
        year, month = self.start.year, self.start.month
        while date(year, month, 1) < self.end:
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out


@dataclass(frozen=True)
class Rate:
    """``hits`` of ``base``; ``value`` is None when nothing counts yet (never a division by zero)."""

    hits: int = 0
    base: int = 0

    @property
    def value(self) -> float | None:
        return None if self.base == 0 else self.hits / self.base

    def __add__(self, other: Rate) -> Rate:
        return Rate(self.hits + other.hits, self.base + other.base)


@dataclass(frozen=True)
class Durations:
    """Working hours (see docs/stats.md): the median (middle value, the mean of the two middle ones
    for an even count) and the 90th percentile (nearest rank) of ``count`` measured appeals."""

    count: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None

    @classmethod
    def of_seconds(cls, values: Sequence[float]) -> Durations:
        if not values:
            return _NO_DURATIONS
        if len(values) == 1:  # most of a report's heads
            hours = values[0] / 3600
            return cls(1, hours, hours)
        ordered = sorted(values)
        n = len(ordered)
        middle = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2  # statistics.median
        p90 = ordered[max(0, math.ceil(0.9 * n) - 1)]
        return cls(n, middle / 3600, p90 / 3600)


_NO_DURATIONS = Durations()


@dataclass(frozen=True)
class Breakdown:
    """A count split by category and by level (each split sums to ``total``)."""

    total: int = 0
    by_category: dict[Category, int] = field(default_factory=dict)
    by_level: dict[Level, int] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupFigures:
    """The figures of one group of appeals (a scope, a building or a head's units)."""

    filed: Breakdown
    open_now: Breakdown
    overdue_now: Breakdown
    response: Rate
    resolution: Rate
    satisfaction: Rate
    rated: int
    unrated: int  # closed without a rating: outside the satisfaction rate
    auto_closed: int  # closed by the resident's silence after the resolution
    reopened: int  # appeals reopened at least once (by the resident, or "broken again")
    reopen_events: int
    escalated: int  # appeals moved up at least once
    escalations: int  # moves up, all of them
    first_reply: Durations
    resolution_time: Durations


class HeadRole(StrEnum):
    UNIT = "unit"
    BUILDING = "building"


@dataclass(frozen=True)
class HeadRow:
    """A unit or building head: the figures of the appeals of the units (buildings) they head now,
    plus the points they earned in the period's months."""

    user_id: int
    name: str
    role: HeadRole
    places: tuple[str, ...]  # the unit or building names
    figures: GroupFigures
    points: int


@dataclass(frozen=True)
class BuildingRow:
    building_id: int
    community_id: int
    name: str
    figures: GroupFigures


@dataclass(frozen=True)
class TrendPoint:
    month: str
    filed: int
    response: Rate
    resolution: Rate
    satisfaction: Rate


@dataclass(frozen=True)
class Figures:
    scope: Scope
    period: Period
    computed_at: datetime
    total: GroupFigures
    heads: tuple[HeadRow, ...] = ()
