"""Adding up summary rows into figures (pure: the same code for a scope, a building and a head).

One pass over the rows (a report adds them up once per head: thousands of small groups)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bot.models import Category, Level
from bot.services.stats.figures import Breakdown, Durations, GroupFigures, Rate
from storage.stats import CohortRow, OpenRow, SumRow

_CATEGORIES = {c.value: c for c in Category}
_LEVELS = {level.value: level for level in Level}
_NOTHING = Breakdown(0, {}, {})  # frozen; its dicts are never written to (GroupFigures is read-only)


def _breakdown(pairs: Iterable[tuple[str, int]]) -> Breakdown:
    by_category: dict[Category, int] = {}
    by_level: dict[Level, int] = {}
    total = 0
    for category, level in pairs:
        c = _CATEGORIES.get(category)
        lv = _LEVELS.get(level)
        if c is None or lv is None:  # not one of ours: the enum says so
            c, lv = Category(category), Level(level)
        by_category[c] = by_category.get(c, 0) + 1
        by_level[lv] = by_level.get(lv, 0) + 1
        total += 1
    return Breakdown(total, by_category, by_level)


@lru_cache(maxsize=256)
def _one(category: str, level: int) -> Breakdown:
    """The split of a single appeal: shared (a report's heads are mostly groups of one or two)."""
    return _breakdown(((category, level),))


def _split(rows: Sequence[CohortRow] | Sequence[OpenRow]) -> Breakdown:
    if not rows:
        return _NOTHING
    if len(rows) == 1:
        return _one(rows[0].category, rows[0].level)
    return _breakdown([(r.category, r.level) for r in rows])


@lru_cache(maxsize=4096)
def _rate(hits: int, base: int) -> Rate:
    """Rates are small pairs that repeat across thousands of groups: one object each (frozen)."""
    return Rate(hits, base)


@dataclass
class Tally:
    """Rows of one group, collected, then turned into :class:`GroupFigures`."""

    cohort: list[CohortRow] = field(default_factory=list)
    open_rows: list[OpenRow] = field(default_factory=list)

    def figures(self, now_ts: int) -> GroupFigures:
        response_hits = response_base = resolution_hits = resolution_base = 0
        satisfied = rated = unrated = auto_closed = reopened = reopen_events = escalated = escalations = 0
        first_reply: list[int] = []
        resolution_time: list[int] = []
        for r in self.cohort:
            if r.first_reply_at is not None:
                response_base += 1
                response_hits += r.first_reply_at <= r.first_reply_due_at
                if r.first_reply_s is not None:
                    first_reply.append(r.first_reply_s)
            elif r.first_reply_due_at <= now_ts:
                response_base += 1
            if r.resolved_at is not None:
                resolution_base += 1
                resolution_hits += r.resolved_on_time == 1
                if r.resolve_s is not None:
                    resolution_time.append(r.resolve_s)
            elif r.resolve_due_at is not None and r.resolve_due_at <= now_ts:
                resolution_base += 1
            if r.closed:
                if r.rating is None:
                    unrated += 1
                else:
                    rated += 1
                    satisfied += r.rating >= 4
            auto_closed += bool(r.auto_closed)
            reopened += r.reopens > 0
            reopen_events += r.reopens
            escalated += r.escalations > 0
            escalations += r.escalations
        open_rows = self.open_rows
        return GroupFigures(
            filed=_split(self.cohort) if self.cohort else _NOTHING,
            # most groups of a report (a head's units) have nothing open: one empty split for them
            open_now=_split(open_rows) if open_rows else _NOTHING,
            overdue_now=_split([r for r in open_rows if r.overdue]) if open_rows else _NOTHING,
            response=_rate(response_hits, response_base),
            resolution=_rate(resolution_hits, resolution_base),
            satisfaction=_rate(satisfied, rated),
            rated=rated,
            unrated=unrated,
            auto_closed=auto_closed,
            reopened=reopened,
            reopen_events=reopen_events,
            escalated=escalated,
            escalations=escalations,
            first_reply=Durations.of_seconds(first_reply),
            resolution_time=Durations.of_seconds(resolution_time),
        )


@dataclass
class Sums:
    """Counts the database added up (:meth:`storage.stats.StatsRepo.cohort_sums`) and the measured
    times of one group, turned into the same :class:`GroupFigures` as a :class:`Tally` of its rows."""

    sums: list[SumRow] = field(default_factory=list)
    first_reply: list[int] = field(default_factory=list)
    resolution_time: list[int] = field(default_factory=list)
    open_rows: list[OpenRow] = field(default_factory=list)

    def figures(self) -> GroupFigures:
        c = [0] * 13  # the counts of SumRow after level, in its order
        by_category: dict[Category, int] = {}
        by_level: dict[Level, int] = {}
        for row in self.sums:
            for i, value in enumerate(row[4:]):
                c[i] += value
            category, level = _CATEGORIES.get(row.category) or Category(row.category), Level(row.level)
            by_category[category] = by_category.get(category, 0) + row.filed
            by_level[level] = by_level.get(level, 0) + row.filed
        filed, r_hits, r_base, s_hits, s_base, satisfied, rated, unrated, auto, reopened, reopens, esc, escs = c
        return GroupFigures(
            filed=Breakdown(filed, by_category, by_level),
            open_now=_breakdown((r.category, r.level) for r in self.open_rows),
            overdue_now=_breakdown((r.category, r.level) for r in self.open_rows if r.overdue),
            response=Rate(r_hits, r_base),
            resolution=Rate(s_hits, s_base),
            satisfaction=Rate(satisfied, rated),
            rated=rated,
            unrated=unrated,
            auto_closed=auto,
            reopened=reopened,
            reopen_events=reopens,
            escalated=esc,
            escalations=escs,
            first_reply=Durations.of_seconds(self.first_reply),
            resolution_time=Durations.of_seconds(self.resolution_time),
        )
