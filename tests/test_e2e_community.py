"""End-to-end (issue 12): micro-wishes and the care list through the real ``python -m bot`` process
against the fake Bot API HTTP server, each with a restart in the middle of its flow (the first
process is stopped with SIGTERM, a second one carries on with the same database). Time comes from
the clock file; every wait is bounded. The in-process versions are tests/test_wishes.py and
tests/test_care.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import E2E_START
from tests.e2e_support import E2E, Chat
from tests.support import updates

VERA = updates.user(3001, "Vera", "vera_v")


def private(who: dict[str, Any]) -> dict[str, Any]:
    return updates.private_chat(who)


def join(chat: Chat, person: dict[str, Any], unit: str) -> None:
    picker = chat.cmd(person, chat.p.building_chat, "myunit", expect="which unit do you live in")
    data = next(d for label, d in picker.buttons if label == unit)
    chat.press_answer(person, picker, data)


def test_a_micro_wish_through_the_process_with_a_restart_before_it_is_posted(e2e: E2E) -> None:
    chat, p = e2e.chat, e2e.chat.p
    first = e2e.spawn("bot-1").start()
    chat.setup_community()
    for person in (p.resident, VERA):
        chat.cmd(person, private(person), "start", expect="Hello")
    join(chat, p.resident, "1")
    join(chat, VERA, "2")
    rita = private(p.resident)
    chat.cmd(p.resident, rita, "wish", expect="What would you like help with")
    when = chat.say(p.resident, "Please help me carry a bag of rice upstairs", expect="By when?")
    since = chat.press(p.resident, when, "wi:t:7")
    name = chat.wait_text(rita, "Show your name", since)
    assert first.stop() == 0, first.logs()

    e2e.spawn("bot-2").start()  # the draft is in the database: the last button still works
    since = chat.press(p.resident, name, "wi:n:0")
    post = chat.wait_text(p.building_chat, "Micro-wish #1", since)
    assert "bag of rice" in (post.text or "") and "Rita" not in (post.text or "")
    chat.wait_text(rita, "Your wish #1 is posted", since)
    since = chat.press(VERA, post, "wi:h:1")
    helper = chat.wait_text(VERA, "Thank you for helping with wish #1", since)
    claimed = chat.wait_text(rita, "Vera offered to help", since)
    since = chat.press(p.resident, claimed, "wi:w:1")
    chat.wait_text(rita, "Write your message about wish #1", since)
    relayed = chat.say(p.resident, "Come at five, flat 302", expect="Come at five, flat 302", expect_in=private(VERA))
    assert "resident of wish #1" in (relayed.text or "")
    since = chat.press(VERA, helper, "wi:d:1")
    ask = chat.wait_text(rita, "Your helper says wish #1 is fulfilled", since)
    since = chat.press(p.resident, ask, "wi:ok:1")
    chat.wait_text(VERA, "Points earned: 5", since)
    chat.wait_text(p.building_chat, "Micro-wish #1 is fulfilled", since)
    assert len(chat.sent(VERA, "Thank you for helping with wish #1")) == 1
    e2e.finish()


def test_the_care_list_through_the_process_with_a_restart_before_the_visit_is_due(e2e: E2E) -> None:
    chat, p, clock = e2e.chat, e2e.chat.p, e2e.clock
    first = e2e.spawn("bot-1").start()
    chat.setup_community()
    uma = private(p.uhead)
    empty = chat.cmd(p.uhead, uma, "care", expect="The care list is empty")
    since = chat.press(p.uhead, empty, "cr:new:0")
    units = chat.wait_text(uma, "Which unit is the household in?", since)
    since = chat.press(p.uhead, units, "cr:u:1")
    chat.wait_text(uma, "Type the flat number", since)
    needs = chat.say(p.uhead, "302 Mrs Wang", expect="Why does the household need care?")
    since = chat.press(p.uhead, needs, "cr:n:0")
    every = chat.wait_text(uma, "How often", since)
    since = chat.press(p.uhead, every, "cr:f:7")
    chat.wait_text(uma, "A short private note", since)
    chat.say(p.uhead, "PRIVATE-NOTE key with neighbour", expect="is on the care list")
    assert first.stop() == 0, first.logs()

    e2e.spawn("bot-2").start()
    since = len(e2e.server.calls)
    clock.set(E2E_START + timedelta(days=7, minutes=5))  # the weekly visit is due
    due = chat.wait_text(uma, "A visit to 302 Mrs Wang", since)
    since = chat.press(p.uhead, due, "cr:w:1")
    chat.wait_text(uma, "Visit to 302 Mrs Wang recorded", since)
    started = chat.cmd(p.bhead, p.building_chat, "knock", expect="Door-knocking round started")
    assert "1 households" in (started.text or "")
    chat.wait_text(uma, "Door-knocking round in Building 7")
    for group in (p.building_chat, p.staff_chat):
        assert not chat.sent(group, "PRIVATE-NOTE") and not chat.sent(group, "Mrs Wang")
    e2e.finish()
