"""First-reply fairness: a head always gets working time after the card reaches them. The first-reply
time counts hours of working days only (nights of working days count; weekends, public holidays and
days off do not; a make-up working Sunday does), and a missed first reply never counts before the
head had ``first_reply_min_work_hours`` (4) of working time after the card was actually delivered."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.models import Level
from tests.harness import Harness, appeal_of, events_of, local


def passed(h: Harness, who: dict[str, object]) -> list[str]:
    return [t for t in h.texts(who["id"]) if "passed to" in t]  # type: ignore[arg-type]


async def sweep_at(h: Harness, moment: datetime) -> None:
    h.clock.set(moment)
    await h.app.bot_data.outbox().drain()
    await h.sweep()


async def test_filed_friday_night_the_card_comes_on_monday_alone_and_the_head_has_monday(h: Harness) -> None:
    await h.setup_community()
    h.clock.set(local(2026, 11, 27, 22, 0))  # Friday 22:00
    await h.file_appeal()
    appeal = await appeal_of(h, 1)
    assert appeal.first_reply_due_at == local(2026, 11, 30, 22, 0)  # 2 h on Friday, 22 h on Monday
    await sweep_at(h, local(2026, 11, 28, 23, 0))  # Saturday night: 24 calendar hours are over
    await sweep_at(h, local(2026, 11, 29, 23, 0))
    assert (await appeal_of(h, 1)).level == Level.UNIT
    await sweep_at(h, local(2026, 11, 30, 9, 0))  # Monday 09:00: the card, and nothing else
    assert [t.split("\n")[0] for t in h.texts(h.p.uhead) if "#1" in t] == ["📥 New appeal #1 — 🔧 Problem"]
    await sweep_at(h, local(2026, 11, 30, 21, 59))
    assert passed(h, h.p.uhead) == [] and passed(h, h.p.bhead) == []
    await sweep_at(h, local(2026, 11, 30, 22, 0))  # Monday 22:00: missed; told on Tuesday at 09:00
    assert (await appeal_of(h, 1)).level == Level.BUILDING
    await sweep_at(h, local(2026, 12, 1, 9, 0))
    assert passed(h, h.p.uhead) == [
        "ℹ️ Appeal #1 was passed to the building head: no reply within the first-reply time."
    ]


@pytest.mark.parametrize(
    ("filed", "card_at", "too_early", "due"),
    [
        # the eve of National Day 2025: 09-30 10:00, the days 10-01..10-08 are off
        (local(2025, 9, 30, 10, 0), local(2025, 9, 30, 10, 0), local(2025, 10, 1, 10, 0), local(2025, 10, 9, 10, 0)),
        # a holiday Friday night before the make-up working Sunday 2026-01-04 (the card comes then)
        (local(2026, 1, 2, 22, 0), local(2026, 1, 4, 9, 0), local(2026, 1, 3, 22, 0), local(2026, 1, 5, 0, 0)),
    ],
)
async def test_holidays_do_not_count_and_a_make_up_sunday_does(
    h: Harness, filed: datetime, card_at: datetime, too_early: datetime, due: datetime
) -> None:
    await h.setup_community()
    h.clock.set(filed)
    await h.file_appeal()
    assert (await appeal_of(h, 1)).first_reply_due_at == due
    for moment in sorted((card_at, too_early)):  # 24 calendar hours later is a day off
        await sweep_at(h, moment)
    assert [t for t in h.texts(h.p.uhead) if "New appeal #1" in t]
    await sweep_at(h, due - timedelta(minutes=1))
    assert (await appeal_of(h, 1)).level == Level.UNIT
    await sweep_at(h, due)
    assert (await appeal_of(h, 1)).level == Level.BUILDING
    assert (await events_of(h, 1)).count("escalated") == 1


async def test_a_card_delivered_late_gives_the_head_working_time_after_it(h: Harness) -> None:
    """The unit head's card could not go out (Telegram trouble) until Tuesday 09:55, just before
    the first reply was due (Tuesday 10:00): the miss counts only after 4 working hours from then."""
    await h.setup_community()
    h.rt.telegram.fail_next("sendMessage", h.p.uhead["id"], status=502, times=None)
    await h.file_appeal()
    assert not [t for t in h.texts(h.p.uhead) if "New appeal #1" in t]
    await sweep_at(h, local(2026, 11, 24, 10, 0))  # due, but the card is still waiting: postponed
    assert (await appeal_of(h, 1)).level == Level.UNIT
    h.rt.telegram.clear_failures()
    h.clock.set(local(2026, 11, 24, 10, 30))
    await h.app.bot_data.outbox().drain()
    assert [t for t in h.texts(h.p.uhead) if "New appeal #1" in t]
    await sweep_at(h, local(2026, 11, 24, 14, 0))  # the postponed check: delivered at 10:30
    await sweep_at(h, local(2026, 11, 24, 14, 29))
    assert (await appeal_of(h, 1)).level == Level.UNIT
    await sweep_at(h, local(2026, 11, 24, 14, 30))  # 4 working hours after the card
    assert (await appeal_of(h, 1)).level == Level.BUILDING
