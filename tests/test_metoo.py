"""Issue 12, "Me too" and "A major issue goes to the residents", through the real Application.

Rita marks her appeal as a problem her neighbours share while filing, agrees to its public title,
and it is posted in the building chat with a Me too button (no name). Neighbours press it: counted
once, told of every step, asked how satisfied they are; at the community's threshold the handler
and the staff chat are told once. A neighbour filing the same category is offered to join instead.
On a major issue the handler puts it to the residents: a linked proposal meets the deadline and
its outcome goes into the appeal's history. A restart in the middle loses and doubles nothing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app import open_storage
from bot.models import Status
from tests.harness import Harness, appeal_of, bot_message, events_of, make_harness
from tests.support import assert_calls_valid, updates
from tests.support.botapi import Call

NADIA = updates.user(5001, "Nadia", "nadia_n")
OSKAR = updates.user(5002, "Oskar", "oskar_o")
PETRA = updates.user(5003, "Petra", "petra_p")
NOT_YOURS = "Appeal #1 is not yours to handle."
LIFT = "The lift in entrance 1 is broken\nIt stopped between floors on Monday night"


def alerts(calls: list[Call]) -> list[str]:
    return [c.params.get("text", "") for c in calls if c.method == "answerCallbackQuery"]


def to(calls: list[Call], chat: dict[str, Any] | int) -> list[Call]:
    chat_id = chat if isinstance(chat, int) else chat["id"]
    return [c for c in calls if c.method == "sendMessage" and c.chat_id == chat_id]


def data_of(call: Call) -> list[str]:
    return [d for _, d in call.buttons]


async def press_in(h: Harness, who: dict[str, Any], chat_id: int, contains: str, data: str) -> list[Call]:
    return await h.send(updates.callback_query(who, bot_message(h, chat_id, contains), data))


async def start_filing(h: Harness, who: dict[str, Any], category: str = "problem") -> list[Call]:
    """``who`` opens the building's deep link, picks unit 1 and the category: the describe prompt."""
    building = await h.services.registry.chat_context(h.p.building_chat["id"])
    calls = await h.send(updates.command(who, updates.private_chat(who), "start", f"ap_{building.building.id}"))
    calls = await h.press(who, calls[-1], f"f:u:{building.building.id}:1")
    return await h.press(who, calls[-1], f"f:c:{category}")


async def file_shared(h: Harness, category: str = "problem") -> Call:
    """Rita files a shared appeal and agrees to its title; returns the post in the building chat."""
    rita = h.p.resident
    await start_filing(h, rita, category)
    prompt = bot_message(h, rita["id"], "describe it in one message")
    marked = await h.send(updates.callback_query(rita, prompt, "mt:mark"))
    assert "public title" in alerts(marked)[0]
    filed = await h.text(rita, LIFT)
    (offer,) = [c for c in to(filed, rita) if "would be posted in the building chat" in (c.text or "")]
    assert "The lift in entrance 1 is broken" in (offer.text or "") and "Monday night" not in (offer.text or "")
    posted = await h.press(rita, offer, "mt:post:1")
    (post,) = to(posted, h.p.building_chat)
    return post


async def test_a_shared_appeal_is_posted_with_consent_and_counts_each_neighbour_once(h: Harness) -> None:
    await h.setup_community()
    post = await file_shared(h)
    assert post.text == (
        "📢 A neighbour reported (🔧 Problem):\nThe lift in entrance 1 is broken\n\n"
        "Does it affect you too? Press “Me too” and you will be told of every step."
    )
    assert "Rita" not in (post.text or "") and data_of(post) == ["mt:join:1"]
    assert "shared" in await events_of(h, 1)
    chat = h.p.building_chat["id"]
    joined = await press_in(h, NADIA, chat, "A neighbour reported", "mt:join:1")
    assert alerts(joined)[0].startswith("🙋 Counted: “The lift in entrance 1 is broken” now has 1 neighbour")
    again = await press_in(h, NADIA, chat, "A neighbour reported", "mt:join:1")  # a double tap
    assert alerts(again) == ["You are already counted for “The lift in entrance 1 is broken” (1 neighbour in all)."]
    own = await press_in(h, h.p.resident, chat, "A neighbour reported", "mt:join:1")
    assert alerts(own) == ["Appeal #1 is your own: you are counted already."]
    oskar = await h.send(updates.callback_query(OSKAR, bot_message(h, chat, "A neighbour reported"), "mt:join:1"))
    assert "now has 2 neighbours" in alerts(oskar)[0]
    # the same button pressed in another chat (a forwarded post) is not someone of the building
    staff_chat = h.p.staff_chat
    fake = updates.message_dict(updates.bot_user(), staff_chat, text="📢 A neighbour reported")
    outsider = await h.send(updates.callback_query(PETRA, fake, "mt:join:1"))
    assert alerts(outsider) == ["Only people of this building can press “Me too”."]
    async with h.services.db.read() as tx:
        rows = await tx.fetchall("SELECT user_id FROM appeal_supporters WHERE appeal_id = 1 ORDER BY user_id")
    assert [r["user_id"] for r in rows] == [NADIA["id"], OSKAR["id"]]
    assert_calls_valid(h.rt.calls)


async def test_supporters_are_told_of_every_step_and_may_rate_the_resolution(h: Harness) -> None:
    await h.setup_community()
    await file_shared(h)
    chat = h.p.building_chat["id"]
    await press_in(h, NADIA, chat, "A neighbour reported", "mt:join:1")
    taken = await press_in(h, h.p.uhead, h.p.uhead["id"], "New appeal #1", "a:take:1")
    assert [c.text for c in to(taken, NADIA)] == [
        "👀 “The lift in entrance 1 is broken”, which you reported too, has been taken up."
    ]
    early = await h.send(
        updates.callback_query(
            NADIA, updates.message_dict(updates.bot_user(), updates.private_chat(NADIA), text="x"), "mt:rate:1:5"
        )
    )
    assert alerts(early) == ["Appeal #1 is not resolved yet: you can rate it once it is."]
    await press_in(h, h.p.uhead, h.p.uhead["id"], "is yours", "a:res:1")
    resolved = await h.text(h.p.uhead, "Repaired by the lift company")
    (told,) = to(resolved, NADIA)
    assert told.text == "✅ “The lift in entrance 1 is broken” is marked resolved. Are you satisfied?"
    assert data_of(told) == ["mt:rate:1:5", "mt:rate:1:3", "mt:rate:1:1"]
    assert "Repaired by the lift company" not in (told.text or "")  # the head's words are for the resident
    rated = await h.press(NADIA, told, "mt:rate:1:3")
    assert [c.params.get("text") for c in rated if c.method == "editMessageText"] == [
        "Thank you! Your answer: partly satisfied."
    ]
    stranger = await h.press(PETRA, told, "mt:rate:1:1")
    assert alerts(stranger) == ["Only neighbours who reported it too can rate appeal #1."]
    assert await h.services.metoo.supporters_of(1) == (1, [3])


async def test_many_supporters_flag_the_appeal_once_to_its_handler_and_staff(h: Harness) -> None:
    await h.setup_community()
    await h.cmd(h.p.staff, h.p.staff_chat, "sla", "metoo_threshold 2")
    await file_shared(h)
    chat = h.p.building_chat["id"]
    first = await press_in(h, NADIA, chat, "A neighbour reported", "mt:join:1")
    assert not [c for c in first if "neighbours: please give it priority" in (c.text or "")]
    second = await press_in(h, OSKAR, chat, "A neighbour reported", "mt:join:1")
    (to_head,) = to(second, h.p.uhead)
    assert (
        to_head.text
        == "👥 Appeal #1 “The lift in entrance 1 is broken” is reported by 2 neighbours: please give it priority."
    )
    assert [c.text for c in to(second, h.p.staff_chat)] == [
        "👥 Appeal #1 “The lift in entrance 1 is broken” is reported by 2 neighbours."
    ]
    third = await press_in(h, PETRA, chat, "A neighbour reported", "mt:join:1")
    assert not to(third, h.p.uhead) and not to(third, h.p.staff_chat)
    assert (await events_of(h, 1)).count("flagged_shared") == 1


async def test_filing_the_same_category_offers_to_join_instead_of_a_duplicate(h: Harness) -> None:
    await h.setup_community()
    await file_shared(h)
    # Nadia lives in the building (seen in its chat) and starts filing a problem too
    await h.send(updates.message(NADIA, h.p.building_chat, "hello neighbours"))
    calls = await start_filing(h, NADIA)
    prompt = [c for c in calls if c.chat_id == NADIA["id"] and c.method in ("sendMessage", "editMessageText")][-1]
    assert (
        "Neighbours have already reported something like this:\n• The lift in entrance 1 is broken (1 neighbour)"
        in (prompt.params["text"])
    )
    assert "mt:join:1" in [d for _, d in prompt.buttons]
    joined = await h.send(
        updates.callback_query(NADIA, bot_message(h, NADIA["id"], "Neighbours have already"), "mt:join:1")
    )
    assert alerts(joined)[0].startswith("🙋 Counted")
    assert await h.services.filing.conversation(NADIA["id"]) is not None
    assert (await h.services.filing.conversation(NADIA["id"])).draft is None  # nothing half-filed is left
    # a question is nobody else's: no Me too offer and no "neighbours too" button for it
    calls = await start_filing(h, OSKAR, "consultation")
    last = [c for c in calls if c.chat_id == OSKAR["id"]][-1]
    assert not [d for _, d in last.buttons if d.startswith("mt:")]


async def test_a_major_issue_put_to_the_residents_meets_its_deadline_and_gets_the_outcome(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal(text="Replace the old lift of entrance 1", category="major")
    card = bot_message(h, h.p.uhead["id"], "New appeal #1")
    assert "mt:put:1" in [b["callback_data"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    # a resident cannot put it to the vote
    refused = await h.send(updates.callback_query(h.p.resident, card, "mt:put:1"))
    assert alerts(refused) == [NOT_YOURS]
    assert await h.services.proposals.open_in_building((await appeal_of(h, 1)).building_id) == []
    preview = await h.send(updates.callback_query(h.p.uhead, card, "mt:put:1"))
    (shown,) = to(preview, h.p.uhead)
    assert "#1: Replace the old lift of entrance 1" in (shown.text or "") and data_of(shown) == ["mt:open:1"]
    opened = await h.press(h.p.uhead, shown, "mt:open:1")
    (ballot,) = to(opened, h.p.building_chat)
    assert "#1: Replace the old lift of entrance 1" in (ballot.text or "")
    assert next(c.text or "" for c in to(opened, h.p.resident)).startswith(
        "🗳 Your appeal #1 is put to the building's residents"
    )
    again = await h.press(h.p.uhead, shown, "mt:open:1")  # a double tap opens nothing more
    assert alerts(again) == ["Appeal #1 is already being voted on by the residents."]
    appeal = await appeal_of(h, 1)
    assert appeal.status == Status.IN_PROGRESS and "put_to_residents" in await events_of(h, 1)
    # the major issue's old deadline passes during the vote: nothing escalates
    h.clock.advance(timedelta(days=2, hours=23))
    assert not [c for c in await h.sweep() if "passed to you" in (c.text or "")]
    # residents vote; the vote closes; the outcome goes into the appeal's history
    vote = next(d for _, d in ballot.buttons if d.startswith("pv:") and d.endswith(":0"))
    await h.press(h.p.resident, ballot, vote)
    h.clock.advance(timedelta(hours=2))
    closed = await h.sweep()
    (decided,) = [c for c in to(closed, h.p.uhead) if "vote on appeal #1 is over" in (c.text or "")]
    assert "“#1: Replace the old lift of entrance 1” —" in (decided.text or "") and "mt:put:1" in data_of(decided)
    assert [c.text for c in to(closed, h.p.resident) if "decided on your appeal #1" in (c.text or "")]
    events = await events_of(h, 1)
    assert events.index("residents_decided") > events.index("put_to_residents")
    fresh = await appeal_of(h, 1)
    assert fresh.due_at is not None and fresh.due_at > h.clock.now()  # the appeal goes on with a fresh deadline
    assert_calls_valid(h.rt.calls)


async def test_a_restart_between_filing_and_consent_loses_and_doubles_nothing(h: Harness, tmp_path: Path) -> None:
    await h.setup_community()
    rita = h.p.resident
    await start_filing(h, rita)
    await h.send(updates.callback_query(rita, bot_message(h, rita["id"], "describe it in one message"), "mt:mark"))
    await h.text(rita, LIFT)
    offer = bot_message(h, rita["id"], "would be posted in the building chat")
    h2, app2 = await make_harness(tmp_path, h.clock.now())
    async with app2:
        await open_storage(app2)
        try:
            h2.p = h.p
            h2.rt.telegram.messages.update(h.rt.telegram.messages)
            first = await h2.send(updates.callback_query(rita, offer, "mt:post:1"))
            second = await h2.send(updates.callback_query(rita, offer, "mt:post:1"))
            assert len(to(first, h.p.building_chat)) == 1 and not to(second, h.p.building_chat)
            assert alerts(second) == ["Appeal #1 is already posted in the building chat."]
            joined = await h2.send(
                updates.callback_query(NADIA, bot_message(h2, h.p.building_chat["id"], "A neighbour"), "mt:join:1")
            )
            assert alerts(joined)[0].startswith("🙋 Counted")
        finally:
            await app2.bot_data.outbox().drain()


async def test_supporters_hear_of_escalation_and_of_the_residents_decision_across_a_restart(
    h: Harness, tmp_path: Path
) -> None:
    await h.setup_community()
    await file_shared(h, "major")
    await press_in(h, NADIA, h.p.building_chat["id"], "A neighbour reported", "mt:join:1")
    # nobody takes it: the sweep passes it up, and Nadia is told where it went, in her words
    h.clock.advance(timedelta(days=7))
    swept = await h.sweep()
    assert [c.text for c in to(swept, NADIA)] == [
        "⬆️ “The lift in entrance 1 is broken” was passed to the building head. New deadline: Tue 1 Dec, 10:00."
    ]
    card = bot_message(h, h.p.bhead["id"], "was passed to you")
    preview = await h.send(updates.callback_query(h.p.bhead, card, "mt:put:1"))
    opened = await h.press(h.p.bhead, to(preview, h.p.bhead)[0], "mt:open:1")
    (put,) = to(opened, NADIA)
    assert (put.text or "").startswith("🗳 “The lift in entrance 1 is broken” is put to the residents")
    # the vote closes while a second process runs too: the outcome is written and told once
    h2, app2 = await make_harness(tmp_path, h.clock.now())
    async with app2:
        await open_storage(app2)
        try:
            h2.p = h.p
            for clock in (h.clock, h2.clock):
                clock.advance(timedelta(days=3, minutes=1))
            closed = await h2.sweep()
            again = await h.sweep()
        finally:
            await app2.bot_data.outbox().drain()
    decided = [c.text or "" for c in to(closed, NADIA)] + [c.text or "" for c in to(again, NADIA)]
    assert len(decided) == 1 and decided[0].startswith(
        "🗳 The residents decided on “The lift in entrance 1 is broken”: "
    )
    assert (await events_of(h, 1)).count("residents_decided") == 1
