"""Residents (issue 8), tried as an elderly resident would: they open the bot directly, press buttons,
write or speak their problem first. Through the real Application (tests/harness.py); every text the
bot sends is read.

The clock starts on Monday 2026-11-23 10:00 in Shanghai.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import open_storage
from bot.dates import say_moment
from bot.models import Status
from bot.services.building_codes import normalize, shown
from storage.appeals import AppealsRepo
from tests.harness import Harness, appeal_of, make_harness
from tests.support import updates
from tests.support.botapi import Call

SENDS = ("sendMessage", "sendPhoto", "copyMessage", "sendVideo", "sendLocation")
ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def sends(calls: list[Call]) -> list[Call]:
    """Messages the bot sent (edits of a prompt are not new messages)."""
    return [c for c in calls if c.method in SENDS]


def texts_to(calls: list[Call], who: dict[str, Any]) -> list[str]:
    return [c.text or "" for c in calls if c.chat_id == who["id"] and c.method in ("sendMessage", "editMessageText")]


async def press_on(h: Harness, who: dict[str, Any], call: Call, data: str) -> list[Call]:
    """Press a button of the message the bot really sent (its stored message id), as a client does."""
    chat_id = call.chat_id
    assert isinstance(chat_id, int)
    stored = [m for (cid, _), m in h.rt.telegram.messages.items() if cid == chat_id]
    assert stored, f"nothing stored for {chat_id}"
    message = next(
        (
            m
            for m in reversed(stored)
            if any(
                b.get("callback_data") == data
                for row in m.get("reply_markup", {}).get("inline_keyboard", [])
                for b in row
            )
        ),
        stored[-1],
    )
    return await h.send(updates.callback_query(who, message, data))


async def building_id(h: Harness) -> int:
    ctx = await h.services.registry.chat_context(h.p.building_chat["id"])
    return int(ctx.building.id)


async def poster_code(h: Harness) -> str:
    code = await h.services.buildings.code_for_chat(h.p.building_chat["id"])
    assert code
    return str(code)


def receipt_of(calls: list[Call], who: dict[str, Any]) -> str:
    found = [t for t in texts_to(calls, who) if t.startswith("✅")]
    assert found, texts_to(calls, who)
    return found[-1]


# --- 3 messages per appeal ----------------------------------------------------------------------------
async def test_filing_through_the_group_link_costs_three_messages(h: Harness) -> None:
    """Unit prompt (edited into the category question, then into "describe it"), receipt, card."""
    await h.setup_community()
    me = h.p.resident
    bid = await building_id(h)
    before = len(h.rt.calls)
    calls = await h.send(updates.command(me, updates.private_chat(me), "start", f"ap_{bid}"))
    calls += await press_on(h, me, calls[-1], f"f:u:{bid}:1")
    calls += await press_on(h, me, calls[-1], "f:c:problem")
    calls += await h.text(me, "The lift is stuck between floors 3 and 4")
    everything = h.rt.calls[before:]
    sent = sends(everything)
    assert [(c.method, c.chat_id) for c in sent] == [
        ("sendMessage", me["id"]),  # the one prompt
        ("sendMessage", me["id"]),  # the receipt
        ("sendMessage", h.p.uhead["id"]),  # the head's card
    ]
    edits = [c for c in everything if c.method == "editMessageText"]
    prompt_id = h.rt.telegram.messages  # the edits went to the prompt's own message
    assert len(edits) == 2 and len({c.params["message_id"] for c in edits}) == 1
    assert prompt_id
    assert "Now describe it in one message" in (edits[-1].text or "")
    assert receipt_of(calls, me).startswith("✅ Appeal #1 received: 🔧 Problem")


async def test_problem_written_first_costs_three_messages_and_becomes_the_description(h: Harness) -> None:
    await h.setup_community()
    me = h.p.resident
    await h.cmd(me, h.p.building_chat, "myunit")  # seen in the building chat: the bot knows the building
    await press_on(h, me, h.last_to(h.p.building_chat), f"mu:{await building_id(h)}:1")
    before = len(h.rt.calls)
    calls = await h.text(me, "No light on the 5th floor")
    assert texts_to(calls, me)[0].startswith("📝 I kept your message: it will be the description.")
    calls += await press_on(h, me, calls[-1], "f:c:problem")
    sent = sends(h.rt.calls[before:])
    assert len(sent) == 3, sent
    assert (await appeal_of(h, 1)).body == "No light on the 5th floor"
    assert "🔧 Problem — Building 7, unit 1. Your message is filed; the receipt is below." in texts_to(calls, me)


# --- the receipt is in the outbox with the appeal ------------------------------------------------------
async def test_the_receipt_is_queued_in_the_filing_transaction_and_survives_a_crash(tmp_path: Any) -> None:
    """The process dies right after the description is stored (nothing sent yet): a new process on
    the same database still sends the receipt, and the card (kill -9 analogue)."""
    harness, app = await make_harness(tmp_path, datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    async with app:
        await open_storage(app)
        await harness.setup_community()
        me = harness.p.resident
        bid = await building_id(harness)
        await harness.send(updates.command(me, updates.private_chat(me), "start", f"ap_{bid}"))
        await harness.press(me, harness.last_to(me), f"f:u:{bid}:1")
        await harness.press(me, harness.last_to(me), "f:c:problem")
        # the description arrives; the handler commits the appeal, then the process is killed before
        # anything is sent: no outbox drain at all
        app.bot_data.outbox().kick = lambda: None  # type: ignore[method-assign]
        before = len(harness.rt.calls)
        await harness.send(updates.message(me, updates.private_chat(me), "Water on the stairs"), drain=False)
        assert sends(harness.rt.calls[before:]) == []
        async with harness.services.db.read() as tx:
            pending = await tx.fetchall("SELECT template, chat_id FROM outbox WHERE sent_at IS NULL ORDER BY id")
        assert [(r["template"], r["chat_id"]) for r in pending] == [
            ("filing.receipt_plain", me["id"]),
            ("appeal.assigned", harness.p.uhead["id"]),
        ]
        await app.bot_data.services.db.close()
    # a new process on the same database: the outbox sends what the dead one queued
    again, app2 = await make_harness(tmp_path, datetime(2026, 11, 23, 2, 1, tzinfo=UTC))
    async with app2:
        await open_storage(app2)
        await app2.bot_data.outbox().drain()
        assert [t for t in again.texts(me) if t.startswith("✅ Appeal #1 received")]
        assert [t for t in again.texts(harness.p.uhead) if t.startswith("📥 New appeal #1")]
        await app2.bot_data.services.db.close()


# --- no dead end in private ----------------------------------------------------------------------------
async def test_a_stranger_finds_their_building_by_the_poster_code_and_keeps_what_they_wrote(h: Harness) -> None:
    await h.setup_community()
    me = updates.user(2001, "Nina", None, "en")
    answers = []
    for text in ("The door downstairs does not close", "hello?", "ABC123", "QQ77QQ", "please help"):
        answers.append(texts_to(await h.text(me, text), me)[-1])
    answers.append(texts_to(await h.cmd(me, updates.private_chat(me), "appeal"), me)[-1])
    for earlier, later in itertools.pairwise(answers):
        assert earlier != later, "the same answer twice in a row"
    assert not any("press /appeal in your building" in a for a in answers)
    assert answers[0].startswith("📝 I kept your message: it will be the description.\n\nWhich building")
    assert "I found no building with the code ABC123." in answers[2]
    assert "QQ77QQ is not a building code either." in answers[3]
    code = await poster_code(h)
    typed = f"「{code[:3].lower()} {code[3:]}」。"  # copied with full-width punctuation, lower case, a space
    calls = await h.text(me, typed)
    assert texts_to(calls, me)[-1].endswith("Which unit (stairwell) of Building 7 do you live in?")
    calls = await press_on(h, me, calls[-1], f"f:u:{await building_id(h)}:2")
    calls = await press_on(h, me, calls[-1], "f:c:problem")
    assert receipt_of(calls, me).startswith("✅ Appeal #1 received")
    assert (await appeal_of(h, 1)).body == "The door downstairs does not close"


def test_building_codes_are_typed_in_any_case_and_punctuation() -> None:
    assert normalize("k7m-4qx") == "K7M4QX"
    assert normalize(" K7M 4QX ") == "K7M4QX"
    assert normalize("K7M、4QX。") == "K7M4QX"
    assert normalize("ｋ７ｍ４ｑｘ") == "K7M4QX"  # full-width letters and digits
    assert normalize("K7M4Q") is None and normalize("K0M4QX") is None  # too short; 0 is never used
    assert shown("K7M4QX") == "K7M-4QX"


async def test_buildings_known_from_the_group_are_offered_and_another_can_be_chosen(h: Harness) -> None:
    await h.setup_community()
    me = h.p.resident
    await h.send(updates.message(me, h.p.building_chat, "hi neighbours"))  # seen in Building 7's chat
    calls = await h.text(me, "Trash was not collected")
    # one known building: straight to the unit question, the message kept
    assert texts_to(calls, me)[-1].endswith("Which unit (stairwell) of Building 7 do you live in?")
    # a second building chat: now the bot asks which, with "another building" too
    tg = h.rt.telegram
    second = updates.group_chat(-1001000000009, "Building 9 业主群")
    tg.admins[second["id"]] = [h.p.staff]
    invite = await h.cmd(h.p.staff, h.p.staff_chat, "invite")
    code = (invite[-1].text or "").split(":", 1)[1].split()[0]
    await h.cmd(h.p.staff, second, "register", code)
    assert h.texts(second)[-1].startswith("🏠 Building 9 is now part of Sunny Side.")  # the group's tail left out
    await h.send(updates.message(me, second, "hello"))
    await h.cmd(me, updates.private_chat(me), "cancel")
    calls = await h.cmd(me, updates.private_chat(me), "appeal")
    # where they chose a unit first, then the chats they were seen in
    assert [b for b, _ in calls[-1].buttons] == ["Building 7", "Building 9", "🏠 Another building"]


# --- start screen, keyboard, menus ---------------------------------------------------------------------
def keyboard_of(call: Call) -> dict[str, Any]:
    markup = call.params.get("reply_markup")
    assert isinstance(markup, dict) and "keyboard" in markup, call
    return markup


async def test_start_gives_each_role_its_screen_and_a_persistent_keyboard(h: Harness) -> None:
    await h.setup_community()
    resident = h.p.resident
    calls = await h.cmd(resident, updates.private_chat(resident), "start")
    markup = keyboard_of(calls[-1])
    assert markup["is_persistent"] is True and markup["resize_keyboard"] is True
    assert [[b["text"] for b in row] for row in markup["keyboard"]] == [
        ["📝 Report a problem", "📋 My appeals"],
        ["🎁 A wish"],
        ["🗳 Vote", "🌐 Language", "❓ Help"],
    ]
    assert (calls[-1].text or "").startswith("Hello, Rita! 👋\nI pass your problems")
    head = h.p.uhead
    calls = await h.cmd(head, updates.private_chat(head), "help")
    rows = [
        [b["text"] for b in row] for row in keyboard_of([c for c in calls if c.method == "sendMessage"][-1])["keyboard"]
    ]
    assert rows[0] == ["📂 Open appeals", "⭐ My points"]
    assert rows[1] == ["🏠 Care list"]
    assert "You are the unit head of: 1 · Building 7." in (calls[0].text or "")
    menus = [c for c in calls if c.method == "setMyCommands"]
    assert menus and menus[-1].params["scope"] == {"type": "chat", "chat_id": head["id"]}
    assert "points" in [c["command"] for c in menus[-1].params["commands"]]


@pytest.mark.parametrize(
    ("lang", "button", "expected"),
    [
        ("ru", "📋 Мои обращения", "У вас пока нет обращений."),
        ("zh", "📋 我的诉求", "您还没有诉求。"),
        ("en", "my appeals", "You have no appeals yet."),
    ],
)
async def test_keyboard_buttons_work_in_every_language(h: Harness, lang: str, button: str, expected: str) -> None:
    await h.setup_community()
    me = updates.user(2002, "Vera", None, lang)
    calls = await h.text(me, button)
    assert texts_to(calls, me)[-1].startswith(expected)


async def test_everything_a_resident_does_is_a_button(h: Harness) -> None:
    await h.setup_community()
    me = h.p.resident
    await h.send(updates.message(me, h.p.building_chat, "hi"))
    calls = await h.text(me, "📝 Report a problem")
    calls = await press_on(h, me, calls[-1], f"f:u:{await building_id(h)}:1")
    calls = await press_on(h, me, calls[-1], "f:c:consultation")
    await h.text(me, "When is the water back?")
    calls = await h.text(me, "📋 My appeals")
    assert calls[-1].buttons == [("#1 ❓ When is the water back? · sent, not taken yet", "a:show:1")]
    calls = await press_on(h, me, calls[-1], "a:show:1")
    view = texts_to(calls, me)[-1]
    assert "What happened:\nMon 23 Nov, 10:00 · filed — you" in view
    assert "Next: Uma takes it and answers you here" in view
    assert not ISO.search(view) and "/show" not in view
    calls = await h.text(me, "🌐 Language")
    assert calls[-1].buttons[0][1] == "lang:zh"


async def test_command_menus_fit_each_scope(h: Harness) -> None:
    await h.setup_community()
    from handlers.menus import publish_commands

    h.rt.clear()
    await publish_commands(h.app)
    menus = h.rt.calls_of("setMyCommands")
    by_scope: dict[str, set[str]] = {}
    for call in menus:
        scope = call.params["scope"]
        key = scope["type"] + (f":{scope['chat_id']}" if "chat_id" in scope else "")
        by_scope.setdefault(key, set()).update(c["command"] for c in call.params["commands"])
    assert by_scope["all_private_chats"] == {"appeal", "myappeals", "wish", "lang", "cancel", "help"}
    assert "units" in by_scope["all_chat_administrators"] and "units" not in by_scope["all_group_chats"]
    staff = by_scope[f"chat:{h.p.staff_chat['id']}"]
    assert {"invite", "open", "sla", "award"} <= staff
    assert len(menus) == 4 * 4  # private, groups, group admins, one staff chat: 4 languages each


async def test_a_new_staff_chat_gets_the_staff_menu(h: Harness) -> None:
    tg = h.rt.telegram
    tg.admins[h.p.staff_chat["id"]] = [h.p.staff]
    calls = await h.cmd(h.p.staff, h.p.staff_chat, "newcommunity", "Sunny Side")
    scopes = [c.params["scope"] for c in calls if c.method == "setMyCommands"]
    assert {"type": "chat", "chat_id": h.p.staff_chat["id"]} in scopes


# --- plain receipts, dates, reader-side statuses --------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "expected"),
    [("zh", "12月3日（周四）12:00"), ("ru", "3 декабря (чт), 12:00"), ("en", "Thu 3 Dec, 12:00")],
)
def test_dates_as_people_say_them(lang: str, expected: str) -> None:
    moment = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    assert say_moment(moment, "Asia/Shanghai", lang) == expected
    next_year = datetime(2027, 1, 5, 4, 0, tzinfo=UTC)
    assert "2027" in say_moment(next_year, "Asia/Shanghai", lang, now=moment)


async def test_receipt_says_who_has_it_and_when_in_the_readers_language(h: Harness) -> None:
    await h.setup_community()
    me = updates.user(1004, "Rita", "rita_r", "zh")
    bid = await building_id(h)
    calls = await h.send(updates.command(me, updates.private_chat(me), "start", f"ap_{bid}"))
    calls = await press_on(h, me, calls[-1], f"f:u:{bid}:1")
    calls = await press_on(h, me, calls[-1], "f:c:problem")
    assert texts_to(calls, me)[-1].startswith("🔧 问题 — Building 7，1单元。\n现在请用一条消息说明情况")
    receipt = receipt_of(await h.text(me, "电梯坏了"), me)
    assert receipt == (
        "✅ 诉求 #1 已收到：🔧 问题\nBuilding 7，1单元\n现由Uma（单元长）负责。\n最晚11月24日（周二）10:00首次答复。\n"
        "办理期限：11月26日（周四）10:00。\n每一步进展我都会告诉您。要补充内容，请回复这条消息。"
    )
    assert not ISO.search(receipt)


async def test_statuses_are_worded_from_the_readers_side(h: Harness) -> None:
    await h.setup_community()
    appeal_id = await h.file_appeal()
    head, me = h.p.uhead, h.p.resident
    await h.press(head, h.last_to(head), f"a:ask:{appeal_id}")
    await h.text(head, "Which floor?")
    assert (await appeal_of(h, appeal_id)).status == Status.WAITING
    head_view = texts_to(await h.cmd(head, updates.private_chat(head), "show", str(appeal_id)), head)[-1]
    mine = texts_to(await h.cmd(me, updates.private_chat(me), "show", str(appeal_id)), me)[-1]
    assert "Now: waiting for the resident's answer" in head_view and "your answer" not in head_view
    assert "Now: waiting for your answer" in mine
    assert "Next: Uma asked you something." in mine
    calls = await h.cmd(head, updates.private_chat(head), "open")
    assert calls[-1].buttons[0][0].endswith("· waiting for the resident's answer")


# --- categories, anonymity, locations and videos --------------------------------------------------------
async def test_categories_come_with_an_example_each(h: Harness) -> None:
    await h.setup_community()
    me = h.p.resident
    bid = await building_id(h)
    calls = await h.send(updates.command(me, updates.private_chat(me), "start", f"ap_{bid}"))
    calls = await press_on(h, me, calls[-1], f"f:u:{bid}:1")
    prompt = texts_to(calls, me)[-1]
    assert "❓ Question — e.g. when is the water back on?" in prompt
    assert "🔧 Problem — e.g. the lift is stuck, a lamp is out, a leak" in prompt
    assert "🏛 Major issue — e.g. the roof leaks" in prompt


async def test_an_anonymous_resident_is_hidden_from_heads_but_not_from_staff(h: Harness) -> None:
    await h.setup_community()
    me = h.p.resident
    bid = await building_id(h)
    calls = await h.send(updates.command(me, updates.private_chat(me), "start", f"ap_{bid}"))
    calls = await press_on(h, me, calls[-1], f"f:u:{bid}:1")
    calls = await press_on(h, me, calls[-1], "f:anon")
    assert "🙈 Your name will be hidden from the heads" in texts_to(calls, me)[-1]
    calls = await press_on(h, me, calls[-1], "f:c:problem")
    calls = await h.text(me, "Neighbours smoke on the stairs")
    card = [t for t in h.texts(h.p.uhead) if t.startswith("📥 New appeal #1")][-1]
    assert "From: anonymous resident" in card and "Rita" not in card
    assert "🙈 Your name is hidden from the heads" in receipt_of(calls, me)
    assert (await appeal_of(h, 1)).anonymous
    head_view = texts_to(await h.cmd(h.p.uhead, updates.private_chat(h.p.uhead), "show", "1"), h.p.uhead)[-1]
    assert "filed — anonymous resident" in head_view and "Rita" not in head_view
    staff_view = texts_to(await h.cmd(h.p.staff, h.p.staff_chat, "show", "1"), h.p.staff_chat)[-1]
    assert "filed — Rita" in staff_view


async def test_a_location_and_a_short_video_are_accepted_and_relayed(h: Harness) -> None:
    await h.setup_community()
    me = h.p.resident
    bid = await building_id(h)
    await h.send(updates.command(me, updates.private_chat(me), "start", f"ap_{bid}"))
    await h.press(me, h.last_to(me), f"f:u:{bid}:1")
    await h.press(me, h.last_to(me), "f:c:problem")
    where = updates.wrap(
        "message",
        updates.message_dict(me, updates.private_chat(me), location={"latitude": 31.2304, "longitude": 121.4737}),
    )
    calls = await h.send(where)
    assert receipt_of(calls, me).startswith("✅ Appeal #1 received")
    copies = [c for c in calls if c.method == "copyMessage"]
    assert [(c.chat_id, c.params["message_id"]) for c in copies] == [(h.p.uhead["id"], where["message"]["message_id"])]
    # a short video, with words, while choosing the category: kept, then filed with it
    await h.cmd(me, updates.private_chat(me), "appeal")
    video = {"file_id": "BAACAgIAAxkBAAIvid", "file_unique_id": "AgADvid", "width": 640, "height": 480, "duration": 12}
    clip = updates.wrap(
        "message", updates.message_dict(me, updates.private_chat(me), video=video, caption="The pipe drips")
    )
    calls = await h.send(clip)
    assert texts_to(calls, me)[-1].startswith("📝 I kept your message")
    calls = await h.press(me, calls[-1], "f:c:problem")
    assert receipt_of(calls, me).startswith("✅ Appeal #2 received")
    async with h.services.db.read() as tx:
        media = await AppealsRepo(tx).media(2)
    assert [(m["kind"], m["caption"]) for m in media] == [("video", "The pipe drips")]
    long_clip = dict(video, duration=900)
    calls = await h.send(updates.wrap("message", updates.message_dict(me, updates.private_chat(me), video=long_clip)))
    assert "short videos (up to 3 minutes)" in texts_to(calls, me)[-1]


# --- a building's own name ----------------------------------------------------------------------------
async def test_a_building_has_a_name_of_its_own(h: Harness) -> None:
    tg = h.rt.telegram
    p = h.p
    tg.admins[p.staff_chat["id"]] = [p.staff]
    chat = updates.group_chat(-1001000000077, "Sunny Tower 业主群")
    tg.admins[chat["id"]] = [p.staff]
    await h.cmd(p.staff, p.staff_chat, "newcommunity", "Sunny Side")
    invite = await h.cmd(p.staff, p.staff_chat, "invite")
    code = (invite[-1].text or "").split(":", 1)[1].split()[0]
    await h.cmd(p.staff, chat, "register", f"{code} 3号楼")
    answer = h.texts(chat)[-1]
    assert answer.startswith("🏠 3号楼 is now part of Sunny Side.\nBuilding code for the poster: ")
    poster = answer.split("poster: ", 1)[1].split()[0]
    assert normalize(poster) is not None
    # a resident cannot rename it; staff can
    calls = await h.cmd(p.resident, chat, "buildingname", "Mine")
    assert calls[-1].text == "Only the building head or community staff can do that."
    calls = await h.cmd(p.staff, chat, "buildingname", "  Building   3 ")
    assert calls[-1].text == "🏠 Done: this building is now called Building 3."
    calls = await h.cmd(p.staff, chat, "poster")  # its text, then the printable poster (PNG, PDF)
    text = [c for c in calls if c.method == "sendMessage"][-1]
    assert (text.text or "").startswith(f"🏠 Building 3\n🔑 Code: {poster}")
    ctx = await h.services.registry.chat_context(chat["id"])
    assert ctx.building.title == "Building 3"


async def test_the_migration_names_existing_buildings_after_their_group(tmp_path: Any) -> None:
    from storage.engines import open_database
    from storage.migrate import PK, load_migrations, split_statements
    from tests.support.engines import storage_url

    db = open_database(storage_url(tmp_path / "old.sqlite3", empty=True))
    await db.connect()
    async with db.write() as tx:
        for mig in load_migrations():
            if mig.version >= 11:
                break
            for stmt in split_statements(mig.sql.replace("{pk}", PK[db.dialect])):
                await tx.execute(stmt.rstrip(";"))
        await tx.execute(
            "INSERT INTO communities (name, staff_chat_id, timezone, country, language, created_by, created_at)"
            " VALUES ('C', -1, 'Asia/Shanghai', 'CN', 'zh', 1, 0)"
        )
        await tx.execute(
            "INSERT INTO buildings (community_id, chat_id, title, created_at) VALUES (1, -2, '7号楼业主群', 0)"
        )
        (eleven,) = [m for m in load_migrations() if m.version == 11]
        for stmt in split_statements(eleven.sql.replace("{pk}", PK[db.dialect])):
            await tx.execute(stmt.rstrip(";"))
        row = await tx.fetchone("SELECT name, code FROM buildings")
    assert row is not None
    assert (row["name"], row["code"]) == ("7号楼业主群", None)
    await db.close()


async def test_words_added_to_an_appeal_and_their_acknowledgement_are_queued_together(h: Harness) -> None:
    """A reply to the receipt: the head's copy and the resident's "added and passed on" are both in
    the outbox when the transaction commits (a crash right after loses neither)."""
    await h.setup_community()
    appeal_id = await h.file_appeal()
    me = h.p.resident
    receipt = [
        m for (cid, _), m in h.rt.telegram.messages.items() if cid == me["id"] and "received" in m.get("text", "")
    ]
    h.app.bot_data.outbox().kick = lambda: None  # type: ignore[method-assign]
    await h.send(
        updates.message(me, updates.private_chat(me), "It is the 3rd floor", reply_to=receipt[-1]), drain=False
    )
    async with h.services.db.read() as tx:
        pending = await tx.fetchall("SELECT template, chat_id FROM outbox WHERE sent_at IS NULL ORDER BY id")
    assert sorted((r["template"], r["chat_id"]) for r in pending) == [
        ("appeal.resident_added", h.p.uhead["id"]),
        ("done.added", me["id"]),
    ]
    await h.app.bot_data.outbox().drain()
    assert h.texts(me)[-1] == f"✅ Added to appeal #{appeal_id} and passed on."
