"""Satisfaction in words (satisfied / partly / not satisfied = 5 / 3 / 1 on the 1-5 scale), asked
again once if ignored, also after an auto-close; a return visit a few days after a major issue was
closed ("is it still fixed?"), where "no" reopens the appeal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.models import Status
from tests.harness import Harness, appeal_of, bot_message, events_of, local, said
from tests.support import updates
from tests.support.botapi import Call

WORDS = [("😊 Satisfied", "a:rate:1:5"), ("😐 Partly", "a:rate:1:3"), ("☹️ Not satisfied", "a:rate:1:1")]


async def press(h: Harness, who: dict[str, Any], contains: str, data: str) -> list[Call]:
    return await h.send(updates.callback_query(who, bot_message(h, who["id"], contains), data))


async def resolved(h: Harness, category: str = "problem") -> None:
    """Filed, taken and resolved on Monday 2026-11-23 by the unit head."""
    await h.setup_community()
    await h.file_appeal(category=category)
    await press(h, h.p.uhead, "New appeal #1", "a:take:1")
    await press(h, h.p.uhead, "is yours", "a:res:1")
    await h.text(h.p.uhead, "The lift was repaired")


async def sweep_at(h: Harness, moment: datetime) -> list[Call]:
    h.clock.set(moment)
    return await h.sweep()


def to_resident(h: Harness, calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.method == "sendMessage" and c.chat_id == h.p.resident["id"]]


async def test_satisfaction_in_words_is_asked_again_once_if_ignored(h: Harness) -> None:
    await resolved(h)
    calls = await press(h, h.p.resident, "marked resolved", "a:ok:1")
    (thanks,) = to_resident(h, calls)
    assert thanks.buttons == WORDS
    assert to_resident(h, await sweep_at(h, local(2026, 11, 24, 9, 59))) == []
    (again,) = to_resident(h, await sweep_at(h, local(2026, 11, 24, 10, 0)))  # a working day later
    assert again.text == "Appeal #1 is closed. Are you satisfied with how it was handled? One press is enough."
    assert again.buttons == WORDS
    assert to_resident(h, await sweep_at(h, local(2026, 11, 24, 10, 0))) == []  # once
    assert to_resident(h, await sweep_at(h, local(2026, 12, 24, 10, 0))) == []
    calls = await press(h, h.p.resident, "One press is enough", "a:rate:1:5")
    assert to_resident(h, calls)[-1].text == "Thank you! You said: satisfied."
    assert (await appeal_of(h, 1)).rating == 5
    assert (await events_of(h, 1))[-2:] == ["rating_asked_again", "rated"]


async def test_a_rated_appeal_is_not_asked_again(h: Harness) -> None:
    await resolved(h)
    await press(h, h.p.resident, "marked resolved", "a:ok:1")
    calls = await press(h, h.p.resident, "How satisfied", "a:rate:1:1")
    assert to_resident(h, calls)[-1].text == "Thank you! You said: not satisfied."
    assert (await appeal_of(h, 1)).rating == 1
    assert to_resident(h, await sweep_at(h, local(2026, 11, 25, 10, 0))) == []


async def test_an_auto_closed_appeal_asks_for_satisfaction_too_and_again_once(h: Harness) -> None:
    await resolved(h)
    (closed,) = to_resident(h, await sweep_at(h, local(2026, 11, 26, 10, 0)))  # 3 working days of silence
    assert closed.text is not None and closed.text.endswith("Are you satisfied with how it was handled?")
    assert closed.buttons == WORDS
    (again,) = to_resident(h, await sweep_at(h, local(2026, 11, 27, 10, 0)))
    assert again.buttons == WORDS
    calls = await press(h, h.p.resident, "closed as solved", "a:rate:1:3")
    assert to_resident(h, calls)[-1].text == "Thank you! You said: partly satisfied."
    assert (await appeal_of(h, 1)).rating == 3


async def test_a_major_issue_gets_a_return_visit_and_yes_keeps_it_closed(h: Harness) -> None:
    await resolved(h, "major")
    await press(h, h.p.resident, "marked resolved", "a:ok:1")
    await press(h, h.p.resident, "How satisfied", "a:rate:1:5")
    assert to_resident(h, await sweep_at(h, local(2026, 11, 26, 9, 59))) == []
    (visit,) = to_resident(h, await sweep_at(h, local(2026, 11, 26, 10, 0)))  # 3 working days later
    assert visit.text == "🔎 Appeal #1 was closed a few days ago:\nThe lift is broken\n\nIs it still fixed?"
    assert visit.buttons == [("👍 Yes, still fixed", "a:still:1:y"), ("👎 No, broken again", "a:still:1:n")]
    assert to_resident(h, await sweep_at(h, local(2026, 11, 27, 10, 0))) == []  # swept once
    calls = await press(h, h.p.resident, "Is it still fixed?", "a:still:1:y")
    assert to_resident(h, calls)[-1].text == "Thank you! Glad it holds."
    calls = await press(h, h.p.resident, "Is it still fixed?", "a:still:1:n")
    assert said(calls) == ["You already answered about appeal #1. Thank you!"]
    assert (await appeal_of(h, 1)).status == Status.CLOSED


async def test_no_at_the_return_visit_reopens_the_appeal(h: Harness) -> None:
    await resolved(h, "major")
    await press(h, h.p.resident, "marked resolved", "a:ok:1")
    await sweep_at(h, local(2026, 11, 26, 10, 0))
    calls = await press(h, h.p.resident, "Is it still fixed?", "a:still:1:n")
    assert to_resident(h, calls)[-1].text == "Appeal #1 goes back to work. New deadline: Thu 3 Dec, 10:00."
    appeal = await appeal_of(h, 1)
    assert (appeal.status, appeal.closed_at, appeal.assignee_user_id) == (Status.IN_PROGRESS, None, h.p.uhead["id"])
    (card,) = [c for c in calls if c.chat_id == h.p.uhead["id"]]
    assert card.text is not None and card.text.startswith(
        "🔁 The resident says appeal #1 is broken again, some days after it was closed. New deadline: Thu 3 Dec, 10:00."
    )
    assert [d for _, d in card.buttons] == ["a:reply:1", "a:ask:1", "a:res:1", "a:esc:1", "mt:put:1"]
    # someone else cannot answer the visit; the appeal runs its deadlines again
    calls = await h.send(
        updates.callback_query(h.p.uhead, bot_message(h, h.p.resident["id"], "still fixed"), "a:still:1:y")
    )
    assert said(calls) == ["Appeal #1 is not yours to handle."]
    assert "broken_again" in await events_of(h, 1)


async def test_a_problem_gets_no_return_visit(h: Harness) -> None:
    await resolved(h, "problem")
    await press(h, h.p.resident, "marked resolved", "a:ok:1")
    await press(h, h.p.resident, "How satisfied", "a:rate:1:5")
    assert to_resident(h, await sweep_at(h, local(2026, 12, 10, 10, 0))) == []
