"""Unit heads and staff (issue 8): "Take it" answers with the remaining actions and updates the card
that was pressed; staff answer an appeal in the staff chat by replying to its card; the resident is
told where an appeal went when a head cannot be reached; a reply to a resident who blocked the bot is
not reported as sent."""

from __future__ import annotations

from typing import Any

from bot.models import Level, Status
from storage.registry import RegistryRepo
from tests.harness import Harness, appeal_of, bot_message, local, said
from tests.support import assert_calls_valid, updates
from tests.support.botapi import Call

REMAINING = ["a:reply:1", "a:ask:1", "a:res:1", "a:esc:1"]


def card_to(h: Harness, chat_id: int, contains: str) -> Call:
    found = [c for c in h.rt.sent_to(chat_id) if c.method == "sendMessage" and contains in (c.text or "")]
    assert found, h.texts(chat_id)
    return found[-1]


def sent(calls: list[Call], chat_id: int) -> list[str]:
    return [c.text or "" for c in calls if c.method in ("sendMessage", "copyMessage") and c.chat_id == chat_id]


async def to_staff_chat(h: Harness) -> None:
    """No building head and a unit without a head: the appeal goes straight to the staff chat."""
    await h.setup_community()
    ctx = await h.services.registry.chat_context(h.p.building_chat["id"])
    async with h.services.db.write() as tx:
        await RegistryRepo(tx).set_building_head(ctx.building.id, None)
    await h.file_appeal(unit_id=2)
    assert (await appeal_of(h, 1)).level == Level.COMMUNITY


async def press(h: Harness, who: dict[str, Any], chat_id: int, contains: str, data: str) -> list[Call]:
    """``who`` presses a button of the bot's last message in ``chat_id`` that contains ``contains``."""
    return await h.send(updates.callback_query(who, bot_message(h, chat_id, contains), data))


def reply_in(h: Harness, who: dict[str, Any], chat: dict[str, Any], contains: str, text: str) -> dict[str, Any]:
    """``who`` replies in ``chat`` to the bot's last message there that contains ``contains``."""
    return updates.message(who, chat, text, reply_to=bot_message(h, chat["id"], contains))


async def test_take_answers_with_the_remaining_actions_and_updates_the_card(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    card = bot_message(h, h.p.uhead["id"], "New appeal #1")
    calls = await press(h, h.p.uhead, h.p.uhead["id"], "New appeal #1", "a:take:1")
    (confirmation,) = [c for c in calls if c.method == "sendMessage" and c.chat_id == h.p.uhead["id"]]
    assert confirmation.text == "✋ Appeal #1 is yours. Deadline: Thu 26 Nov, 10:00."
    assert [d for _, d in confirmation.buttons] == REMAINING
    (edit,) = [c for c in calls if c.method == "editMessageReplyMarkup"]
    assert edit.params["message_id"] == card["message_id"]
    assert [d for _, d in edit.buttons] == REMAINING  # "Take it" is gone from the old card
    # the confirmation's buttons work: Reply from it
    calls = await h.press(h.p.uhead, confirmation, "a:reply:1")
    assert said(calls)[-1].startswith("Write your reply to the resident of appeal #1")
    assert_calls_valid(h.rt.calls)


async def test_beyond_my_reach_takes_the_buttons_off_the_pressed_card(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    card = bot_message(h, h.p.uhead["id"], "New appeal #1")
    calls = await press(h, h.p.uhead, h.p.uhead["id"], "New appeal #1", "a:esc:1")
    (edit,) = [c for c in calls if c.method == "editMessageReplyMarkup"]
    assert edit.params["message_id"] == card["message_id"]
    assert not edit.buttons


async def test_staff_answer_by_replying_to_the_card_in_the_staff_chat(h: Harness) -> None:
    await to_staff_chat(h)
    staff_chat, rita, olga = h.p.staff_chat, h.p.resident, h.p.staff
    card = card_to(h, staff_chat["id"], "New appeal #1")
    assert "From: Rita" in (card.text or "")  # staff see who filed it
    calls = await h.send(reply_in(h, olga, staff_chat, "New appeal #1", "A plumber comes at 3 pm"))
    assert sent(calls, rita["id"]) == [
        "💬 Reply on your appeal #1 from the community staff:\nA plumber comes at 3 pm\n\n"
        "To answer, reply to this message."
    ]
    assert sent(calls, staff_chat["id"]) == ["💬 Olga answered the resident of appeal #1."]
    assert sent(calls, olga["id"]) == []  # nothing goes to a private chat
    appeal = await appeal_of(h, 1)
    assert (appeal.status, appeal.assignee_user_id) == (Status.IN_PROGRESS, olga["id"])

    # the resident's answer and later pings stay in the staff chat
    answer = bot_message(h, rita["id"], "A plumber comes at 3 pm")
    calls = await h.send(updates.message(rita, updates.private_chat(rita), "Thank you, I am home", reply_to=answer))
    assert sent(calls, staff_chat["id"]) == ["💬 The resident added to appeal #1:\nThank you, I am home"]
    assert sent(calls, olga["id"]) == []
    h.clock.set(local(2026, 11, 26, 8, 0))
    calls = await h.sweep()
    h.clock.set(local(2026, 11, 26, 9, 0))
    calls += await h.sweep()
    assert [t for t in sent(calls, staff_chat["id"]) if t.startswith("⏰ Reminder: appeal #1")]
    assert sent(calls, olga["id"]) == []

    # a photo as a reply to the resident's relayed words goes to the resident too
    replied = bot_message(h, staff_chat["id"], "Thank you, I am home")
    photo = updates.photo_message(olga, staff_chat, caption="This is the new valve", reply_to=replied)
    calls = await h.send(photo)
    assert [c.method for c in calls if c.chat_id == rita["id"]] == ["sendMessage", "copyMessage"]
    assert_calls_valid(h.rt.calls)


async def test_take_in_the_staff_chat_tells_the_chat_who_took_it(h: Harness) -> None:
    await to_staff_chat(h)
    calls = await press(h, h.p.staff, h.p.staff_chat["id"], "New appeal #1", "a:take:1")
    assert sent(calls, h.p.staff_chat["id"]) == [
        "✋ Olga took appeal #1. Deadline: Thu 26 Nov, 10:00.\n"
        "To answer the resident, reply to the appeal's card or to this message."
    ]
    assert sent(calls, h.p.staff["id"]) == []
    assert [c for c in calls if c.method == "editMessageReplyMarkup"]
    # replying to that message answers the resident as well
    calls = await h.send(reply_in(h, h.p.staff, h.p.staff_chat, "Olga took appeal #1", "On our way"))
    assert sent(calls, h.p.resident["id"])[0].startswith(
        "💬 Reply on your appeal #1 from the community staff:\nOn our way"
    )


async def test_a_reply_in_the_staff_chat_by_someone_who_is_not_staff_is_refused(h: Harness) -> None:
    await to_staff_chat(h)
    calls = await h.send(reply_in(h, h.p.uhead, h.p.staff_chat, "New appeal #1", "I know this one"))
    assert sent(calls, h.p.resident["id"]) == []
    assert said(calls) == ["Only the staff of this chat can answer appeals here."]
    # a reply to some other bot message (not an appeal's) is left alone
    assert await h.send(reply_in(h, h.p.staff, h.p.staff_chat, "created", "ok")) == []


async def test_an_unreachable_unit_head_the_resident_is_told_where_the_appeal_went(h: Harness) -> None:
    await h.setup_community()
    h.rt.fail_next("sendMessage", h.p.uhead["id"], status=403, description="Forbidden: bot can't initiate conversation")
    await h.file_appeal()
    assert (await appeal_of(h, 1)).level == Level.BUILDING
    assert h.texts(h.p.resident)[-1] == (
        "ℹ️ The bot could not reach your unit head, so your appeal #1 went to the building head instead. "
        "Deadline: Tue 24 Nov, 10:00."
    )


async def test_a_reply_to_a_resident_who_blocked_the_bot_is_not_reported_as_sent(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    rita = h.p.resident
    await h.send(updates.my_chat_member(updates.private_chat(rita), rita, "member", "kicked"))
    card = card_to(h, h.p.uhead["id"], "New appeal #1")
    await h.press(h.p.uhead, card, "a:reply:1")
    calls = await h.text(h.p.uhead, "Coming tomorrow")
    assert sent(calls, h.p.uhead["id"]) == [
        "⚠️ Your message on appeal #1 could not be delivered: the resident has blocked the bot or never "
        "started it. Please reach them another way."
    ]
    assert sent(calls, rita["id"]) == []


async def test_a_reply_telegram_refuses_is_followed_by_could_not_be_delivered(h: Harness) -> None:
    await h.setup_community()
    await h.file_appeal()
    h.rt.fail_next("sendMessage", h.p.resident["id"], status=403)  # blocked, and the bot did not know yet
    card = card_to(h, h.p.uhead["id"], "New appeal #1")
    await h.press(h.p.uhead, card, "a:reply:1")
    calls = await h.text(h.p.uhead, "Coming tomorrow")
    assert sent(calls, h.p.uhead["id"])[-1].startswith("⚠️ Your message on appeal #1 could not be delivered")
