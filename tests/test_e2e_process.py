"""End-to-end: the real ``python -m bot`` process against the fake Bot API HTTP server on 127.0.0.1.

Time comes from a clock file (``UNITBOT_CLOCK_FILE``) that the test moves; the sweep runs every
0.3 s. Every wait is bounded (``server.wait_for``); nothing sleeps for a fixed time.
The community starts on Monday 2026-11-23 10:00 in Shanghai (working hours 09:00-18:00): a problem
filed then is due Thursday 10:00 (3 working days), with a reminder 2 working hours before
(Wednesday 17:00); the building head then has 1 working day.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ClockFileError, FileClock
from bot.config import Settings
from tests.e2e_support import E2E, REPO_ROOT, SWEEP_INTERVAL, TOKEN, BotProcess, holds
from tests.harness import local
from tests.support import assert_calls_valid, updates

START = local(2026, 11, 23, 10, 0)  # Monday
REMINDER_DUE = local(2026, 11, 25, 17, 0)  # Wednesday: 2 working hours before the deadline
UNIT_DEADLINE = local(2026, 11, 26, 10, 0)  # Thursday: 3 working days after filing


# --- the clock file ----------------------------------------------------------------------------------
def test_file_clock_reads_and_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "now"
    FileClock.write(path, local(2026, 11, 23, 10, 0))
    clock = FileClock(path)
    assert clock.now() == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    FileClock.write(path, local(2026, 11, 23, 10, 0) + timedelta(minutes=5))
    assert clock.now() == datetime(2026, 11, 23, 2, 5, tzinfo=UTC)
    # same length, same second: the replaced file is still noticed
    FileClock.write(path, local(2026, 11, 23, 10, 0) + timedelta(minutes=6))
    assert clock.now() == datetime(2026, 11, 23, 2, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot be read"), ("tomorrow", "ISO-8601"), ("2026-11-23T10:00:00", "no UTC offset")],
)
def test_file_clock_refuses_a_missing_or_bad_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "now"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ClockFileError, match=message):
        FileClock(path).now()
    with pytest.raises(ValueError, match=message):
        Settings(token=TOKEN, clock_file=path, _env_file=None)


def test_settings_select_the_file_clock(tmp_path: Path) -> None:
    from bot.app import clock_from_settings
    from bot.clock import SystemClock

    path = tmp_path / "now"
    FileClock.write(path, START)
    settings = Settings(token=TOKEN, clock_file=path, _env_file=None)
    clock = clock_from_settings(settings)
    assert isinstance(clock, FileClock) and clock.now() == START
    assert isinstance(clock_from_settings(Settings(token=TOKEN, _env_file=None)), SystemClock)


# --- the whole life of an appeal ---------------------------------------------------------------------
@pytest.mark.e2e
def test_whole_appeal_through_the_real_process(e2e: E2E) -> None:
    chat, p, clock = e2e.chat, e2e.chat.p, e2e.clock
    bot = e2e.spawn("bot-a").start()
    chat.setup_community()

    receipt, assigned = chat.file_appeal("The lift is broken")
    assert "Appeal #1 received" in (receipt.text or "")
    assert "To be solved by Thu 26 Nov, 10:00." in (receipt.text or "")
    assert "The lift is broken" in (assigned.text or "")
    # the unit head takes it (otherwise the first-reply deadline, 24 h, would pass it up on Tuesday)
    since = chat.press(p.uhead, assigned, "a:take:1")
    chat.wait_text(p.uhead, "Appeal #1 is yours", since)
    chat.wait_text(p.resident, "has been taken up", since)

    # Wednesday 17:01: the reminder, and nothing else
    since = len(e2e.server.calls)
    clock.set(REMINDER_DUE + timedelta(minutes=1))
    reminder = chat.wait_text(p.uhead, "Reminder: appeal #1", since)
    assert "due Thu 26 Nov, 10:00" in (reminder.text or "")
    assert e2e.escalations_to(p.bhead) == 0

    # Thursday 10:01: past the deadline -> the building head (due Friday 10:01)
    since = len(e2e.server.calls)
    clock.set(UNIT_DEADLINE + timedelta(minutes=1))
    to_bhead = chat.wait_text(p.bhead, "Appeal #1 was passed to you (building head)", since)
    assert "the deadline passed" in (to_bhead.text or "")
    assert "New deadline: Fri 27 Nov, 10:01" in (to_bhead.text or "")
    chat.wait_text(p.uhead, "Appeal #1 was passed to the building head", since)
    chat.wait_text(p.resident, "was passed to the building head", since)

    # Friday 10:05: past the building head's working day -> the staff chat, with action buttons
    since = len(e2e.server.calls)
    clock.set(local(2026, 11, 27, 10, 5))
    to_staff = chat.wait_text(p.staff_chat, "Appeal #1 was passed to you (community staff)", since)
    assert {"a:take:1", "a:reply:1", "a:ask:1", "a:res:1", "a:esc:1"} <= {d for _, d in to_staff.buttons}
    chat.wait_text(p.bhead, "Appeal #1 was passed to the community staff", since)
    chat.wait_text(p.resident, "was passed to the community staff", since)

    # a staff member takes it in the staff chat ...
    since = chat.press(p.staff, to_staff, "a:take:1")
    chat.wait_text(p.staff_chat, "Olga took appeal #1", since)
    chat.wait(lambda c: c.chat_id == p.resident["id"] and "has been taken up" in (c.text or ""), since)
    # ... and presses Reply: in a group that opens the private chat through a deep link
    since = chat.press(p.staff, to_staff, "a:reply:1")
    answer = chat.wait(lambda c: c.method == "answerCallbackQuery" and "url" in c.params, since)
    assert str(answer.params["url"]).endswith("?start=act_reply_1")
    staff_private = updates.private_chat(p.staff)
    chat.cmd(p.staff, staff_private, "start", "act_reply_1", expect="Write your reply to the resident of appeal #1")
    since = chat.push(updates.message(p.staff, staff_private, "The lift company comes on Monday."))
    chat.wait_text(staff_private, "Your reply on appeal #1 was sent", since)
    reply = chat.wait_text(p.resident, "Reply on your appeal #1 from the community staff", since)
    assert "The lift company comes on Monday." in (reply.text or "")

    # resolve with a note
    chat.cmd(p.staff, staff_private, "start", "act_resolve_1", expect="how appeal #1 was resolved")
    since = chat.push(updates.message(p.staff, staff_private, "The lift was repaired."))
    chat.wait_text(staff_private, "Appeal #1 is marked resolved", since)
    resolved = chat.wait_text(p.resident, "Your appeal #1 is marked resolved", since)
    assert "The lift was repaired." in (resolved.text or "")
    assert [d for _, d in resolved.buttons] == ["a:ok:1", "a:re:1"]

    # the resident confirms and rates; the assignee hears about it
    since = chat.press(p.resident, resolved, "a:ok:1")
    closed = chat.wait_text(p.resident, "Appeal #1 is closed", since)
    assert [d for _, d in closed.buttons] == ["a:rate:1:5", "a:rate:1:3", "a:rate:1:1"]
    since = chat.press(p.resident, closed, "a:rate:1:5")
    chat.wait_text(p.resident, "Thank you! You said: satisfied.", since)
    chat.wait_text(staff_private, "Appeal #1 was rated 5 of 5", since)

    assert chat.sent(p.resident, "was passed to the community staff") and len(e2e.server.rejected) == 0
    assert_calls_valid(e2e.server.calls)
    assert bot.stop() == 0
    logs = bot.logs()
    assert TOKEN in e2e.server.tokens  # it really talked to the fake with this token ...
    assert TOKEN not in logs and TOKEN.split(":", 1)[1] not in logs  # ... and never printed it
    assert "Traceback" not in logs, logs


# --- a restart while a deadline passes ---------------------------------------------------------------
@pytest.mark.e2e
def test_deadline_passing_while_down_escalates_once_after_restart(e2e: E2E) -> None:
    chat, p = e2e.chat, e2e.chat.p
    first = e2e.spawn("bot-1").start()
    chat.setup_community()
    chat.file_appeal()
    since = chat.press(p.uhead, chat.wait_text(p.uhead, "New appeal #1"), "a:take:1")
    chat.wait_text(p.uhead, "is yours", since)
    assert first.stop() == 0, first.logs()
    # what the last update queued was still sent on the way out (SIGTERM came right after the answer)
    assert len(chat.sent(p.resident, "has been taken up")) == 1, first.logs()

    e2e.clock.set(UNIT_DEADLINE + timedelta(hours=1))  # while nobody runs
    before = len(e2e.server.calls)
    second = e2e.spawn("bot-2").start()
    chat.wait_text(p.bhead, "Appeal #1 was passed to you", before)
    chat.wait_text(p.resident, "was passed to the building head", before)
    _escalated_once_for_a_while(e2e, [second])
    assert second.stop() == 0, second.logs()
    assert "Traceback" not in first.logs() + second.logs()


# --- two processes on one database --------------------------------------------------------------------
@pytest.mark.e2e
def test_two_processes_on_one_database_escalate_once(e2e: E2E) -> None:
    chat, p = e2e.chat, e2e.chat.p
    first = e2e.spawn("bot-1").start()
    chat.setup_community()
    chat.file_appeal()
    since = chat.press(p.uhead, chat.wait_text(p.uhead, "New appeal #1"), "a:take:1")
    chat.wait_text(p.uhead, "is yours", since)
    assert first.stop() == 0, first.logs()
    # what the last update queued was still sent on the way out (SIGTERM came right after the answer)
    assert len(chat.sent(p.resident, "has been taken up")) == 1, first.logs()

    # both poll the same fake account; no updates are pushed from here on (the fake does not model
    # Telegram's getUpdates conflict), only the deadline sweep and the outbox share the database
    before = len(e2e.server.calls)
    twins = [e2e.spawn("bot-2").start(wait_ready=False), e2e.spawn("bot-3").start(wait_ready=False)]
    for twin in twins:
        twin.wait_ready(before)
    e2e.clock.set(UNIT_DEADLINE + timedelta(minutes=1))
    chat.wait_text(p.bhead, "Appeal #1 was passed to you", before)
    chat.wait_text(p.resident, "was passed to the building head", before)
    _escalated_once_for_a_while(e2e, twins)
    for twin in twins:
        assert twin.stop() == 0, twin.logs()
        assert "Traceback" not in twin.logs(), twin.logs()


def _escalated_once_for_a_while(e2e: E2E, procs: list[BotProcess]) -> None:
    """Exactly one escalation, and still exactly one after five more sweep intervals (0.3 s each) of
    every running process."""
    p = e2e.chat.p
    # the three notices of one escalation leave the outbox one after another: all of them first
    e2e.chat.wait_text(p.uhead, "Appeal #1 was passed to the building head")

    def once() -> bool:
        return (
            e2e.escalations_to(p.bhead) == 1
            and len(e2e.chat.sent(p.uhead, "Appeal #1 was passed to the building head")) == 1
            and len(e2e.chat.sent(p.resident, "was passed to")) == 1
            and len(e2e.chat.sent(p.resident, "was passed to the building head")) == 1
            and not e2e.chat.sent(p.staff_chat, "Appeal #1")
        )

    holds(once, SWEEP_INTERVAL * 5, "exactly one escalation to the building head")
    for proc in procs:
        proc.assert_alive()


# --- bad configuration -------------------------------------------------------------------------------
def _run_bot(tmp_path: Path, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNITBOT_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.e2e
def test_missing_token_is_a_clear_configuration_error(tmp_path: Path) -> None:
    result = _run_bot(tmp_path, UNITBOT_DATABASE=str(tmp_path / "db.sqlite3"))
    assert result.returncode == 2
    assert "UNITBOT_TOKEN" in result.stderr and "required" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.e2e
def test_malformed_token_is_refused_without_echoing_it(tmp_path: Path) -> None:
    bad = "12345:short-Secret-Value"
    result = _run_bot(tmp_path, UNITBOT_TOKEN=bad, UNITBOT_DATABASE=str(tmp_path / "db.sqlite3"))
    assert result.returncode == 2
    assert "UNITBOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "short-Secret-Value" not in result.stderr + result.stdout
    assert not (tmp_path / "db.sqlite3").exists()


@pytest.mark.e2e
def test_bad_clock_file_is_a_clear_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "clock.txt").write_text("next tuesday")
    result = _run_bot(tmp_path, UNITBOT_TOKEN=TOKEN, UNITBOT_CLOCK_FILE=str(tmp_path / "clock.txt"))
    assert result.returncode == 2
    assert "UNITBOT_CLOCK_FILE" in result.stderr and "ISO-8601" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert TOKEN not in result.stderr + result.stdout
