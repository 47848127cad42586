"""One appeal's statistical facts, derived from its row and its append-only history (pure: no I/O).

The definitions (docs/stats.md) in code:
* first reply: ``appeals.first_reply_at``; on time when it is no later than the first-reply
  deadline, i.e. the latest first-reply deadline row (a postponement by the head's working-time
  floor moves it) or, without rows, ``appeals.first_reply_due_at``;
* the resolution clock runs from filing, in working time, and stands still while the appeal waits
  for the resident (``asked`` until the resident's ``answer``, a resolution or an escalation) and
  between a resolution and a reopening (``reopened`` / ``broken_again``);
* the resolution that counts is the last one, if it still stands (the appeal is resolved or
  closed); on time when its clock time is within the category's allowance
  (``SlaSettings.category_days`` working days);
* an open appeal that is not waiting has a resolution due moment: where the allowance runs out if
  the clock keeps running (a waiting appeal has none: its clock is paused).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.calendar import WorkCalendar
from bot.models import Appeal, AppealEvent, Status
from bot.sla import SlaSettings
from storage.stats import AppealFacts

PAUSE_STARTS = frozenset({"asked"})
PAUSE_ENDS = frozenset({"answer", "resolved", "escalated"})
HOLD_ENDS = frozenset({"reopened", "broken_again"})  # the hold between a resolution and a reopening
REOPENS = HOLD_ENDS


def _pauses(events: Sequence[AppealEvent]) -> list[tuple[datetime, datetime | None]]:
    """Intervals when the resolution clock stood still (the last one may still be running)."""
    out: list[tuple[datetime, datetime | None]] = []
    waiting_since: datetime | None = None
    held_since: datetime | None = None
    for event in events:
        if event.kind in PAUSE_STARTS and waiting_since is None and held_since is None:
            waiting_since = event.at
        elif event.kind in PAUSE_ENDS and waiting_since is not None:
            out.append((waiting_since, event.at))
            waiting_since = None
        if event.kind == "resolved" and held_since is None:
            held_since = event.at
        elif event.kind in HOLD_ENDS and held_since is not None:
            out.append((held_since, event.at))
            held_since = None
    if waiting_since is not None:
        out.append((waiting_since, None))
    if held_since is not None:
        out.append((held_since, None))
    return out


def clock_seconds(
    cal: WorkCalendar, start: datetime, until: datetime, pauses: Sequence[tuple[datetime, datetime | None]]
) -> float:
    """Working seconds in ``[start, until)`` minus those inside the pauses."""
    total = cal.working_seconds_between(start, until)
    for begin, end in pauses:
        stop = until if end is None else min(end, until)
        if stop > begin:
            total -= cal.working_seconds_between(max(begin, start), stop)
    return max(total, 0.0)


def appeal_facts(
    appeal: Appeal,
    events: Sequence[AppealEvent],
    first_reply_due: datetime | None,
    cal: WorkCalendar,
    sla: SlaSettings,
    timezone: str,
) -> AppealFacts:
    """The facts of ``appeal`` from its ``events`` (in order) and its latest first-reply deadline."""
    ordered = sorted(events, key=lambda e: e.at)
    pauses = _pauses(ordered)
    allowance = sla.category_days(appeal.category) * cal.working_day_length().total_seconds()
    due_first = first_reply_due or appeal.first_reply_due_at
    first_seconds = (
        None
        if appeal.first_reply_at is None
        else int(cal.working_seconds_between(appeal.created_at, appeal.first_reply_at))
    )
    resolved_at: datetime | None = None
    resolve_seconds: int | None = None
    on_time: bool | None = None
    resolve_due: datetime | None = None
    if appeal.status in (Status.RESOLVED, Status.CLOSED):
        resolutions = [e.at for e in ordered if e.kind == "resolved"]
        resolved_at = resolutions[-1] if resolutions else (appeal.resolved_at or appeal.closed_at)
        if resolved_at is not None:
            resolve_seconds = int(clock_seconds(cal, appeal.created_at, resolved_at, pauses))
            on_time = resolve_seconds <= allowance
    elif appeal.status != Status.WAITING:
        resumed = max([appeal.created_at, *(end for _, end in pauses if end is not None)])
        used = clock_seconds(cal, appeal.created_at, resumed, pauses)
        resolve_due = cal.add_working_seconds(resumed, max(allowance - used, 0.0))
    kinds = [e.kind for e in ordered]
    closings = [k for k in kinds if k in ("auto_closed", "confirmed")]
    return AppealFacts(
        appeal_id=appeal.id,
        community_id=appeal.community_id,
        building_id=appeal.building_id,
        unit_id=appeal.unit_id,
        category=appeal.category.value,
        level=int(appeal.level),
        month=appeal.created_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m"),
        created_at=appeal.created_at,
        first_reply_at=appeal.first_reply_at,
        first_reply_due_at=due_first,
        first_reply_seconds=first_seconds,
        resolved_at=resolved_at,
        resolve_seconds=resolve_seconds,
        resolved_on_time=on_time,
        resolve_due_at=resolve_due,
        closed=appeal.status == Status.CLOSED,
        auto_closed=appeal.status == Status.CLOSED and closings[-1:] == ["auto_closed"],
        rating=appeal.rating,
        reopens=sum(1 for k in kinds if k in REOPENS),
        escalations=kinds.count("escalated"),
    )
