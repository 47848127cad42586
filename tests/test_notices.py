"""Notices and tasks with read receipts (issue 12) through the real PTB Application with the
recording fake Bot API (fixture ``h``; every call is checked against the Bot API schema). Time moves
only on ``h.clock``; the sweep fires reminders, due dates, urgent re-pings and escalations.

Sunny Side: staff Olga in the staff chat; Building 7 (head Boris; unit heads Uma of unit 1 and Kai
of unit 2; resident Rita) and Building 9 (units 1-2, no heads yet). Monday 2026-11-23 10:00,
Shanghai, a working day.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app import open_storage
from bot.models import Notice, Priority, UserInfo
from handlers.notices import edit_statuses
from storage.registry import RegistryRepo
from tests.harness import Harness, code_in, local, make_harness, said
from tests.support import updates
from tests.support.api_schema import assert_calls_valid
from tests.support.botapi import Call

KAI = updates.user(1024, "Kai", "kai_u")
CHAT9 = updates.group_chat(-1001000000019, "Building 9")


async def town(h: Harness) -> None:
    p = h.p
    await h.setup_community()
    await h.cmd(p.staff, p.building_chat, "unithead", "2", reply_to=updates.message(KAI, p.building_chat, "hi"))
    h.rt.telegram.admins[CHAT9["id"]] = [p.staff]
    await h.cmd(p.staff, CHAT9, "register", code_in(await h.cmd(p.staff, p.staff_chat, "invite")))
    await h.cmd(p.staff, CHAT9, "units", "1-2")
    for person in (KAI, p.staff, p.resident):
        await h.cmd(person, updates.private_chat(person), "start")


def picker_of(calls: list[Call]) -> tuple[Call, int]:
    """The scope picker the command answered with, and the notice's id."""
    found = [c for c in calls if any(d.startswith("nt:s:") for _, d in c.buttons)]
    assert found, [c.text for c in calls]
    return found[-1], int(found[-1].buttons[0][1].split(":")[2])


def to_person(calls: list[Call], who: dict[str, Any]) -> list[Call]:
    return [c for c in calls if c.chat_id == who["id"] and c.method == "sendMessage"]


def alerts(calls: list[Call]) -> list[str]:
    return [c.params.get("text", "") for c in calls if c.method == "answerCallbackQuery"]


def edits(calls: list[Call], chat: dict[str, Any]) -> list[Call]:
    return [c for c in calls if c.method == "editMessageText" and c.chat_id == chat["id"]]


async def compose(h: Harness, kind: str, text: str, chat: dict[str, Any] | None = None) -> tuple[Call, int]:
    who = h.p.staff if chat is None or chat is h.p.staff_chat else h.p.bhead
    return picker_of(await h.cmd(who, chat or h.p.staff_chat, kind, text))


async def anchor(h: Harness, who: dict[str, Any]) -> Call:
    """A message of the bot in ``who``'s private chat, to press forged buttons on."""
    calls = await h.cmd(who, updates.private_chat(who), "help")
    return [c for c in calls if c.method == "sendMessage"][-1]


# --- a notice: read receipts and live counts ------------------------------------------------------
async def test_a_notice_to_every_unit_head_counts_each_read_once(h: Harness) -> None:
    await town(h)
    p = h.p
    picker, nid = await compose(h, "notice", "Water is off on Thursday, 9:00-12:00")
    assert [d for _, d in picker.buttons] == [f"nt:s:{nid}:{s}" for s in ("h", "bh", "b", "c")] + [f"nt:x:{nid}"]
    sent = await h.press(p.staff, picker, f"nt:s:{nid}:h")
    status = edits(sent, p.staff_chat)
    assert status and "sent to 2" in (status[-1].text or "") and "Not yet: 2" in (status[-1].text or "")
    uma, kai = to_person(sent, p.uhead), to_person(sent, KAI)
    assert len(uma) == len(kai) == 1 and "Water is off on Thursday" in (uma[0].text or "")
    assert uma[0].buttons == [("Read ✓", f"nt:r:{nid}")]
    assert not to_person(sent, p.resident) and not to_person(sent, p.bhead)  # only the unit heads

    # the scope button pressed again: said so, nothing sent twice
    again = await h.press(p.staff, picker, f"nt:s:{nid}:h")
    assert "already been sent" in alerts(again)[0] and not to_person(again, p.uhead)

    # Uma reads; her double tap records nothing new; the buttons go
    first = await h.press(p.uhead, uma[0], f"nt:r:{nid}")
    assert "marked as read" in alerts(first)[0]
    assert any(c.method == "editMessageReplyMarkup" for c in first)
    second = await h.press(p.uhead, uma[0], f"nt:r:{nid}")
    assert "Already recorded" in alerts(second)[0]
    # a resident pressing the same button (forged, in her own chat) is refused, nothing counted
    forged = await h.press(p.resident, await anchor(h, p.resident), f"nt:r:{nid}")
    assert "sent to someone else" in alerts(forged)[0]
    # another head pressing under Uma's message (a forged update), or a head the notice did not go to
    assert "sent to someone else" in alerts(await h.press(KAI, uma[0], f"nt:r:{nid}"))[0]
    assert "sent to someone else" in alerts(await h.press(p.bhead, await anchor(h, p.bhead), f"nt:r:{nid}"))[0]
    # "Can't do" does not exist for a plain notice
    wrong = await h.press(KAI, kai[0], f"nt:n:{nid}")
    assert "does not fit" in alerts(wrong)[0]

    # the live counts: one edit of the status message, with one read
    before = len(h.rt.calls)
    assert await edit_statuses(h.app) == 1
    edit = edits(h.rt.calls[before:], p.staff_chat)[-1]
    assert edit.params["message_id"] == status[-1].params["message_id"]  # the same status message
    assert "Read ✓: 1" in (edit.text or "") and "Not yet: 1" in (edit.text or "")
    assert await edit_statuses(h.app) == 0  # nothing changed since

    # who has not answered: Kai (of Building 7)
    who = await h.press(p.staff, picker, f"nt:w:{nid}")
    assert any("Kai (Building 7)" in t for t in said(who)) and not any("Uma" in t for t in said(who))

    # Kai reads within ten seconds of the last edit: the next edit waits for the debounce
    await h.press(KAI, kai[0], f"nt:r:{nid}")
    assert await edit_statuses(h.app) == 0
    h.clock.advance(timedelta(seconds=11))
    before = len(h.rt.calls)
    assert await edit_statuses(h.app) == 1
    assert "Read ✓: 2" in (edits(h.rt.calls[before:], p.staff_chat)[-1].text or "")
    who = await h.press(p.staff, picker, f"nt:w:{nid}")
    assert any("Everyone has answered" in t for t in said(who))
    assert_calls_valid(h.rt.calls)


async def test_a_notice_nobody_read_is_reminded_once_inside_working_hours(h: Harness) -> None:
    await town(h)
    p = h.p
    h.clock.set(local(2026, 11, 27, 16, 0))  # Friday 16:00: a working day's time ends on Monday
    picker, nid = await compose(h, "notice", "The lift is serviced next week")
    sent = await h.press(p.staff, picker, f"nt:s:{nid}:h")
    await h.press(p.uhead, to_person(sent, p.uhead)[0], f"nt:r:{nid}")
    h.clock.set(local(2026, 11, 28, 12, 0))  # Saturday: nothing is due yet
    assert not to_person(await h.sweep(), KAI)
    h.clock.set(local(2026, 11, 30, 16, 30))  # Monday, a working day later
    calls = await h.sweep()
    reminders = to_person(calls, KAI)
    assert len(reminders) == 1 and "Reminder" in (reminders[0].text or "")
    assert reminders[0].buttons == [("Read ✓", f"nt:r:{nid}")]
    assert not to_person(calls, p.uhead)  # Uma has read it
    assert not to_person(await h.sweep(), KAI)  # once


# --- a task: done / can't do, reminder before the due date, the due date's lists -----------------
async def test_a_task_reminds_before_its_due_date_and_reports_who_did_not(h: Harness) -> None:
    await town(h)
    p = h.p
    picker, nid = await compose(h, "task", "2026-11-27 Check the fire doors")  # Friday
    sent = await h.press(p.staff, picker, f"nt:s:{nid}:h")
    uma = to_person(sent, p.uhead)[0]
    assert len(to_person(sent, KAI)) == 1
    assert "due Fri 27 Nov, 18:00" in (uma.text or "")
    assert uma.buttons == [("Done ✓", f"nt:r:{nid}"), ("Can't do", f"nt:n:{nid}")]
    assert "you can't do it" in alerts(await h.press(p.uhead, uma, f"nt:n:{nid}"))[0]
    assert "Already recorded" in alerts(await h.press(p.uhead, uma, f"nt:n:{nid}"))[0]
    assert "marked as done" in alerts(await h.press(p.uhead, uma, f"nt:r:{nid}"))[0]  # changed her mind

    h.clock.set(local(2026, 11, 27, 10, 5))  # a working day before the end of Friday: the reminder
    calls = await h.sweep()
    assert len(to_person(calls, KAI)) == 1 and not to_person(calls, p.uhead)
    h.clock.set(local(2026, 11, 27, 18, 1))  # due: Olga learns who did not, Boris his building's
    calls = await h.sweep()
    report = to_person(calls, p.staff)
    assert len(report) == 1 and "Not done: 1" in (report[0].text or "") and "Kai" in (report[0].text or "")
    building = to_person(calls, p.bhead)
    assert len(building) == 1 and "Building 7" in (building[0].text or "") and "Kai" in (building[0].text or "")
    assert "Uma" not in (building[0].text or "")
    assert not to_person(await h.sweep(), p.staff)  # once
    assert_calls_valid(h.rt.calls)


async def test_a_task_everyone_did_reports_so_at_the_due_date(h: Harness) -> None:
    await town(h)
    p = h.p
    picker, nid = await compose(h, "task", "2026-11-24 Count the bicycles")
    sent = await h.press(p.staff, picker, f"nt:s:{nid}:h")
    await h.press(p.uhead, to_person(sent, p.uhead)[0], f"nt:r:{nid}")
    await h.press(KAI, to_person(sent, KAI)[0], f"nt:n:{nid}")
    await h.sweep()
    h.clock.advance(timedelta(minutes=1))
    assert await edit_statuses(h.app) == 1
    status = edits(h.rt.calls, p.staff_chat)[-1].text or ""
    assert "Done ✓: 1" in status and "Can't do: 1" in status and "Not yet: 0" in status
    h.clock.set(local(2026, 11, 24, 18, 5))
    calls = await h.sweep()
    assert any("everyone answered" in (c.text or "") for c in to_person(calls, p.staff))
    assert not to_person(calls, p.bhead)


# --- urgent: at once at night, re-pings every 15 minutes, escalation after an hour ---------------
async def test_an_urgent_notice_at_night_repings_and_escalates_the_unconfirmed(h: Harness) -> None:
    await town(h)
    p = h.p
    h.clock.set(local(2026, 11, 23, 23, 10))  # quiet hours: an urgent notice goes out anyway
    picker, nid = await compose(h, "urgent", "Flood in the basement of Building 7, keep the doors shut")
    sent = await h.press(p.staff, picker, f"nt:s:{nid}:h")
    uma, kai = to_person(sent, p.uhead), to_person(sent, KAI)
    assert len(uma) == len(kai) == 1 and "URGENT" in (uma[0].text or "")
    assert uma[0].buttons == [("Confirm ✓", f"nt:r:{nid}")]
    await h.press(p.uhead, uma[0], f"nt:r:{nid}")

    h.clock.advance(timedelta(minutes=14))
    assert not to_person(await h.sweep(), KAI)
    h.clock.advance(timedelta(minutes=2))  # 15 minutes: Kai (only) is pinged again
    calls = await h.sweep()
    assert len(to_person(calls, KAI)) == 1 and not to_person(calls, p.uhead)
    assert "Still waiting" in (to_person(calls, KAI)[0].text or "")
    for _ in range(3):  # 30, 45, 60 minutes: a re-ping each, and at the hour Boris is told
        h.clock.advance(timedelta(minutes=15))
        calls = await h.sweep()
        assert len(to_person(calls, KAI)) == 1
    escalated = to_person(calls, p.bhead)
    assert len(escalated) == 1 and "Kai" in (escalated[0].text or "") and "Uma" not in (escalated[0].text or "")
    assert any("Building heads told: 1" in (c.text or "") for c in to_person(calls, p.staff))

    await h.press(KAI, to_person(calls, KAI)[0], f"nt:r:{nid}")  # on a re-ping: counts the same
    h.clock.advance(timedelta(minutes=15))
    calls = await h.sweep()
    assert not to_person(calls, KAI) and not to_person(calls, p.bhead)  # confirmed: no more pings
    who = await h.press(p.staff, picker, f"nt:w:{nid}")
    assert any("Everyone has answered" in t for t in said(who))
    assert_calls_valid(h.rt.calls)


# --- scopes ---------------------------------------------------------------------------------------
async def test_scopes_building_heads_chosen_buildings_and_building_chats(h: Harness) -> None:
    await town(h)
    p = h.p
    picker, nid = await compose(h, "notice", "Meeting of building heads on Friday")
    sent = await h.press(p.staff, picker, f"nt:s:{nid}:bh")
    assert len(to_person(sent, p.bhead)) == 1 and not to_person(sent, p.uhead)

    # chosen buildings: Building 9 alone has no unit heads (empty: said so, the draft stays)
    picker, nid = await compose(h, "notice", "Bins are collected at 7 tomorrow")
    shown = await h.press(p.staff, picker, f"nt:s:{nid}:b")
    chooser = edits(shown, p.staff_chat)[-1]
    labels = [label for label, _ in chooser.buttons]
    assert "▫️ Building 7" in labels and "▫️ Building 9" in labels
    assert "choose at least one" in alerts(await h.press(p.staff, picker, f"nt:go:{nid}"))[0]
    b9 = next(d for label, d in chooser.buttons if label.endswith("Building 9"))
    b7 = next(d for label, d in chooser.buttons if label.endswith("Building 7"))
    toggled = await h.press(p.staff, picker, b9)
    assert "✅ Building 9" in [label for label, _ in edits(toggled, p.staff_chat)[-1].buttons]
    empty = await h.press(p.staff, picker, f"nt:go:{nid}")
    assert "Nobody to send it to" in alerts(empty)[0] and not to_person(empty, p.uhead)
    await h.press(p.staff, picker, b9)  # un-chosen
    await h.press(p.staff, picker, b7)
    sent = await h.press(p.staff, picker, f"nt:go:{nid}")
    assert len(to_person(sent, p.uhead)) == 1 and len(to_person(sent, KAI)) == 1

    # every building chat: posted without buttons (nobody there answers for the building)
    picker, nid = await compose(h, "notice", "The street fair is on Sunday")
    sent = await h.press(p.staff, picker, f"nt:s:{nid}:c")
    posts = [c for c in sent if c.chat_id in (p.building_chat["id"], CHAT9["id"]) and c.method == "sendMessage"]
    assert len(posts) == 2 and all(not c.buttons for c in posts)
    assert "posted in the building chats: 2" in (edits(sent, p.staff_chat)[-1].text or "")
    assert_calls_valid(h.rt.calls)


async def test_a_building_head_sends_to_their_own_building_only(h: Harness) -> None:
    await town(h)
    p = h.p
    picker, nid = await compose(h, "notice", "Stairwell cleaning on Wednesday", chat=p.building_chat)
    assert [d for _, d in picker.buttons] == [f"nt:s:{nid}:h", f"nt:s:{nid}:c", f"nt:x:{nid}"]
    # forged scopes beyond the building, or another person pressing the sender's buttons: refused
    assert "that building only" in alerts(await h.press(p.bhead, picker, f"nt:s:{nid}:bh"))[0]
    assert "Only the person who wrote" in alerts(await h.press(p.uhead, picker, f"nt:s:{nid}:h"))[0]
    # pressed from another chat (the staff chat's own message): not known there
    staff_msg = [c for c in await h.cmd(p.staff, p.staff_chat, "help") if c.method == "sendMessage"][-1]
    assert "not known here" in alerts(await h.press(p.bhead, staff_msg, f"nt:s:{nid}:h"))[0]
    sent = await h.press(p.bhead, picker, f"nt:s:{nid}:h")
    assert len(to_person(sent, p.uhead)) == 1 and "from Building 7" in (to_person(sent, p.uhead)[0].text or "")
    # a unit head may not send notices from the building chat; nor anyone from a private chat
    assert any("Only the building head" in t for t in said(await h.cmd(p.uhead, p.building_chat, "notice", "x y")))
    assert any("staff chat" in t for t in said(await h.cmd(p.staff, updates.private_chat(p.staff), "notice", "x")))


async def test_cancel_a_draft(h: Harness) -> None:
    await town(h)
    p = h.p
    picker, nid = await compose(h, "notice", "Not this one")
    calls = await h.press(p.staff, picker, f"nt:x:{nid}")
    assert "was not sent" in (edits(calls, p.staff_chat)[-1].text or "")
    assert "cancelled" in alerts(await h.press(p.staff, picker, f"nt:s:{nid}:h"))[0]
    assert not [c for c in to_person(h.rt.calls, p.uhead) if "Not this one" in (c.text or "")]


# --- bad input ------------------------------------------------------------------------------------
async def test_bad_input_gets_a_polite_answer(h: Harness) -> None:
    await town(h)
    p = h.p
    cases = {
        ("task", "2026-11-20 Too late"): "already passed",
        ("task", "2026-02-30 No such day"): "does not exist",
        ("task", "Friday Check the doors"): "/task YYYY-MM-DD",
        ("task", "2026-11-27"): "/task YYYY-MM-DD",
        ("task", "2028-01-01 Far away"): "too far ahead",
        ("notice", ""): "/notice TEXT",
        ("urgent", "   "): "/urgent TEXT",
        ("notice", "x" * 3001): "too long",
    }
    for (kind, text), expected in cases.items():
        answers = said(await h.cmd(p.staff, p.staff_chat, kind, text))
        assert any(expected in a for a in answers), (kind, text[:20], answers)
    # a task due today, still before the end of the working day, is fine
    picker_of(await h.cmd(p.staff, p.staff_chat, "task", "2026-11-23 Today please"))
    # forged ids: unknown notices, ids past 64 bits
    assert "not known here" in alerts(await h.press(p.staff, await anchor(h, p.staff), "nt:w:999999"))[0]
    calls = await h.press(p.uhead, await anchor(h, p.uhead), "nt:r:99999999999999999999")
    assert alerts(calls)  # answered (as out of date), never a traceback


# --- a photo goes with the notice -----------------------------------------------------------------
async def test_a_photo_with_the_command_as_its_caption_goes_to_every_recipient(h: Harness) -> None:
    await town(h)
    p = h.p
    calls = await h.send(updates.photo_message(p.staff, p.staff_chat, caption="/notice New parking rules, see photo"))
    picker, nid = picker_of(calls)
    sent = await h.press(p.staff, picker, f"nt:s:{nid}:h")
    copies = [c for c in sent if c.method == "copyMessage" and c.chat_id == p.uhead["id"]]
    assert len(copies) == 1 and copies[0].params["caption"] == f"📎 Notice #{nid}"  # not the command
    order = [c.method for c in sent if c.chat_id == p.uhead["id"]]
    assert order.index("copyMessage") < order.index("sendMessage")  # the photo, then the words
    # a reply to a document with the command: the document goes, with its own caption
    doc = updates.message_dict(p.staff, p.staff_chat, document={"file_id": "DOC1", "file_unique_id": "D1"})
    calls = await h.send(updates.command(p.staff, p.staff_chat, "notice", "Read the attached rules", reply_to=doc))
    picker, nid = picker_of(calls)
    sent = await h.press(p.staff, picker, f"nt:s:{nid}:h")
    copies = [c for c in sent if c.method == "copyMessage" and c.chat_id == KAI["id"]]
    assert len(copies) == 1 and copies[0].params["message_id"] == doc["message_id"]
    assert_calls_valid(h.rt.calls)


# --- a restart in the middle --------------------------------------------------------------------
async def test_a_restart_between_sending_and_delivery_loses_and_doubles_nothing(tmp_path: Path) -> None:
    h, app = await make_harness(tmp_path, local(2026, 11, 23, 10, 0))
    async with app:
        await open_storage(app)
        await town(h)
        p = h.p
        _, nid = await compose(h, "urgent", "Gas smell at the entrance")
        staff = UserInfo(p.staff["id"], p.staff["first_name"])
        ctx = await h.services.registry.chat_context(p.staff_chat["id"])
        from bot.services.access import Place

        # the scope is chosen and committed; the process stops before the outbox sends anything
        await h.services.notices.choose(staff, Place(ctx.community.staff_chat_id, "group"), nid, "h", 1)
        await app.bot_data.services.db.close()
    h2, app2 = await make_harness(tmp_path, local(2026, 11, 23, 10, 1))
    h2.p = h.p
    async with app2:
        await open_storage(app2)
        try:
            await app2.bot_data.outbox().drain()
            uma, kai = to_person(h2.rt.calls, p.uhead), to_person(h2.rt.calls, KAI)
            assert len(uma) == len(kai) == 1
            await h2.press(p.uhead, uma[0], f"nt:r:{nid}")
            h2.clock.advance(timedelta(minutes=15))
            calls = await h2.sweep()
            calls += await h2.sweep()  # a second sweep (or process) repeats nothing
            assert len(to_person(calls, KAI)) == 1 and not to_person(calls, p.uhead)
            await app2.bot_data.outbox().drain()
            assert len(to_person(h2.rt.calls, KAI)) == 2
        finally:
            await app2.bot_data.outbox().wait_idle()
            await app2.bot_data.services.db.close()


# --- a big fan-out never holds up appeal pings ----------------------------------------------------
async def test_appeal_pings_go_before_an_urgent_fan_out(h: Harness) -> None:
    await town(h)
    p = h.p
    ctx = await h.services.registry.chat_context(CHAT9["id"])
    now = h.clock.now()
    async with h.services.db.write() as tx:  # 40 more unit heads in Building 9
        reg = RegistryRepo(tx)
        for i in range(40):
            await reg.add_unit(ctx.building.id, f"x{i}", 10 + i)
            unit = await reg.unit_by_name(ctx.building.id, f"x{i}")
            assert unit is not None
            head = UserInfo(7_000_000 + i, f"Head {i}")
            await reg.upsert_user(head, now, started=True)
            await reg.set_unit_head(unit.id, head.id)
    _, nid = await compose(h, "urgent", "Power cut in the whole district")
    staff = UserInfo(p.staff["id"], p.staff["first_name"])
    from bot.services.access import Place

    await h.services.notices.choose(staff, Place(p.staff_chat["id"], "group"), nid, "h", 1)
    # an appeal's ping queued after the 42 urgent messages
    async with h.services.db.write() as tx:
        community = await RegistryRepo(tx).get_community(ctx.community.id)
        ping = Notice(p.bhead["id"], "notices.sending", user_id=p.bhead["id"], dedupe_key="appeal-ping-test")
        await h.services.notices.queue(tx, ping, community, now, not_before=now)
    [first] = await h.services.outbox.claim(1)
    assert first.chat_id == p.bhead["id"] and first.priority == Priority.PERSONAL  # the ping first
    following = await h.services.outbox.claim(8)
    assert {i.priority for i in following} == {Priority.BULK}  # the urgent fan-out, behind the ping
    # the whole fan-out then goes out, each head once
    await h.app.bot_data.outbox().drain()
    async with h.services.db.read() as tx:
        pending = await tx.fetchval("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")
        heads = await tx.fetchval(
            "SELECT COUNT(DISTINCT chat_id) FROM outbox WHERE dedupe_key LIKE ?", (f"nt:{nid}:%",)
        )
    assert heads == 42
    assert pending <= 9  # the claimed batches above hold their leases; everything else went out


async def test_no_re_ping_while_the_first_message_is_still_queued(h: Harness) -> None:
    """A fan-out longer than the re-ping interval: a head whose urgent message has not gone out yet
    gets no re-ping on top of it (the queued message has the buttons too)."""
    await town(h)
    p = h.p
    _, nid = await compose(h, "urgent", "Storm warning: bring in the balcony pots")
    staff = UserInfo(p.staff["id"], p.staff["first_name"])
    from bot.services.access import Place

    await h.services.notices.choose(staff, Place(p.staff_chat["id"], "group"), nid, "h", 1)  # queued, not sent
    h.clock.advance(timedelta(minutes=16))
    calls = await h.sweep()  # the re-ping is due; the first messages go out after it
    for head in (p.uhead, KAI):
        texts = [c.text or "" for c in to_person(calls, head)]
        assert len(texts) == 1 and "Still waiting" not in texts[0], texts
    h.clock.advance(timedelta(minutes=15))  # delivered and still unconfirmed: now re-pinged
    calls = await h.sweep()
    assert all("Still waiting" in (to_person(calls, head)[0].text or "") for head in (p.uhead, KAI))


async def test_an_unreachable_head_is_not_re_pinged_but_is_escalated(h: Harness) -> None:
    await town(h)
    p = h.p
    h.rt.telegram.fail_next("sendMessage", KAI["id"], status=403)  # Kai blocked the bot
    picker, nid = await compose(h, "urgent", "Gas main repair: do not use the stoves")
    await h.press(p.staff, picker, f"nt:s:{nid}:h")
    calls: list[Call] = []
    for _ in range(4):  # 15, 30, 45 and 60 minutes
        h.clock.advance(timedelta(minutes=15))
        calls += await h.sweep()
    assert not to_person(calls, KAI)  # never tried again (Telegram refused)
    assert len([c for c in to_person(calls, p.uhead) if "Still waiting" in (c.text or "")]) == 4
    escalated = to_person(calls, p.bhead)
    assert len(escalated) == 1 and "Kai" in (escalated[0].text or "") and "Uma" in (escalated[0].text or "")
