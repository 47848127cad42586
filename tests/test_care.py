"""The care list and visits (issue 12) through the real Application: a unit head enters a household
(label, need, frequency, private note) in private; reminders and the missed-visit chain by moving the
clock (unit head -> building head -> staff chat, never the label or the note in a group); visits
with points once per due visit; Needs help files an appeal; door-knocking rounds with progress; a
restart in the middle of entering; bad input (a unit the head does not head, double taps)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app import open_storage
from tests.harness import Harness, local, make_harness, said
from tests.support import updates
from tests.support.botapi import Call

NOTE = "PRIVATE-NOTE diabetic, key with neighbour 301"
ULLA = updates.user(2001, "Ulla", "ulla_u")  # unit head of unit 2


async def scalar(h: Harness, sql: str, params: tuple[Any, ...] = ()) -> Any:
    async with h.services.db.read() as tx:
        return await tx.fetchval(sql, params)


def with_data(calls: list[Call], prefix: str) -> Call:
    found = [c for c in calls if any(d and d.startswith(prefix) for _, d in c.buttons)]
    assert found, f"no message with a {prefix} button: {[c.text for c in calls]}"
    return found[-1]


async def town(h: Harness) -> None:
    await h.setup_community()
    chat = h.p.building_chat
    await h.cmd(h.p.staff, chat, "unithead", "2", reply_to=updates.message(ULLA, chat, "hi"))
    await h.cmd(ULLA, updates.private_chat(ULLA), "start")


async def add_household(
    h: Harness, who: dict[str, Any], unit_data: str | None = None, label: str = "302 Mrs Wang"
) -> int:
    calls = await h.cmd(who, updates.private_chat(who), "care")
    calls = await h.press(who, with_data(calls, "cr:new:"), "cr:new:0")
    unit_button = with_data(calls, "cr:u:")
    calls = await h.press(
        who, unit_button, unit_data or next(d for _, d in unit_button.buttons if d.startswith("cr:u:"))
    )
    assert "flat number" in (calls[-1].text or "")
    calls = await h.text(who, label)
    calls = await h.press(who, with_data(calls, "cr:n:"), "cr:n:0")
    calls = await h.press(who, with_data(calls, "cr:f:"), "cr:f:7")
    assert "private note" in (calls[-1].text or "")
    calls = await h.text(who, NOTE)
    assert "is on the care list" in (calls[-1].text or "")
    return int(next(d for _, d in calls[-1].buttons if d.startswith("cr:v:")).split(":")[2])


def no_private_words_in_groups(h: Harness) -> None:
    for chat in (h.p.building_chat, h.p.staff_chat, h.p.street_chat):
        for text in h.texts(chat):
            assert "PRIVATE-NOTE" not in text and "Mrs Wang" not in text, (chat["title"], text)


async def test_a_household_is_entered_reminded_missed_up_the_chain_and_visited_with_points(h: Harness) -> None:
    await town(h)
    p = h.p
    household = await add_household(h, p.uhead)
    view = await h.press(p.uhead, with_data(h.rt.sent_to(p.uhead["id"]), "cr:v:"), f"cr:v:{household}")
    assert NOTE in (view[-1].text or "") and ": lives alone, every week" in (view[-1].text or "")
    # the building head sees it too; the head of another unit does not
    anchor = (await h.cmd(p.bhead, updates.private_chat(p.bhead), "care"))[-1]
    assert "(households: 1)" in (anchor.text or "")
    seen = await h.press(p.bhead, anchor, f"cr:v:{household}")
    assert NOTE in (seen[-1].text or "")
    other = (await h.cmd(ULLA, updates.private_chat(ULLA), "care"))[-1]
    refused = await h.press(ULLA, other, f"cr:v:{household}")
    assert any("not on a care list you can see" in s for s in said(refused))

    # a week later: the unit head is reminded (with the visit buttons)
    start = h.clock.now()
    h.clock.set(start + timedelta(days=7, minutes=5))
    calls = await h.sweep()
    due = [c for c in calls if c.chat_id == p.uhead["id"]]
    assert due and "is due" in (due[-1].text or "") and any(d == f"cr:w:{household}" for _, d in due[-1].buttons)
    assert not [c for c in await h.sweep() if c.method == "sendMessage"]
    # not recorded within a working day: the building head; another working day: the staff chat
    h.clock.set(start + timedelta(days=8, hours=1))
    calls = await h.sweep()
    assert any("has not been recorded" in (c.text or "") for c in calls if c.chat_id == p.bhead["id"])
    h.clock.set(start + timedelta(days=9, hours=2))
    calls = await h.sweep()
    staff = [c for c in calls if c.chat_id == p.staff_chat["id"]]
    assert staff and "unit 1" in (staff[-1].text or "")
    no_private_words_in_groups(h)

    # the visit: points once (a double tap is one visit), the next due date moves on
    visit = await h.press(p.uhead, due[-1], f"cr:w:{household}")
    again = await h.press(p.uhead, due[-1], f"cr:w:{household}")
    assert any("recorded" in (c.text or "") and "Points: 1" in (c.text or "") for c in visit)
    assert any("already recorded" in (c.text or "") for c in again)
    assert await scalar(h, "SELECT COUNT(*) FROM care_visits") == 1
    assert await scalar(h, "SELECT COUNT(*) FROM ledger WHERE reason = 'care.visit'") == 1
    assert await scalar(h, "SELECT balance FROM balances WHERE user_id = ?", (p.uhead["id"],)) == 1
    h.clock.set(start + timedelta(days=12))
    assert not [c for c in await h.sweep() if c.method == "sendMessage"]  # nothing more is due yet
    log = await h.press(p.uhead, due[-1], f"cr:v:{household}")
    assert "visited, all well (Uma)" in (log[-1].text or "")
    # the staff chat gets counts, never a label or a note; a head there is refused
    figures = await h.cmd(p.staff, p.staff_chat, "care")
    assert "households 1, visits overdue now 0" in (figures[-1].text or "") and "all well 1" in (figures[-1].text or "")
    refused = await h.cmd(p.uhead, p.staff_chat, "care")
    assert "staff" in (refused[-1].text or "").lower()
    no_private_words_in_groups(h)


async def test_not_at_home_and_needs_help_which_files_an_appeal(h: Harness) -> None:
    await town(h)
    p = h.p
    household = await add_household(h, p.uhead)
    anchor = (await h.cmd(p.uhead, updates.private_chat(p.uhead), "care"))[-1]
    away = await h.press(p.uhead, anchor, f"cr:a:{household}")
    assert any("not at home" in (c.text or "") for c in away)
    assert await scalar(h, "SELECT COUNT(*) FROM ledger WHERE reason = 'care.visit'") == 0
    h.clock.set(h.clock.now() + timedelta(days=1, minutes=5))
    calls = await h.sweep()
    assert any("is due" in (c.text or "") for c in calls if c.chat_id == p.uhead["id"])  # tried again next day
    help_calls = await h.press(p.uhead, anchor, f"cr:p:{household}")
    assert any("what help is needed" in (c.text or "") for c in help_calls)
    filed = await h.text(p.uhead, "The heating in flat 302 does not work")
    assert await scalar(h, "SELECT COUNT(*) FROM appeals WHERE body LIKE '%heating in flat 302%'") == 1
    assert any(c.chat_id == p.bhead["id"] for c in filed)  # routed from the building head up
    assert await scalar(h, "SELECT COUNT(*) FROM ledger WHERE reason = 'care.visit'") == 1


async def test_bad_input_a_unit_the_head_does_not_head_groups_and_strangers(h: Harness) -> None:
    await town(h)
    p = h.p
    units = await h.services.registry.units((await h.services.registry.chat_context(p.building_chat["id"])).building.id)
    unit2 = next(u.id for u in units if u.name == "2")
    anchor = (await h.cmd(p.uhead, updates.private_chat(p.uhead), "care"))[-1]
    refused = await h.press(p.uhead, anchor, f"cr:u:{unit2}")
    assert any("only to a unit you head" in s for s in said(refused))
    assert await scalar(h, "SELECT COUNT(*) FROM care_households") == 0
    stranger = await h.cmd(p.resident, updates.private_chat(p.resident), "care")
    assert "unit heads, building heads and staff" in (stranger[-1].text or "")
    in_group = await h.cmd(p.uhead, p.building_chat, "care")
    assert in_group[-1].buttons and "private" in (in_group[-1].text or "")
    household = await add_household(h, p.uhead)
    # pressed in a group (a forged button): refused, nothing said about the household there
    pressed = await h.send(
        updates.callback_query(
            p.uhead,
            h.rt.telegram.messages[max(k for k in h.rt.telegram.messages if k[0] == p.building_chat["id"])],
            f"cr:v:{household}",
        )
    )
    assert any("private chat" in s for s in said(pressed)) and not any("Mrs Wang" in s for s in said(pressed))
    # a label too long, a photo for a label
    calls = await h.cmd(p.uhead, updates.private_chat(p.uhead), "care")
    calls = await h.press(p.uhead, with_data(calls, "cr:new:"), "cr:new:0")
    await h.press(p.uhead, calls[-1], next(d for _, d in calls[-1].buttons if d.startswith("cr:u:")))
    long = await h.text(p.uhead, "x" * 80)
    assert any("at most 40 characters" in s for s in said(long))
    # staff may add to any unit of their community
    staff_household = await add_household(h, p.staff, f"cr:u:{unit2}", label="12 Mr Li")
    assert await scalar(h, "SELECT unit_id FROM care_households WHERE id = ?", (staff_household,)) == unit2
    no_private_words_in_groups(h)


async def test_a_door_knocking_round_asks_the_unit_heads_and_shows_progress(h: Harness) -> None:
    await town(h)
    p = h.p
    units = await h.services.registry.units((await h.services.registry.chat_context(p.building_chat["id"])).building.id)
    unit2 = next(u.id for u in units if u.name == "2")
    first = await add_household(h, p.uhead)
    second = await add_household(h, ULLA, f"cr:u:{unit2}", label="12 Mr Li")
    refused = await h.cmd(p.resident, p.building_chat, "knock")
    assert "building head" in (refused[-1].text or "") or "staff" in (refused[-1].text or "")
    started = await h.cmd(p.bhead, p.building_chat, "knock")
    assert any("Door-knocking round started" in (c.text or "") and "(households: 2)" in (c.text or "") for c in started)
    asked = {c.chat_id for c in started if "Door-knocking round in" in (c.text or "")}
    assert asked == {p.uhead["id"], ULLA["id"]}
    again = await h.cmd(p.staff, p.building_chat, "knock")
    assert "0 of 2" in (again[-1].text or "") and "Unit 1: 0 of 1" in (again[-1].text or "")
    anchor = with_data(h.rt.sent_to(p.uhead["id"]), "cr:v:")
    await h.press(p.uhead, anchor, f"cr:w:{first}")
    progress = await h.cmd(p.staff, p.building_chat, "knock")
    assert "1 of 2" in (progress[-1].text or "")
    done = await h.press(ULLA, with_data(h.rt.sent_to(ULLA["id"]), "cr:v:"), f"cr:w:{second}")
    assert any("round complete" in (c.text or "") for c in done if c.chat_id == p.building_chat["id"])
    assert await scalar(h, "SELECT state FROM knock_rounds") == "closed"
    no_private_words_in_groups(h)


async def test_a_restart_in_the_middle_of_entering_a_household(h: Harness, tmp_path: Path) -> None:
    await town(h)
    p = h.p
    calls = await h.cmd(p.uhead, updates.private_chat(p.uhead), "care")
    calls = await h.press(p.uhead, with_data(calls, "cr:new:"), "cr:new:0")
    calls = await h.press(p.uhead, calls[-1], next(d for _, d in calls[-1].buttons if d.startswith("cr:u:")))
    calls = await h.text(p.uhead, "5 Granny Zhou")
    need = with_data(calls, "cr:n:")
    h2, app2 = await make_harness(tmp_path, h.clock.now())
    async with app2:
        await open_storage(app2)
        try:
            h2.p = h.p
            calls = await h2.press(p.uhead, need, "cr:n:3")
            calls = await h2.press(p.uhead, with_data(calls, "cr:f:"), "cr:f:14")
            calls = await h2.press(p.uhead, with_data(calls, "cr:k:"), "cr:k:0")
            done = calls[-1].text or ""
            assert "is on the care list" in done and ": ill, every two weeks." in done
            double = await h2.press(p.uhead, need, "cr:n:3")  # an old button pressed again
            assert any("Start again" in s for s in said(double))
            assert await scalar(h2, "SELECT COUNT(*) FROM care_households WHERE state = 'active'") == 1
            # both processes sweep the due visit: one reminder
            h.clock.set(local(2026, 12, 7, 10, 30))
            h2.clock.set(local(2026, 12, 7, 10, 30))
            sent = [c for c in (await h2.sweep()) + (await h.sweep()) if c.chat_id == p.uhead["id"]]
            assert len([c for c in sent if "is due" in (c.text or "")]) == 1
        finally:
            await app2.bot_data.outbox().wait_idle()
            await h2.services.db.close()
