"""Adding up summary rows into figures (pure: the same code for a scope, a building and a head)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.models import Category, Level
from bot.services.stats.figures import Breakdown, Durations, GroupFigures, Rate
from storage.stats import CohortRow, OpenRow


def _breakdown(pairs: Iterable[tuple[str, int]]) -> Breakdown:
    by_category: Counter[Category] = Counter()
    by_level: Counter[Level] = Counter()
    total = 0
    for category, level in pairs:
        by_category[Category(category)] += 1
        by_level[Level(level)] += 1
        total += 1
    return Breakdown(total, dict(by_category), dict(by_level))


@dataclass
class Tally:
    """Rows of one group, collected, then turned into :class:`GroupFigures`."""

    cohort: list[CohortRow] = field(default_factory=list)
    open_rows: list[OpenRow] = field(default_factory=list)

    def figures(self, now_ts: int) -> GroupFigures:
        rows = self.cohort
        response = Rate(
            sum(1 for r in rows if r.first_reply_at is not None and r.first_reply_at <= r.first_reply_due_at),
            sum(1 for r in rows if r.first_reply_at is not None or r.first_reply_due_at <= now_ts),
        )
        resolution = Rate(
            sum(1 for r in rows if r.resolved_on_time == 1),
            sum(
                1
                for r in rows
                if r.resolved_at is not None or (r.resolve_due_at is not None and r.resolve_due_at <= now_ts)
            ),
        )
        rated = [r for r in rows if r.closed and r.rating is not None]
        satisfaction = Rate(sum(1 for r in rated if (r.rating or 0) >= 4), len(rated))
        return GroupFigures(
            filed=_breakdown((r.category, r.level) for r in rows),
            open_now=_breakdown((r.category, r.level) for r in self.open_rows),
            overdue_now=_breakdown((r.category, r.level) for r in self.open_rows if r.overdue),
            response=response,
            resolution=resolution,
            satisfaction=satisfaction,
            rated=len(rated),
            unrated=sum(1 for r in rows if r.closed and r.rating is None),
            auto_closed=sum(1 for r in rows if r.auto_closed),
            reopened=sum(1 for r in rows if r.reopens > 0),
            reopen_events=sum(r.reopens for r in rows),
            escalated=sum(1 for r in rows if r.escalations > 0),
            escalations=sum(r.escalations for r in rows),
            first_reply=Durations.of_seconds([r.first_reply_s for r in rows if r.first_reply_s is not None]),
            resolution_time=Durations.of_seconds([r.resolve_s for r in rows if r.resolve_s is not None]),
        )
