"""Bad input never gets a traceback or silence: every command in every kind of chat, by anyone, with
junk arguments, answers with a short polite message; junk buttons, stickers and documents too; and
the anti-spam rules refuse politely while keeping what was sent."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from telegram.ext import CommandHandler

from tests.harness import Harness, said
from tests.support import updates

STRANGER = updates.user(6001, "Random", "random_person")
UNREGISTERED = updates.group_chat(-1001000000666, "Some other group")
JUNK_ARGS = ("", "%%% 999999", "@ghost_user", "-1 ✓ " + "x" * 300, "1-2-3 on off reset", "#0")


def command_names(h: Harness) -> list[str]:
    names: set[str] = set()
    for handlers in h.app.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                names |= set(handler.commands)
    return sorted(names)


def handler_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("handlers") and r.levelno >= logging.ERROR]


def answered(calls: list[Any]) -> bool:
    return any(c.method in ("sendMessage", "answerCallbackQuery") for c in calls)


async def test_the_loop_covers_every_registered_command(h: Harness) -> None:
    names = command_names(h)
    assert len(names) >= 20
    assert {"start", "newcommunity", "register", "unithead", "appeal", "show", "cancel"} <= set(names)


@pytest.mark.parametrize("where", ["private", "unregistered group", "building chat", "staff chat", "street chat"])
async def test_every_command_answers_anything_politely(
    h: Harness, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    await h.setup_community()
    await h.file_appeal()  # appeal #1 exists: /show 1 by a stranger is a matter of rights
    caplog.set_level(logging.INFO)
    chat = {
        "private": updates.private_chat(STRANGER),
        "unregistered group": UNREGISTERED,
        "building chat": h.p.building_chat,
        "staff chat": h.p.staff_chat,
        "street chat": h.p.street_chat,
    }[where]
    silent: list[str] = []
    for name in command_names(h):
        for args in (*JUNK_ARGS, "1"):
            calls = await h.cmd(STRANGER, chat, name, args)
            if not answered(calls):
                silent.append(f"/{name} {args}"[:40])
            for text in said(calls):
                assert "Traceback" not in text and "went wrong" not in text, (name, args, text)
                assert len(text) <= 1500, (name, args)  # short, not a dump
    assert not silent, f"no answer in {where}: {silent}"
    assert not handler_errors(caplog), handler_errors(caplog)


async def test_commands_addressed_to_the_bot_and_in_topics_are_answered(h: Harness) -> None:
    await h.setup_community()
    calls = await h.send(updates.command(STRANGER, h.p.building_chat, "status", addressed=True))
    assert said(calls) and said(calls)[0].startswith("📊 Building 7")
    calls = await h.send(updates.command(STRANGER, h.p.building_chat, "myunit", message_thread_id=77))
    assert calls[-1].params.get("message_thread_id") == 77


async def test_wrong_role_and_unknown_appeal(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    await h.setup_community()
    appeal_id = await h.file_appeal()
    private = updates.private_chat(STRANGER)
    calls = await h.cmd(STRANGER, private, "show", str(appeal_id))
    assert said(calls) == [f"Appeal #{appeal_id} is not yours to handle."]
    calls = await h.cmd(STRANGER, private, "show", "4242")
    assert said(calls) == ["There is no appeal #4242."]
    calls = await h.cmd(STRANGER, private, "open")
    assert said(calls) == ["This is only for unit and building heads. Your own appeals: /myappeals"]
    calls = await h.cmd(STRANGER, private, "start", "act_reply_4242")
    assert said(calls) == ["There is no appeal #4242."]
    calls = await h.cmd(STRANGER, private, "start", f"act_resolve_{appeal_id}")
    assert said(calls) == [f"Appeal #{appeal_id} is not yours to handle."]
    calls = await h.cmd(STRANGER, private, "start", "ap_999")
    assert said(calls) == ["That building is not available."]
    assert not handler_errors(caplog)


# --- junk buttons ----------------------------------------------------------------------------------
JUNK_CALLBACKS = (
    "a:take:abc",
    "a:take",
    "a:",
    "a:take:999",
    "a:bogus:1",
    "a:rate:1:x",
    "a:rate:1:9",
    "a:ok:1",
    "a:re:1",
    "a:show:777",
    "a:reply:1",
    "f:c:bogus",
    "f:b:abc",
    "f:u:1",
    "f:u:x:y",
    "f:new:abc",
    "f:add:1:abc",
    "f:",
    "uh:1:2",
    "mu:1:999",
    "mu:999:1",
    "lang:xx",
    "lang:",
)


@pytest.mark.parametrize("data", JUNK_CALLBACKS)
async def test_junk_callback_data_gets_a_polite_alert(h: Harness, caplog: pytest.LogCaptureFixture, data: str) -> None:
    await h.setup_community()
    await h.file_appeal()  # appeal #1, Rita's; Rita is a resident of unit 1
    caplog.set_level(logging.INFO)
    where = h.p.building_chat if data.startswith(("uh:", "mu:")) else updates.private_chat(h.p.resident)
    card = updates.message_dict(updates.bot_user(), where, text="an old message with buttons")
    calls = await h.send(updates.callback_query(h.p.resident, card, data))
    answers = [c for c in calls if c.method == "answerCallbackQuery"]
    assert len(answers) == 1, f"{data}: a button is answered exactly once ({calls})"
    assert not handler_errors(caplog), handler_errors(caplog)
    for text in said(calls):
        assert "went wrong" not in text, (data, text)


async def test_unit_head_button_by_a_resident_is_refused(h: Harness) -> None:
    await h.setup_community()
    _, units = await h.services.registry.building_units(h.p.building_chat["id"])
    card = updates.message_dict(updates.bot_user(), h.p.building_chat, text="Which unit will Uma head?")
    calls = await h.send(updates.callback_query(h.p.resident, card, f"uh:{units[1].id}:{h.p.uhead['id']}"))
    [answer] = [c for c in calls if c.method == "answerCallbackQuery"]
    assert answer.params["text"] == "Only the building head or community staff can do that."
    # a forged button naming somebody the bot never saw
    calls = await h.send(updates.callback_query(h.p.staff, card, f"uh:{units[1].id}:424242"))
    [answer] = [c for c in calls if c.method == "answerCallbackQuery"]
    assert answer.params["text"] == "This button is out of date."
    _, units = await h.services.registry.building_units(h.p.building_chat["id"])
    assert units[1].head_user_id is None


async def test_unknown_callback_prefix_is_answered(h: Harness) -> None:
    card = updates.message_dict(updates.bot_user(), updates.private_chat(STRANGER), text="old")
    calls = await h.send(updates.callback_query(STRANGER, card, "zz:something"))
    assert [c.method for c in calls] == ["answerCallbackQuery"]
    assert calls[0].params["text"] == "This button is out of date."


# --- things the bot cannot take ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [
        {
            "sticker": {
                "file_id": "CAACstk1",
                "file_unique_id": "stk1",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        },
        {
            "document": {
                "file_id": "BQACdoc1",
                "file_unique_id": "doc1",
                "file_name": "bill.pdf",
                "mime_type": "application/pdf",
            }
        },
    ],
    ids=["sticker", "document"],
)
async def test_unsupported_content_in_private_gets_a_polite_answer(h: Harness, content: dict[str, Any]) -> None:
    msg = updates.message_dict(h.p.resident, updates.private_chat(h.p.resident), **content)
    calls = await h.send(updates.wrap("message", msg))
    assert said(calls) == [
        "I can take words, voice messages, photos, short videos (up to 3 minutes) and locations. "
        "Please send one of those."
    ]


async def test_unsupported_content_in_a_group_is_ignored(h: Harness) -> None:
    await h.setup_community()
    msg = updates.message_dict(
        h.p.resident,
        h.p.building_chat,
        sticker={
            "file_id": "CAACstk2",
            "file_unique_id": "stk2",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        },
    )
    assert await h.send(updates.wrap("message", msg)) == []  # the group's chatter is not the bot's business


async def test_sticker_while_describing_an_appeal_keeps_the_draft(h: Harness) -> None:
    await h.setup_community()
    bid = (await h.services.registry.chat_context(h.p.building_chat["id"])).building.id
    chat = updates.private_chat(h.p.resident)
    calls = await h.send(updates.command(h.p.resident, chat, "start", f"ap_{bid}"))
    last = [c for c in calls if c.method == "sendMessage"][-1]
    calls = await h.press(h.p.resident, last, last.buttons[0][1])
    await h.press(h.p.resident, calls[-1], "f:c:problem")  # the prompt is edited, not sent anew
    sticker = updates.message_dict(
        h.p.resident,
        chat,
        sticker={
            "file_id": "CAACstk3",
            "file_unique_id": "stk3",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        },
    )
    calls = await h.send(updates.wrap("message", sticker))
    assert said(calls) == [
        "I can take words, voice messages, photos, short videos (up to 3 minutes) and locations. "
        "Please send one of those."
    ]
    calls = await h.text(h.p.resident, "The lift is broken")
    assert any("Appeal #1 received" in t for t in said(calls))


# --- anti-spam ---------------------------------------------------------------------------------------
async def inbox(h: Harness, user_id: int) -> list[Any]:
    async with h.services.db.read() as tx:
        rows: list[Any] = await tx.fetchall("SELECT * FROM inbox WHERE user_id = ? ORDER BY id", (user_id,))
        return rows


async def try_to_file(h: Harness, text: str) -> list[str]:
    """Go through filing as the resident (unit already known after the first appeal)."""
    bid = (await h.services.registry.chat_context(h.p.building_chat["id"])).building.id
    chat = updates.private_chat(h.p.resident)
    calls = await h.send(updates.command(h.p.resident, chat, "start", f"ap_{bid}"))
    await h.press(h.p.resident, [c for c in calls if c.method == "sendMessage"][-1], "f:c:problem")
    return said(await h.text(h.p.resident, text))


async def test_fourth_appeal_within_an_hour_is_refused_and_kept(h: Harness) -> None:
    await h.setup_community()
    for i, text in enumerate(("The lift is broken", "Water leaks on floor 2", "Door code does not work")):
        await h.file_appeal(text=text)
        if i < 2:
            h.clock.advance(timedelta(minutes=10))
    answer = await try_to_file(h, "The bin was not emptied")
    assert answer == ["You have sent 3 appeals recently. Your text is kept; please try again in 41 minutes."]
    async with h.services.db.read() as tx:
        assert await tx.fetchval("SELECT COUNT(*) FROM appeals") == 3
    kept = [r["text"] for r in await inbox(h, h.p.resident["id"])]
    assert "The bin was not emptied" in kept
    # after the hour it goes through
    h.clock.advance(timedelta(minutes=41))
    answer = await try_to_file(h, "The bin was not emptied")
    assert any("Appeal #4 received" in t for t in answer), answer


async def test_identical_repeat_is_refused_with_the_old_number_and_kept(h: Harness) -> None:
    await h.setup_community()
    first = await h.file_appeal(text="The lift is broken")
    h.clock.advance(timedelta(minutes=5))
    answer = await try_to_file(h, "  the LIFT is   broken ")  # same words, other spacing and case
    assert answer == [f"You already sent this as appeal #{first}. We are working on it: /show {first}"]
    async with h.services.db.read() as tx:
        assert await tx.fetchval("SELECT COUNT(*) FROM appeals") == 1
    kept = [r["text"] for r in await inbox(h, h.p.resident["id"])]
    assert "  the LIFT is   broken " in kept


async def test_an_edited_command_is_not_run_again(h: Harness) -> None:
    await h.setup_community()
    await h.cmd(h.p.staff, h.p.staff_chat, "award", "@uma_unit 5 helped at the fair")
    edited = updates.message(h.p.staff, h.p.staff_chat, "/award @boris_b 5 helped at the fair", edited=True)
    calls = await h.send(edited)
    assert said(calls) == [h.services.catalogs.translator("en")("general.edited_command")]
    async with h.services.db.read() as tx:
        rows = await tx.fetchall("SELECT user_id, amount FROM ledger")
    assert [tuple(r) for r in rows] == [(h.p.uhead["id"], 5)]  # one award, to the person first named
    # an edited private text that is no command is still kept, not lost
    calls = await h.send(updates.message(h.p.resident, updates.private_chat(h.p.resident), "hello", edited=True))
    assert said(calls)
