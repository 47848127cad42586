"""End-to-end: notices and tasks (issue 12) through the real ``python -m bot`` process against the
fake Bot API HTTP server. The clock file starts on Monday 2026-11-23 10:00 (Shanghai); the sweep runs
every 0.3 s and the status job every 5 s."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e_support import E2E, holds
from tests.harness import local


@pytest.mark.e2e
def test_a_task_and_an_urgent_notice_through_the_real_process(e2e: E2E) -> None:
    chat, p, clock = e2e.chat, e2e.chat.p, e2e.clock
    bot = e2e.spawn("bot-a").start()
    chat.setup_community()

    # a task to every unit head; the picker becomes the live status message
    picker = chat.cmd(
        p.staff, p.staff_chat, "task", "2026-11-27 Check the fire doors", expect="Who should get this task"
    )
    nid = int(picker.buttons[0][1].split(":")[2])
    status = int(chat.message_of(picker)["message_id"])
    since = chat.press(p.staff, picker, f"nt:s:{nid}:h")
    chat.wait_edit(p.staff_chat, status, "sent to 1", since)
    task = chat.wait_text(p.uhead, f"Task #{nid}", since)
    assert "Check the fire doors" in (task.text or "") and "due Fri 27 Nov, 18:00" in (task.text or "")
    answer = chat.press_answer(p.uhead, task, f"nt:r:{nid}")
    assert "marked as done" in str(answer.params.get("text"))
    chat.wait_edit(p.staff_chat, status, "Done ✓: 1")  # the status job edits the counts

    # a restart; then an urgent notice at night goes out at once, re-pings and escalates
    assert bot.stop() == 0
    e2e.spawn("bot-b").start()
    clock.set(local(2026, 11, 23, 23, 0))
    picker = chat.cmd(p.staff, p.staff_chat, "urgent", "Flood in the basement", expect="Who should get this urgent")
    uid = int(picker.buttons[0][1].split(":")[2])
    since = chat.press(p.staff, picker, f"nt:s:{uid}:h")
    urgent = chat.wait_text(p.uhead, f"URGENT #{uid}", since)
    since = len(e2e.server.calls)
    clock.set(local(2026, 11, 23, 23, 0) + timedelta(minutes=16))
    chat.wait_text(p.uhead, "Still waiting for your confirmation", since)
    since = len(e2e.server.calls)
    clock.set(local(2026, 11, 23, 23, 0) + timedelta(minutes=61))
    escalated = chat.wait_text(p.bhead, "not confirmed after an hour", since)
    assert "Uma" in (escalated.text or "")
    chat.wait_text(p.staff, "Building heads told: 1", since)
    chat.wait_text(p.uhead, "Still waiting for your confirmation", since)  # the re-ping due at 31 min
    answer = chat.press_answer(p.uhead, urgent, f"nt:r:{uid}")
    assert "marked as read" in str(answer.params.get("text"))
    since = len(e2e.server.calls)
    clock.set(local(2026, 11, 23, 23, 0) + timedelta(minutes=80))  # confirmed: no more re-pings
    holds(lambda: not chat.sent(p.uhead, "Still waiting", since), 2.0, "no re-ping once confirmed")
    e2e.finish()
