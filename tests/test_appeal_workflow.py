"""The appeal lifecycle through the real Application: filing (group deep link, private /appeal,
units, categories, voice and photo), routing, the assignee's buttons (take, reply, ask, resolve,
beyond my reach), the resident's confirmation, rating and reopening, the deadline sweep (reminders,
escalation up the chain, daily re-pings at the top, auto-close), quiet hours, stale buttons, lists and
history.

The clock starts on Monday 2026-11-23 10:00 in Shanghai (a working day; 09:00-18:00 working hours).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.calendar import WorkCalendar
from bot.models import Level, Status
from storage.registry import RegistryRepo
from tests.harness import Harness, appeal_of, bot_message, events_of, local, said
from tests.support import assert_calls_valid, updates
from tests.support.botapi import Call

CARD_BUTTONS_NEW = ["a:take:{id}", "a:reply:{id}", "a:ask:{id}", "a:res:{id}", "a:esc:{id}"]
CARD_BUTTONS_TAKEN = ["a:reply:{id}", "a:ask:{id}", "a:res:{id}", "a:esc:{id}"]


# --- helpers -----------------------------------------------------------------------------------------
def to(calls: list[Call], chat: dict[str, Any] | int) -> list[str]:
    """Texts the bot sent to ``chat`` among ``calls`` (sendMessage only)."""
    chat_id = chat if isinstance(chat, int) else chat["id"]
    return [c.text or "" for c in calls if c.method == "sendMessage" and c.chat_id == chat_id]


def alerts(calls: list[Call]) -> list[str]:
    """Texts of callback answers shown as an alert."""
    return [c.params["text"] for c in calls if c.method == "answerCallbackQuery" and c.params.get("show_alert")]


def data_of(call: Call) -> list[str]:
    return [data for _, data in call.buttons]


def card_to(h: Harness, chat: dict[str, Any] | int, contains: str) -> Call:
    """The last sendMessage to ``chat`` whose text contains ``contains`` (to press its buttons)."""
    chat_id = chat if isinstance(chat, int) else chat["id"]
    found = [c for c in h.rt.sent_to(chat_id) if c.method == "sendMessage" and contains in (c.text or "")]
    assert found, f"no message containing {contains!r} to {chat_id}: {h.texts(chat_id)}"
    return found[-1]


async def building_id(h: Harness) -> int:
    ctx = await h.services.registry.chat_context(h.p.building_chat["id"])
    assert ctx is not None and ctx.building is not None
    return int(ctx.building.id)


async def start_filing(h: Harness, who: dict[str, Any] | None = None, category: str = "problem", unit: int = 1) -> None:
    """Through the group's deep link up to "Describe it"."""
    who = who or h.p.resident
    bid = await building_id(h)
    calls = await h.send(updates.command(who, updates.private_chat(who), "start", f"ap_{bid}"))
    if "Which unit" in (calls[-1].text or ""):
        calls = await h.press(who, calls[-1], f"f:u:{bid}:{unit}")
    calls = await h.press(who, calls[-1], f"f:c:{category}")
    assert "Now describe it in one message" in (calls[-1].text or ""), calls  # the prompt, edited


def receipt_id(calls: list[Call], who: dict[str, Any]) -> int:
    receipt = [t for t in to(calls, who) if t.startswith("✅ Appeal #")]
    assert receipt, said(calls)
    return int(receipt[-1].split("#", 1)[1].split()[0])


async def take(h: Harness, appeal_id: int, who: dict[str, Any] | None = None) -> list[Call]:
    who = who or h.p.uhead
    card = card_to(h, who, f"#{appeal_id}")
    calls = await h.press(who, card, f"a:take:{appeal_id}")
    assert to(calls, who) and to(calls, who)[-1].startswith(f"✋ Appeal #{appeal_id} is yours"), said(calls)
    return calls


async def act(h: Harness, who: dict[str, Any], appeal_id: int, action: str, text: str) -> list[Call]:
    """Press reply / ask / res on the appeal's card in the private chat, then write ``text``."""
    card = card_to(h, who, f"#{appeal_id}")
    prompt = await h.press(who, card, f"a:{action}:{appeal_id}")
    assert any(t.startswith("Write") for t in to(prompt, who)), said(prompt)
    return await h.text(who, text)


async def sweep_at(h: Harness, moment: Any) -> list[Call]:
    h.clock.set(moment)
    return await h.sweep()


def no_internal_errors(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    assert not [t for t in h.rt.texts(h.p.resident["id"]) if "went wrong" in t]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


# --- filing ------------------------------------------------------------------------------------------
async def test_appeal_in_the_building_chat_answers_with_a_deep_link_and_no_personal_data(h: Harness) -> None:
    await h.setup_community()
    bid = await building_id(h)
    calls = await h.cmd(h.p.resident, h.p.building_chat, "appeal")
    assert [c.method for c in calls] == ["sendMessage"]
    (answer,) = calls
    assert answer.chat_id == h.p.building_chat["id"]
    assert answer.text == "Please write to me privately: your details will not appear in this group."
    assert answer.buttons == [("✍️ Write to me privately", f"https://t.me/unitbot_test_bot?start=ap_{bid}")]
    button = answer.params["reply_markup"]["inline_keyboard"][0][0]
    assert "url" in button and "callback_data" not in button
    for private in ("Rita", "rita_r", str(h.p.resident["id"])):
        assert private not in str(answer.params)
    # following the link starts the filing in private, with the unit question first
    calls = await h.send(updates.command(h.p.resident, updates.private_chat(h.p.resident), "start", f"ap_{bid}"))
    assert to(calls, h.p.resident) == ["Which unit (stairwell) of Building 7 do you live in?"]


async def test_unit_is_asked_once_then_private_appeal_starts_directly(h: Harness) -> None:
    await h.setup_community()
    me = h.p.resident
    private = updates.private_chat(me)
    calls = await h.cmd(me, private, "appeal")
    (question,) = to(calls, me)  # not a dead end: the building is asked for (buttons, or the poster's code)
    assert question.startswith("Which building do you live in?") and "/appeal" not in question

    bid = await building_id(h)
    calls = await h.send(updates.command(me, private, "start", f"ap_{bid}"))
    unit_question = calls[-1]
    assert unit_question.buttons == [
        ("1", f"f:u:{bid}:1"),
        ("2", f"f:u:{bid}:2"),
        ("3", f"f:u:{bid}:3"),
        ("4", f"f:u:{bid}:4"),
    ]
    calls = await h.press(me, unit_question, f"f:u:{bid}:1")
    assert (calls[-1].method, (calls[-1].text or "").split("\n")[:2]) == (
        "editMessageText",
        ["Building 7, unit 1", "What is it about? Press one:"],
    )
    assert data_of(calls[-1]) == ["f:c:consultation", "f:c:problem", "f:c:major", "f:anon"]
    await h.press(me, calls[-1], "f:c:problem")
    calls = await h.text(me, "The lift is broken")
    assert receipt_id(calls, me) == 1

    # the second time: private /appeal, the one known building and the remembered unit
    calls = await h.cmd(me, private, "appeal")
    assert to(calls, me)[0].startswith("Building 7, unit 1\nWhat is it about?")
    await h.press(me, calls[-1], "f:c:consultation")
    calls = await h.text(me, "When is the water turned off?")
    assert receipt_id(calls, me) == 2
    assert (await appeal_of(h, 2)).unit_id == 1


@pytest.mark.parametrize(
    ("category", "label", "due", "said_due"),
    [
        ("problem", "🔧 Problem", "2026-11-26 10:00", "Thu 26 Nov, 10:00"),  # 3 working days: Thursday
        ("consultation", "❓ Question", "2026-11-24 10:00", "Tue 24 Nov, 10:00"),  # 1 working day
        ("major", "🏛 Major issue", "2026-11-30 10:00", "Mon 30 Nov, 10:00"),  # 5 working days: to Monday
    ],
)
async def test_receipt_has_number_and_deadlines_by_category(
    h: Harness, category: str, label: str, due: str, said_due: str
) -> None:
    await h.setup_community()
    await start_filing(h, category=category)
    calls = await h.text(h.p.resident, "Something in the building")
    assert to(calls, h.p.resident) == [
        f"✅ Appeal #1 received: {label}\nBuilding 7, unit 1\nIt is with Uma (unit head).\n"
        f"First answer by Tue 24 Nov, 10:00.\nTo be solved by {said_due}.\n"
        "I will tell you about every step. To add something, reply to this message."
    ]
    appeal = await appeal_of(h, 1)
    assert appeal.due_at == local(*(int(x) for x in due.replace("-", " ").replace(":", " ").split()))
    assert appeal.level == Level.UNIT and appeal.assignee_user_id == h.p.uhead["id"]
    card = card_to(h, h.p.uhead, "New appeal #1")
    assert card.text == (
        f"📥 New appeal #1 — {label}\nBuilding 7, unit 1\nFrom: Rita\n\nSomething in the building\n\nDeadline: {due}"
    )
    assert data_of(card) == [d.format(id=1) for d in CARD_BUTTONS_NEW]


async def test_voice_appeal_is_accepted_and_copied_to_the_unit_head(h: Harness) -> None:
    await h.setup_community()
    await start_filing(h)
    raw = updates.voice_message(h.p.resident, updates.private_chat(h.p.resident))
    calls = await h.send(raw)
    assert receipt_id(calls, h.p.resident) == 1
    assert to(calls, h.p.uhead) == [
        "📥 New appeal #1 — 🔧 Problem\nBuilding 7, unit 1\nFrom: Rita\n\n-\n\nDeadline: 2026-11-26 10:00"
    ]
    copies = [c for c in calls if c.method == "copyMessage"]
    assert len(copies) == 1
    assert copies[0].chat_id == h.p.uhead["id"]
    assert copies[0].params["from_chat_id"] == h.p.resident["id"]
    assert copies[0].params["message_id"] == raw["message"]["message_id"]
    async with h.services.db.read() as tx:
        from storage.appeals import AppealsRepo

        media = await AppealsRepo(tx).media(1)
    assert [(m["kind"], m["file_id"]) for m in media] == [("voice", raw["message"]["voice"]["file_id"])]


async def test_photo_appeal_with_caption_is_accepted_and_copied(h: Harness) -> None:
    await h.setup_community()
    await start_filing(h, category="major")
    raw = updates.photo_message(h.p.resident, updates.private_chat(h.p.resident), caption="Crack in the wall")
    calls = await h.send(raw)
    assert receipt_id(calls, h.p.resident) == 1
    assert "Crack in the wall" in to(calls, h.p.uhead)[0]
    (copy,) = [c for c in calls if c.method == "copyMessage"]
    assert (copy.chat_id, copy.params["from_chat_id"], copy.params["message_id"]) == (
        h.p.uhead["id"],
        h.p.resident["id"],
        raw["message"]["message_id"],
    )
    assert (await appeal_of(h, 1)).body == "Crack in the wall"


async def test_text_typed_before_the_category_is_kept_and_filed_with_it(h: Harness) -> None:
    await h.setup_community()
    me = h.p.resident
    bid = await building_id(h)
    calls = await h.send(updates.command(me, updates.private_chat(me), "start", f"ap_{bid}"))
    calls = await h.press(me, calls[-1], f"f:u:{bid}:1")
    assert "What is it about? Press one:" in (calls[-1].text or "")
    calls = await h.text(me, "Water is leaking in the basement")
    (asked,) = to(calls, me)  # kept; the category is still needed
    assert asked.startswith("📝 I kept your message: it will be the description.\n\nBuilding 7, unit 1\nWhat is it")
    assert not h.texts(h.p.uhead) or not any("New appeal" in t for t in h.texts(h.p.uhead))
    calls = await h.press(me, calls[-1], "f:c:problem")
    assert receipt_id(calls, me) == 1
    assert "Water is leaking in the basement" in to(calls, h.p.uhead)[0]
    assert (await appeal_of(h, 1)).body == "Water is leaking in the basement"


# --- routing -----------------------------------------------------------------------------------------
async def test_unit_without_a_head_goes_to_the_building_head(h: Harness) -> None:
    await h.setup_community()
    await start_filing(h, unit=2)
    calls = await h.text(h.p.resident, "No light on the stairs")
    assert "It is with Boris (building head)." in to(calls, h.p.resident)[0]
    assert to(calls, h.p.uhead) == []
    (card,) = to(calls, h.p.bhead)
    assert card.startswith("📥 New appeal #1 — 🔧 Problem\nBuilding 7, unit 2\n")
    appeal = await appeal_of(h, 1)
    assert (appeal.level, appeal.assignee_user_id) == (Level.BUILDING, h.p.bhead["id"])


async def test_without_a_building_head_it_goes_to_the_staff_chat(h: Harness) -> None:
    await h.setup_community()
    bid = await building_id(h)
    async with h.services.db.write() as tx:
        await RegistryRepo(tx).set_building_head(bid, None)
    await start_filing(h, unit=2)
    calls = await h.text(h.p.resident, "No light on the stairs")
    assert "It is with Sunny Side (community staff)." in to(calls, h.p.resident)[0]
    (card,) = [c for c in calls if c.chat_id == h.p.staff_chat["id"]]
    assert card.text is not None and card.text.startswith("📥 New appeal #1")
    assert data_of(card) == [d.format(id=1) for d in CARD_BUTTONS_NEW]
    appeal = await appeal_of(h, 1)
    assert (appeal.level, appeal.assignee_user_id) == (Level.COMMUNITY, None)
    # staff take it from the staff chat; the resident is told
    calls = await h.press(h.p.staff, card, "a:take:1")
    assert to(calls, h.p.resident) == ["👀 Your appeal #1 has been taken up."]
    assert (await appeal_of(h, 1)).assignee_user_id == h.p.staff["id"]


# --- the assignee's buttons --------------------------------------------------------------------------
async def test_take_reply_and_the_residents_reply_go_back_and_forth(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    calls = await take(h, 1)
    assert to(calls, h.p.uhead) == ["✋ Appeal #1 is yours. Deadline: 2026-11-26 10:00."]
    assert to(calls, h.p.resident) == ["👀 Your appeal #1 has been taken up."]
    assert (await appeal_of(h, 1)).status == Status.IN_PROGRESS

    calls = await act(h, h.p.uhead, 1, "reply", "The technician comes tomorrow")
    assert to(calls, h.p.uhead) == ["✅ Your reply on appeal #1 was sent to the resident."]
    assert to(calls, h.p.resident) == [
        "💬 Reply on your appeal #1 from the unit head:\nThe technician comes tomorrow\n\n"
        "To answer, reply to this message."
    ]

    # the resident answers by replying to that message: it goes back to the unit head
    reply_to = bot_message(h, h.p.resident["id"], "Reply on your appeal #1")
    calls = await h.send(
        updates.message(h.p.resident, updates.private_chat(h.p.resident), "Door code 1234", reply_to=reply_to)
    )
    assert to(calls, h.p.resident) == ["✅ Added to appeal #1 and passed on."]
    assert to(calls, h.p.uhead) == ["💬 The resident added to appeal #1:\nDoor code 1234"]

    # and the unit head answers that by replying too
    relayed = bot_message(h, h.p.uhead["id"], "The resident added to appeal #1")
    calls = await h.send(updates.message(h.p.uhead, updates.private_chat(h.p.uhead), "Thanks, noted", reply_to=relayed))
    assert to(calls, h.p.resident) == [
        "💬 Reply on your appeal #1 from the unit head:\nThanks, noted\n\nTo answer, reply to this message."
    ]
    assert await events_of(h, 1) == ["filed", "taken", "reply", "added", "reply"]


async def test_ask_pauses_the_clock_and_the_answer_resumes_it_with_the_remaining_time(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    await take(h, 1)
    h.clock.set(local(2026, 11, 23, 11, 0))
    calls = await act(h, h.p.uhead, 1, "ask", "Which floor is it?")
    assert to(calls, h.p.uhead) == [
        "✅ Your question was sent. The deadline of appeal #1 is paused until the resident answers."
    ]
    assert to(calls, h.p.resident) == [
        "❓ A question about your appeal #1:\nWhich floor is it?\n\nPlease answer by replying to this message."
    ]
    waiting = await appeal_of(h, 1)
    # Mon 11-18 (7h) + Tue (9h) + Wed (9h) + Thu 09-10 (1h) of working time were left
    assert (waiting.status, waiting.remaining_seconds) == (Status.WAITING, 26 * 3600)

    # ten working days pass while the resident is silent: nothing fires
    later = local(2026, 12, 7, 11, 0)
    cal = WorkCalendar("CN", "Asia/Shanghai")
    assert cal.working_seconds_between(local(2026, 11, 23, 11, 0), later) == 10 * 9 * 3600
    assert await sweep_at(h, local(2026, 11, 26, 10, 0)) == []
    assert await sweep_at(h, later) == []
    assert await h.sweep() == []
    still = await appeal_of(h, 1)
    assert (still.status, still.level) == (Status.WAITING, Level.UNIT)

    question = bot_message(h, h.p.resident["id"], "A question about your appeal #1")
    calls = await h.send(
        updates.message(h.p.resident, updates.private_chat(h.p.resident), "The 3rd floor", reply_to=question)
    )
    assert to(calls, h.p.resident) == ["✅ Your answer on appeal #1 was passed on."]
    # the 26 working hours left run from Mon 2026-12-07 11:00: Thursday 2026-12-10 10:00
    assert to(calls, h.p.uhead) == [
        "💬 The resident answered on appeal #1:\nThe 3rd floor\n\nThe clock runs again; deadline 2026-12-10 10:00."
    ]
    resumed = await appeal_of(h, 1)
    assert (resumed.status, resumed.due_at, resumed.remaining_seconds) == (
        Status.IN_PROGRESS,
        local(2026, 12, 10, 10, 0),
        None,
    )
    await sweep_at(h, local(2026, 12, 10, 9, 59))
    assert not any("passed to you" in t for t in h.texts(h.p.bhead))
    calls = await sweep_at(h, local(2026, 12, 10, 10, 0))
    assert [t for t in to(calls, h.p.bhead) if "passed to you" in t]
    assert await events_of(h, 1) == ["filed", "taken", "asked", "answer", "reminded", "escalated"]


async def test_a_plain_message_answers_the_question_too(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    await take(h, 1)
    await act(h, h.p.uhead, 1, "ask", "Since when?")
    calls = await h.text(h.p.resident, "Since Sunday")
    assert to(calls, h.p.uhead)[0].startswith("💬 The resident answered on appeal #1:\nSince Sunday")
    assert (await appeal_of(h, 1)).status == Status.IN_PROGRESS


async def test_resolve_confirm_and_rate(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    await take(h, 1)
    calls = await act(h, h.p.uhead, 1, "res", "The lift was repaired")
    assert to(calls, h.p.uhead) == ["✅ Appeal #1 is marked resolved. The resident will confirm it."]
    (asked,) = [c for c in calls if c.chat_id == h.p.resident["id"]]
    assert asked.text == (
        "✅ Your appeal #1 is marked resolved:\nThe lift was repaired\n\nIs the problem solved? "
        "If you do not answer within 3 working days, it closes as solved."
    )
    assert asked.buttons == [("👍 Yes, solved", "a:ok:1"), ("👎 Not solved", "a:re:1")]
    assert (await appeal_of(h, 1)).status == Status.RESOLVED

    calls = await h.press(h.p.resident, asked, "a:ok:1")
    (thanks,) = [c for c in calls if c.method == "sendMessage"]
    assert thanks.text == "Thank you! Appeal #1 is closed. How satisfied are you?"
    assert thanks.buttons == [
        ("😊 Satisfied", "a:rate:1:5"),
        ("😐 Partly", "a:rate:1:3"),
        ("☹️ Not satisfied", "a:rate:1:1"),
    ]
    assert (await appeal_of(h, 1)).status == Status.CLOSED

    calls = await h.press(h.p.resident, thanks, "a:rate:1:3")
    assert to(calls, h.p.resident) == ["Thank you! You said: partly satisfied."]
    assert to(calls, h.p.uhead) == ["⭐ Appeal #1 was rated 3 of 5. Thank you!"]
    calls = await h.press(h.p.resident, thanks, "a:rate:1:5")
    assert alerts(calls) == ["You already rated appeal #1 (3 ⭐)."]
    closed = await appeal_of(h, 1)
    assert (closed.status, closed.rating) == (Status.CLOSED, 3)
    # the confirmation deadline is gone: nothing is closed "automatically" later
    assert await sweep_at(h, local(2026, 12, 10, 10, 0)) == []
    assert await events_of(h, 1) == ["filed", "taken", "resolved", "confirmed", "rated"]


async def test_reopen_goes_back_to_the_assignee_with_a_fresh_deadline(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    await take(h, 1)
    h.clock.set(local(2026, 11, 24, 15, 0))
    await act(h, h.p.uhead, 1, "res", "Done")
    h.clock.set(local(2026, 11, 25, 11, 0))
    asked = card_to(h, h.p.resident, "marked resolved")
    calls = await h.press(h.p.resident, asked, "a:re:1")
    # 3 working days from Wednesday 11:00: Monday 2026-11-30 11:00
    assert to(calls, h.p.resident) == ["Appeal #1 goes back to work. New deadline: Mon 30 Nov, 11:00."]
    (back,) = [c for c in calls if c.chat_id == h.p.uhead["id"]]
    assert back.text == (
        "🔁 The resident says appeal #1 is not solved. New deadline: 2026-11-30 11:00.\n\nThe lift is broken"
    )
    assert data_of(back) == [d.format(id=1) for d in CARD_BUTTONS_TAKEN]
    appeal = await appeal_of(h, 1)
    assert (appeal.status, appeal.due_at, appeal.resolved_at) == (
        Status.IN_PROGRESS,
        local(2026, 11, 30, 11, 0),
        None,
    )
    # the old confirmation deadline (Friday 15:00) no longer closes it
    await sweep_at(h, local(2026, 11, 27, 15, 0))
    assert (await appeal_of(h, 1)).status == Status.IN_PROGRESS
    assert not any("closed as solved" in t for t in h.texts(h.p.resident))
    assert await events_of(h, 1) == ["filed", "taken", "resolved", "reopened"]


async def test_no_answer_to_a_resolution_closes_it_after_three_working_days(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    await take(h, 1)
    h.clock.set(local(2026, 11, 23, 12, 0))
    await act(h, h.p.uhead, 1, "res", "Done")
    assert await sweep_at(h, local(2026, 11, 26, 11, 59)) == []
    calls = await sweep_at(h, local(2026, 11, 26, 12, 0))
    assert to(calls, h.p.resident) == [
        "Appeal #1 was closed as solved, as we did not hear back. If it is not solved, file a new appeal with /appeal."
        "\n\nAre you satisfied with how it was handled?"
    ]
    assert (await appeal_of(h, 1)).status == Status.CLOSED
    assert await h.sweep() == []
    calls = await h.press(h.p.resident, card_to(h, h.p.resident, "marked resolved"), "a:ok:1")
    assert alerts(calls) == ["Appeal #1 is closed: nothing to confirm."]
    assert await events_of(h, 1) == ["filed", "taken", "resolved", "auto_closed"]


# --- the sweep: reminders, escalation, re-pings ------------------------------------------------------
async def test_reminder_two_working_hours_before_the_deadline_is_sent_once(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    await take(h, 1)
    # due Thursday 10:00; two working hours before: Wednesday 17:00 (Thu 09-10 and Wed 17-18)
    assert await sweep_at(h, local(2026, 11, 25, 16, 59)) == []
    calls = await sweep_at(h, local(2026, 11, 25, 17, 0))
    (reminder,) = calls
    assert reminder.chat_id == h.p.uhead["id"]
    assert reminder.text == (
        "⏰ Reminder: appeal #1 (🔧 Problem, Building 7, unit 1) is due 2026-11-26 10:00.\n\nThe lift is broken"
    )
    assert data_of(reminder) == [d.format(id=1) for d in CARD_BUTTONS_TAKEN]
    assert await h.sweep() == []
    assert await sweep_at(h, local(2026, 11, 25, 17, 45)) == []
    assert await sweep_at(h, local(2026, 11, 26, 9, 59)) == []
    assert sum("Reminder" in t for t in h.texts(h.p.uhead)) == 1


async def test_escalation_chain_up_to_the_street_then_one_reping_per_working_day(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    await take(h, 1)
    staff, street = h.p.staff_chat["id"], h.p.street_chat["id"]
    await sweep_at(h, local(2026, 11, 25, 17, 0))  # the unit head's reminder

    # Thursday 10:00: the unit head's deadline passed -> the building head
    calls = await sweep_at(h, local(2026, 11, 26, 10, 0))
    (to_bhead,) = [c for c in calls if c.chat_id == h.p.bhead["id"]]
    assert to_bhead.text == (
        "⚠️ Appeal #1 was passed to you (building head): the deadline passed.\n"
        "🔧 Problem · Building 7, unit 1\n\nThe lift is broken\n\nNew deadline: 2026-11-27 10:00"
    )
    assert data_of(to_bhead) == [d.format(id=1) for d in CARD_BUTTONS_NEW]
    assert to(calls, h.p.uhead) == ["ℹ️ Appeal #1 was passed to the building head: the deadline passed."]
    assert to(calls, h.p.resident) == [
        "⬆️ Your appeal #1 was passed to the building head. New deadline: 2026-11-27 10:00."
    ]
    a = await appeal_of(h, 1)
    assert (a.level, a.status, a.assignee_user_id) == (Level.BUILDING, Status.NEW, h.p.bhead["id"])

    # Friday 10:00: the staff chat
    calls = await sweep_at(h, local(2026, 11, 27, 10, 0))
    assert to(calls, staff) == [
        "⚠️ Appeal #1 was passed to you (community staff): the deadline passed.\n"
        "🔧 Problem · Building 7, unit 1\nResident: Rita (@rita_r)\n\nThe lift is broken\n\n"
        "New deadline: 2026-11-30 10:00\n\nTo answer the resident, reply to this message."
    ]
    assert to(calls, h.p.bhead) == [
        "⏰ Reminder: appeal #1 (🔧 Problem, Building 7, unit 1) is due 2026-11-27 10:00.\n\nThe lift is broken",
        "ℹ️ Appeal #1 was passed to the community staff: the deadline passed.",
    ]
    assert to(calls, h.p.resident) == [
        "⬆️ Your appeal #1 was passed to the community staff. New deadline: 2026-11-30 10:00."
    ]

    # the weekend passes quietly; Monday 10:00: the street office
    assert await sweep_at(h, local(2026, 11, 29, 12, 0)) == []
    calls = await sweep_at(h, local(2026, 11, 30, 10, 0))
    assert [t for t in to(calls, street) if "passed to you" in t] == [
        "⚠️ Appeal #1 was passed to you (street office): the deadline passed.\n"
        "🔧 Problem · Building 7, unit 1\nResident: Rita (@rita_r)\n\nThe lift is broken\n\n"
        "New deadline: 2026-12-01 10:00\n\nTo answer the resident, reply to this message."
    ]
    assert [t for t in to(calls, staff) if "passed to the street office" in t]
    assert to(calls, h.p.resident) == [
        "⬆️ Your appeal #1 was passed to the street office. New deadline: 2026-12-01 10:00."
    ]
    assert (await appeal_of(h, 1)).level == Level.STREET

    def overdue() -> list[str]:
        return [t for t in h.texts(street) if t.startswith("🔴 Appeal #1 is still open and overdue")]

    # the top of the chain: no higher level, so it is pinged again once per working day
    await sweep_at(h, local(2026, 12, 1, 10, 0))
    assert overdue() == [
        "🔴 Appeal #1 is still open and overdue (deadline was 2026-12-01 10:00).\n"
        "🔧 Problem · Building 7, unit 1\n\nThe lift is broken"
    ]
    await h.sweep()
    assert len(overdue()) == 1
    await sweep_at(h, local(2026, 12, 2, 9, 59))
    assert len(overdue()) == 1
    await sweep_at(h, local(2026, 12, 2, 10, 0))
    await h.sweep()
    assert len(overdue()) == 2
    await sweep_at(h, local(2026, 12, 4, 10, 0))  # Friday: Thursday's ping, late, fires once
    assert len(overdue()) == 3
    await sweep_at(h, local(2026, 12, 5, 12, 0))  # Saturday
    await sweep_at(h, local(2026, 12, 6, 12, 0))  # Sunday
    assert len(overdue()) == 3
    await sweep_at(h, local(2026, 12, 7, 10, 0))  # Monday
    await h.sweep()
    assert len(overdue()) == 4
    events = await events_of(h, 1)
    assert events.count("escalated") == 3
    assert events.count("repinged") == 4
    assert (await appeal_of(h, 1)).level == Level.STREET


async def test_catching_up_after_a_long_pause_pings_once_not_per_missed_day(h: Harness) -> None:
    """A sweep that runs late (the bot was down) fires each due deadline once; the next ping is a
    working day after the late one."""
    await h.setup_community()
    await h.file_appeal()
    await take(h, 1)
    for day in (26, 27, 30):
        await sweep_at(h, local(2026, 11, day, 10, 0))
    await sweep_at(h, local(2026, 12, 1, 10, 0))
    street = h.p.street_chat["id"]
    count = sum(t.startswith("🔴") for t in h.texts(street))
    assert count == 1
    await sweep_at(h, local(2026, 12, 4, 15, 0))  # Wednesday's and Thursday's sweeps were missed
    assert sum(t.startswith("🔴") for t in h.texts(street)) == 2
    await sweep_at(h, local(2026, 12, 7, 14, 59))
    assert sum(t.startswith("🔴") for t in h.texts(street)) == 2
    await sweep_at(h, local(2026, 12, 7, 15, 0))
    assert sum(t.startswith("🔴") for t in h.texts(street)) == 3


async def test_a_missed_first_reply_at_the_top_is_not_called_overdue(h: Harness) -> None:
    """No street office and no heads: the staff chat is the top. Filed on Friday, the first reply is
    due on Saturday, the deadline (3 working days, the category's even when routed straight to the
    staff) on Wednesday. Saturday's miss has nowhere to go; it must neither call the appeal overdue
    nor start a second daily ping next to the deadline's."""
    await h.setup_community(with_street=False)
    bid = await building_id(h)
    async with h.services.db.write() as tx:
        await RegistryRepo(tx).set_building_head(bid, None)
    h.clock.set(local(2026, 11, 27, 10, 0))
    await h.file_appeal(unit_id=2)
    assert (await appeal_of(h, 1)).level == Level.COMMUNITY

    def overdue() -> list[str]:
        return [t for t in h.texts(h.p.staff_chat) if t.startswith("🔴")]

    await sweep_at(h, local(2026, 11, 28, 10, 0))  # Saturday: the first-reply time is over
    await sweep_at(h, local(2026, 12, 2, 9, 0))
    assert overdue() == []
    await sweep_at(h, local(2026, 12, 2, 10, 0))  # Wednesday: the deadline
    assert overdue() == [
        "🔴 Appeal #1 is still open and overdue (deadline was 2026-12-02 10:00).\n"
        "🔧 Problem · Building 7, unit 2\n\nThe lift is broken"
    ]
    await sweep_at(h, local(2026, 12, 2, 18, 0))
    assert len(overdue()) == 1
    await sweep_at(h, local(2026, 12, 3, 10, 0))
    await sweep_at(h, local(2026, 12, 3, 18, 0))
    assert len(overdue()) == 2
    assert (await events_of(h, 1)).count("repinged") == 2


async def test_beyond_my_reach_escalates_at_once_up_to_the_top(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    calls = await h.press(h.p.uhead, card_to(h, h.p.uhead, "New appeal #1"), "a:esc:1")
    assert to(calls, h.p.uhead) == ["⬆️ Appeal #1 was passed to the building head."]
    (card,) = [c for c in calls if c.chat_id == h.p.bhead["id"]]
    assert card.text is not None
    assert card.text.startswith("⚠️ Appeal #1 was passed to you (building head): passed up by the previous level.")
    assert "New deadline: 2026-11-24 10:00" in card.text  # one working day per level above the unit
    assert to(calls, h.p.resident) == [
        "⬆️ Your appeal #1 was passed to the building head. New deadline: 2026-11-24 10:00."
    ]

    calls = await h.press(h.p.bhead, card, "a:esc:1")
    assert to(calls, h.p.bhead)[0] == "⬆️ Appeal #1 was passed to the community staff."
    staff_card = card_to(h, h.p.staff_chat, "was passed to you (community staff)")
    calls = await h.press(h.p.staff, staff_card, "a:esc:1")
    assert to(calls, h.p.staff_chat)[0] == "⬆️ Appeal #1 was passed to the street office."
    street_card = card_to(h, h.p.street_chat, "was passed to you (street office)")
    calls = await h.press(h.p.street, street_card, "a:esc:1")
    assert alerts(calls) == ["Appeal #1 is already at the top level."]
    assert (await appeal_of(h, 1)).level == Level.STREET
    assert [e for e in await events_of(h, 1)] == ["filed", "escalated", "escalated", "escalated"]


async def test_no_first_reply_within_24_hours_escalates_before_the_deadline(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()  # a problem: deadline Thursday, first reply due Tuesday 10:00
    await h.file_appeal(text="The door does not close")  # this one is taken in time
    await take(h, 2)
    assert not [t for t in to(await sweep_at(h, local(2026, 11, 24, 9, 59)), h.p.bhead) if "passed to you" in t]
    calls = await sweep_at(h, local(2026, 11, 24, 10, 0))
    assert [t.split("\n")[0] for t in to(calls, h.p.bhead)] == [
        "⚠️ Appeal #1 was passed to you (building head): no reply within the first-reply time."
    ]
    assert to(calls, h.p.uhead) == [
        "ℹ️ Appeal #1 was passed to the building head: no reply within the first-reply time."
    ]
    assert (await appeal_of(h, 1)).level == Level.BUILDING
    assert (await appeal_of(h, 2)).level == Level.UNIT
    assert (await events_of(h, 1)).count("escalated") == 1


async def test_a_reply_counts_as_the_first_reply(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    await act(h, h.p.uhead, 1, "reply", "Looking into it")  # without pressing take
    assert await sweep_at(h, local(2026, 11, 24, 10, 0)) == []
    appeal = await appeal_of(h, 1)
    assert (appeal.level, appeal.status, appeal.first_reply_at) == (
        Level.UNIT,
        Status.IN_PROGRESS,
        local(2026, 11, 23, 10, 0),
    )


# --- quiet hours -------------------------------------------------------------------------------------
async def test_an_escalation_at_night_waits_for_09_00_of_the_next_working_day(h: Harness) -> None:
    await h.setup_community()
    h.clock.set(local(2026, 11, 23, 20, 0))  # filed Monday evening: first reply due Tuesday 20:00
    await h.file_appeal()
    assert not any("New appeal" in t for t in h.texts(h.p.uhead))  # the card waits for the morning too
    h.clock.set(local(2026, 11, 24, 9, 0))
    await h.app.bot_data.outbox().drain()
    assert any("New appeal #1" in t for t in h.texts(h.p.uhead))

    before_b, before_r = len(h.texts(h.p.bhead)), len(h.texts(h.p.resident))
    await sweep_at(h, local(2026, 11, 24, 23, 0))
    assert (await events_of(h, 1))[-1] == "escalated"  # decided at night ...
    assert len(h.texts(h.p.bhead)) == before_b and len(h.texts(h.p.resident)) == before_r  # ... but not sent
    async with h.services.db.read() as tx:
        waiting = await tx.fetchall(
            "SELECT chat_id, not_before FROM outbox WHERE appeal_id = 1 AND sent_at IS NULL ORDER BY id"
        )
    assert {r["chat_id"] for r in waiting} >= {h.p.bhead["id"], h.p.resident["id"]}
    assert {r["not_before"] for r in waiting} == {int(local(2026, 11, 25, 9, 0).timestamp())}

    h.clock.set(local(2026, 11, 25, 8, 59))
    assert await h.app.bot_data.outbox().drain() == 0
    h.clock.set(local(2026, 11, 25, 9, 0))
    await h.app.bot_data.outbox().drain()
    new = h.texts(h.p.bhead)[before_b:]
    assert [t.split("\n")[0] for t in new] == [
        "⚠️ Appeal #1 was passed to you (building head): no reply within the first-reply time."
    ]
    assert h.texts(h.p.resident)[before_r:] == [
        "⬆️ Your appeal #1 was passed to the building head. New deadline: 2026-11-25 18:00."
    ]


async def test_a_relayed_reply_is_sent_at_once_even_at_night(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    await take(h, 1)
    h.clock.set(local(2026, 11, 23, 23, 30))
    calls = await act(h, h.p.uhead, 1, "reply", "Coming at 8 tomorrow")
    assert to(calls, h.p.resident) == [
        "💬 Reply on your appeal #1 from the unit head:\nComing at 8 tomorrow\n\nTo answer, reply to this message."
    ]
    reply_to = bot_message(h, h.p.resident["id"], "Coming at 8 tomorrow")
    calls = await h.send(updates.message(h.p.resident, updates.private_chat(h.p.resident), "OK", reply_to=reply_to))
    assert to(calls, h.p.uhead) == ["💬 The resident added to appeal #1:\nOK"]


# --- stale and foreign buttons, unknown appeals --------------------------------------------------------
async def test_stale_and_foreign_buttons_get_a_polite_alert(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await h.setup_community()
    await h.file_appeal()
    card = card_to(h, h.p.uhead, "New appeal #1")
    stranger = updates.user(1066, "Nina", "nina_n")
    await h.cmd(stranger, updates.private_chat(stranger), "start")

    # confirm while it is still open
    calls = await h.press(h.p.resident, card, "a:ok:1")
    assert alerts(calls) == ["Appeal #1 is new: nothing to confirm."]
    # someone else's appeal: a stranger may not take it, nor confirm or rate it
    for data in ("a:take:1", "a:reply:1", "a:res:1", "a:esc:1"):
        calls = await h.press(stranger, card, data)
        assert alerts(calls) == ["Appeal #1 is not yours to handle."], data
    for data in ("a:ok:1", "a:re:1", "a:rate:1:5"):
        calls = await h.press(stranger, card, data)
        assert alerts(calls) == ["Appeal #1 is not yours to handle."], data
    # the resident cannot act as the handler of their own appeal
    calls = await h.press(h.p.resident, card, "a:take:1")
    assert alerts(calls) == ["Appeal #1 is not yours to handle."]
    # take twice
    await take(h, 1)
    calls = await h.press(h.p.uhead, card, "a:take:1")
    assert alerts(calls) == ["Appeal #1 was already taken."]
    calls = await h.press(h.p.bhead, card, "a:take:1")
    assert alerts(calls) == ["Appeal #1 was already taken."]
    # out-of-range rating, unknown action, malformed data, unknown appeal
    calls = await h.press(h.p.resident, card, "a:rate:1:9")
    assert alerts(calls) == ["Please choose from 1 to 5 stars."]
    calls = await h.press(h.p.uhead, card, "a:zap:1")
    assert alerts(calls) == ["This button is out of date."]
    calls = await h.press(h.p.uhead, card, "a:take:x")
    assert alerts(calls) == ["This button is out of date."]
    calls = await h.press(h.p.uhead, card, "a:take")
    assert alerts(calls) == ["This button is out of date."]
    calls = await h.press(h.p.uhead, card, "a:take:999")
    assert alerts(calls) == ["There is no appeal #999."]
    # after it is closed, the handler's buttons are stale too
    await act(h, h.p.uhead, 1, "res", "Fixed")
    await h.press(h.p.resident, card_to(h, h.p.resident, "marked resolved"), "a:ok:1")
    calls = await h.press(h.p.uhead, card, "a:reply:1")
    assert alerts(calls) == ["Appeal #1 is already closed."]
    calls = await h.press(h.p.resident, card, "a:re:1")
    assert alerts(calls) == ["Appeal #1 is closed: nothing to confirm."]
    assert (await appeal_of(h, 1)).status == Status.CLOSED
    no_internal_errors(h, caplog)


async def test_show_of_an_unknown_or_foreign_appeal_is_polite(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    await h.setup_community()
    await h.file_appeal()
    me = h.p.resident
    calls = await h.cmd(me, updates.private_chat(me), "show", "999")
    assert to(calls, me) == ["There is no appeal #999."]
    calls = await h.cmd(me, updates.private_chat(me), "show", "abc")
    assert to(calls, me) == ["Send: /show 12 (the appeal number)."]
    stranger = updates.user(1066, "Nina", "nina_n")
    calls = await h.cmd(stranger, updates.private_chat(stranger), "show", "1")
    assert to(calls, stranger) == ["Appeal #1 is not yours to handle."]
    no_internal_errors(h, caplog)


# --- lists and history ---------------------------------------------------------------------------------
async def test_myappeals_lists_the_residents_appeals(h: Harness) -> None:
    await h.setup_community()
    me = h.p.resident
    calls = await h.cmd(me, updates.private_chat(me), "myappeals")
    assert to(calls, me) == ["You have no appeals yet. To report a problem, press the button:"]
    assert calls[-1].buttons == [("📝 Report a problem", "f:start")]
    await h.file_appeal()
    await h.file_appeal(text="Consult me", category="consultation")
    calls = await h.cmd(me, updates.private_chat(me), "myappeals")
    assert to(calls, me) == ["Your appeals (2). Press one to see what happened with it:"]
    assert calls[-1].buttons == [
        ("#2 ❓ Consult me · sent, not taken yet", "a:show:2"),
        ("#1 🔧 The lift is broken · sent, not taken yet", "a:show:1"),
    ]
    # in the group: no list there, a button to the private chat
    calls = await h.cmd(me, h.p.building_chat, "myappeals")
    assert to(calls, h.p.building_chat) == ["Let's talk privately, so your details stay out of the group."]


async def test_open_for_the_unit_head_and_for_staff_in_the_staff_chat(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    h.clock.set(local(2026, 11, 23, 10, 5))
    await h.file_appeal(text="The door does not close")
    await take(h, 2)
    calls = await h.cmd(h.p.uhead, updates.private_chat(h.p.uhead), "open")
    assert to(calls, h.p.uhead) == ["Open appeals (2). Press one to open it:"]
    assert calls[-1].buttons == [
        ("#1 🔧 The lift is broken · new", "a:show:1"),
        ("#2 🔧 The door does not close · in progress", "a:show:2"),
    ]
    h.clock.set(local(2026, 11, 26, 10, 30))  # past the deadline, before any sweep
    calls = await h.cmd(h.p.uhead, updates.private_chat(h.p.uhead), "open")
    assert [label.endswith(" ⚠️") for label, _ in calls[-1].buttons] == [True, True]

    calls = await h.cmd(h.p.resident, updates.private_chat(h.p.resident), "open")
    assert to(calls, h.p.resident) == ["This is only for unit and building heads. Your own appeals: /myappeals"]

    calls = await h.cmd(h.p.staff, h.p.staff_chat, "open")
    assert to(calls, h.p.staff_chat) == ["No open appeals. 🎉"]
    await h.press(h.p.uhead, card_to(h, h.p.uhead, "New appeal #1"), "a:esc:1")
    await h.press(h.p.bhead, card_to(h, h.p.bhead, "#1 was passed to you"), "a:esc:1")
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "open")
    (listing,) = to(calls, h.p.staff_chat)
    assert listing == "Open appeals (1). Press one to open it:"
    assert calls[-1].buttons == [("#1 🔧 The lift is broken · new", "a:show:1")]
    calls = await h.cmd(h.p.resident, h.p.staff_chat, "open")
    assert to(calls, h.p.staff_chat) == ["Only community staff can do that."]


async def test_status_in_the_building_chat_is_anonymous(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    await h.file_appeal(text="The door does not close")
    await take(h, 2)
    await act(h, h.p.uhead, 2, "ask", "Which door?")
    calls = await h.cmd(h.p.resident, h.p.building_chat, "status")
    (summary,) = calls
    assert summary.chat_id == h.p.building_chat["id"]
    assert summary.text is not None
    assert summary.text.startswith(
        "📊 Building 7: 2 open appeals (0 overdue, 1 waiting for residents). Resolved this month: 0.\n\n"
        "🔑 Building code for the poster: "
    )
    for private in ("Rita", "rita_r", "lift", "door"):
        assert private not in summary.text


async def test_show_gives_the_appeal_with_its_history_in_local_time(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    h.clock.set(local(2026, 11, 23, 11, 15))
    await take(h, 1)
    me = h.p.resident
    calls = await h.cmd(me, updates.private_chat(me), "show", "1")
    (view,) = [c for c in calls if c.method == "sendMessage"]
    assert view.text == (
        "📄 Appeal #1 — 🔧 Problem\nBuilding 7, unit 1\n\nThe lift is broken\n\n"
        "Now: being worked on — Uma (unit head).\nTo be solved by Thu 26 Nov, 10:00.\n\n"
        "What happened:\nMon 23 Nov, 10:00 · filed — you\nMon 23 Nov, 11:15 · taken — Uma\n\n"
        "Next: Uma works on it; you get the answer here. To be solved by Thu 26 Nov, 10:00."
    )
    assert view.buttons == []  # the resident has nothing to press while it is in progress
    calls = await h.cmd(h.p.uhead, updates.private_chat(h.p.uhead), "show", "#1")
    (handler_view,) = [c for c in calls if c.method == "sendMessage"]
    assert data_of(handler_view) == [d.format(id=1) for d in CARD_BUTTONS_TAKEN]


async def test_every_state_change_has_a_history_row(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    await take(h, 1)
    await act(h, h.p.uhead, 1, "reply", "On it")
    await act(h, h.p.uhead, 1, "ask", "Which floor?")
    await h.text(h.p.resident, "Third")
    await act(h, h.p.uhead, 1, "res", "Fixed")
    await h.press(h.p.resident, card_to(h, h.p.resident, "marked resolved"), "a:re:1")
    await h.press(h.p.uhead, card_to(h, h.p.uhead, "not solved"), "a:esc:1")
    await take(h, 1, h.p.bhead)
    await act(h, h.p.bhead, 1, "res", "Really fixed")
    calls = await h.press(h.p.resident, card_to(h, h.p.resident, "Really fixed"), "a:ok:1")
    await h.press(h.p.resident, calls[-1], "a:rate:1:5")

    async with h.services.db.read() as tx:
        from storage.appeals import AppealsRepo

        events = await AppealsRepo(tx).events(1)
    assert [(e.kind, e.level, e.actor_id) for e in events] == [
        ("filed", Level.UNIT, h.p.resident["id"]),
        ("taken", Level.UNIT, h.p.uhead["id"]),
        ("reply", Level.UNIT, h.p.uhead["id"]),
        ("asked", Level.UNIT, h.p.uhead["id"]),
        ("answer", Level.UNIT, h.p.resident["id"]),
        ("resolved", Level.UNIT, h.p.uhead["id"]),
        ("reopened", Level.UNIT, h.p.resident["id"]),
        ("escalated", Level.BUILDING, h.p.uhead["id"]),
        ("taken", Level.BUILDING, h.p.bhead["id"]),
        ("resolved", Level.BUILDING, h.p.bhead["id"]),
        ("confirmed", Level.BUILDING, h.p.resident["id"]),
        ("rated", Level.BUILDING, h.p.resident["id"]),
    ]
    assert events[3].detail == {"text": "Which floor?"}
    assert events[7].detail == {"from": 0, "reason": "by_hand"}
    assert events[-1].detail == {"stars": 5}
    assert all(e.at.tzinfo is not None for e in events)


# --- every call of whole lifecycles is a valid Bot API call --------------------------------------------
async def test_every_call_of_a_whole_lifecycle_is_valid(h: Harness) -> None:
    await h.setup_community()
    me = h.p.resident
    await h.cmd(me, h.p.building_chat, "appeal")
    await start_filing(h)
    await h.send(updates.photo_message(me, updates.private_chat(me), caption="Broken lamp"))
    await take(h, 1)
    await act(h, h.p.uhead, 1, "reply", "Tomorrow")
    await h.send(updates.message(me, updates.private_chat(me), "Thanks", reply_to=bot_message(h, me["id"], "Tomorrow")))
    await act(h, h.p.uhead, 1, "ask", "Which floor?")
    await h.send(updates.voice_message(me, updates.private_chat(me)))
    await act(h, h.p.uhead, 1, "res", "Replaced")
    await h.press(me, card_to(h, me, "marked resolved"), "a:re:1")
    await h.press(h.p.uhead, card_to(h, h.p.uhead, "not solved"), "a:esc:1")
    bcard = card_to(h, h.p.bhead, "passed to you")
    await h.press(h.p.bhead, bcard, "a:take:1")
    await h.press(h.p.bhead, bcard, "a:take:1")  # stale
    await h.press(h.p.bhead, bcard, "a:esc:1")
    staff_card = card_to(h, h.p.staff_chat, "passed to you")
    await h.press(h.p.staff, staff_card, "a:reply:1")  # in a group: answered with a deep link
    await h.send(updates.command(h.p.staff, updates.private_chat(h.p.staff), "start", "act_resolve_1"))
    await h.text(h.p.staff, "Done by the staff")
    calls = await h.press(me, card_to(h, me, "Done by the staff"), "a:ok:1")
    await h.press(me, calls[-1], "a:rate:1:4")
    await h.cmd(me, updates.private_chat(me), "myappeals")
    await h.cmd(me, updates.private_chat(me), "show", "1")
    await h.cmd(me, updates.private_chat(me), "show", "999")
    await h.cmd(me, h.p.building_chat, "status")
    await h.cmd(h.p.uhead, updates.private_chat(h.p.uhead), "open")
    await h.cmd(h.p.staff, h.p.staff_chat, "open")
    await h.file_appeal(text="Second one")
    for day in (24, 25, 26, 27, 30):  # #2: building, staff, street, then pinged on Friday and Monday
        await sweep_at(h, local(2026, 11, day, 10, 0))

    events = await events_of(h, 1)
    assert events[-2:] == ["confirmed", "rated"]
    assert (await events_of(h, 2)).count("repinged") == 2
    methods = {c.method for c in h.rt.calls}
    assert {"sendMessage", "answerCallbackQuery", "copyMessage"} <= methods
    assert not h.rt.rejected
    assert_calls_valid(h.rt.calls)


async def test_staff_action_buttons_in_the_group_open_a_private_chat(h: Harness) -> None:
    await h.setup_community()
    bid = await building_id(h)
    async with h.services.db.write() as tx:
        await RegistryRepo(tx).set_building_head(bid, None)
    await h.file_appeal(unit_id=2)
    card = card_to(h, h.p.staff_chat, "New appeal #1")
    calls = await h.press(h.p.staff, card, "a:ask:1")
    (answer,) = [c for c in calls if c.method == "answerCallbackQuery"]
    assert answer.params["url"] == "https://t.me/unitbot_test_bot?start=act_ask_1"
    assert to(calls, h.p.staff_chat) == []  # nothing about the resident is said in the group
    # the link opens the private chat (Telegram sends /start act_ask_1), the prompt comes there
    calls = await h.cmd(h.p.staff, updates.private_chat(h.p.staff), "start", "act_ask_1")
    assert to(calls, h.p.staff)[0].startswith("Write your question to the resident of appeal #1.")
    # the staff member writes the question privately
    calls = await h.text(h.p.staff, "Which lamp?")
    assert to(calls, h.p.resident)[0].startswith("❓ A question about your appeal #1:\nWhich lamp?")
    assert to(calls, h.p.staff_chat) == ["💬 Olga answered the resident of appeal #1."]  # no details
    assert (await appeal_of(h, 1)).status == Status.WAITING
    assert_calls_valid(h.rt.calls)
