"""Start-up checks of ``python -m bot`` (the real process against the fake Bot API): every reason
not to start is one clear line and exit status 2, never a traceback, never the token; a second
poller (409 Conflict) is said clearly and waited out; SIGTERM under load is quiet and loses nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import E2E_START
from tests.e2e_support import E2E, TOKEN, BotProcess, log_records, wait_until
from tests.support import updates


def run_bot(e2e: E2E, **env: str) -> subprocess.CompletedProcess[str]:
    full = BotProcess(e2e.server, e2e.tmp, e2e.database, e2e.clock, "startup").env()
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=e2e.tmp,
        env=full,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    assert TOKEN not in output and TOKEN.split(":", 1)[1] not in output, output
    line = [ln for ln in result.stderr.splitlines() if ln.startswith("unitbot:")]
    assert line, output
    for word in expected:
        assert word in result.stderr, output


def test_a_token_telegram_rejects_is_a_configuration_error_without_the_token(e2e: E2E) -> None:
    e2e.server.fail_next("getMe", status=401, description="Unauthorized", times=None)
    result = run_bot(e2e)
    assert_refused(result, "UNITBOT_TOKEN", "rejected")


@pytest.mark.parametrize("url", ["not a url", "ftp://example.org/bot", "http://127.0.0.1:notaport/bot"])
def test_a_malformed_api_base_url_is_a_configuration_error(e2e: E2E, url: str) -> None:
    assert_refused(run_bot(e2e, UNITBOT_API_BASE_URL=url), "UNITBOT_API_BASE_URL")


def test_an_unreachable_api_base_url_is_one_line_and_exit_2(e2e: E2E) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert_refused(run_bot(e2e, UNITBOT_API_BASE_URL=f"http://127.0.0.1:{port}/bot"), "cannot be reached")


def test_an_unknown_log_level_is_a_configuration_error(e2e: E2E) -> None:
    assert_refused(run_bot(e2e, UNITBOT_LOG_LEVEL="LOUD"), "UNITBOT_LOG_LEVEL")


def test_working_hours_that_end_before_they_start_are_refused(e2e: E2E) -> None:
    assert_refused(run_bot(e2e, UNITBOT_WORK_START="18:00", UNITBOT_WORK_END="09:00"), "UNITBOT_WORK_END")


@pytest.mark.sqlite_only  # a SQLite path in a directory that is not one
def test_a_database_that_cannot_be_opened_for_writing_is_refused(e2e: E2E, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    assert_refused(run_bot(e2e, UNITBOT_DATABASE=str(blocker / "bot.sqlite3")), "UNITBOT_DATABASE")
    assert not e2e.server.calls  # refused before talking to Telegram


def _read_only_mount(path: Path) -> bool:
    """A read-only filesystem at ``path`` (root only); False where that is not possible."""
    if os.geteuid() != 0:
        return False
    path.mkdir()
    return (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)], capture_output=True).returncode
        == 0
    )


@pytest.mark.sqlite_only  # a read-only SQLite file
def test_a_read_only_database_is_refused_at_start(e2e: E2E, tmp_path: Path) -> None:
    # a first run creates the database; then it becomes read-only
    proc = e2e.spawn("first").start()
    assert proc.stop() == 0
    assert isinstance(e2e.database, Path)  # a SQLite file (sqlite_only)
    if os.geteuid() != 0:
        e2e.database.chmod(0o444)
        database = e2e.database
    else:  # root writes through file modes: a read-only filesystem instead
        mount = tmp_path / "ro"
        if not _read_only_mount(mount):
            pytest.skip("no read-only file for root here (cannot mount)")
        try:
            (mount / "bot.sqlite3").write_bytes(e2e.database.read_bytes())
            subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
            database = mount / "bot.sqlite3"
            calls = len(e2e.server.calls_of("setMyCommands"))
            assert_refused(run_bot(e2e, UNITBOT_DATABASE=str(database)), "UNITBOT_DATABASE", "writing")
            assert len(e2e.server.calls_of("setMyCommands")) == calls  # refused before Telegram
        finally:
            subprocess.run(["umount", str(mount)], capture_output=True)
        return
    assert_refused(run_bot(e2e, UNITBOT_DATABASE=str(database)), "UNITBOT_DATABASE", "writing")


def test_a_second_poller_409_is_said_clearly_waited_out_and_nothing_is_lost(e2e: E2E) -> None:
    bot = e2e.spawn("bot").start()
    e2e.server.fail_next(
        "getUpdates",
        status=409,
        description="Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        times=3,
    )
    me = e2e.chat.p.resident
    since = e2e.chat.push(updates.command(me, updates.private_chat(me), "start"))
    e2e.chat.wait_text(me, "Hello", since, timeout=20)
    bot.assert_alive()
    logs = bot.logs()
    conflict = [r for r in log_records(logs) if "409 Conflict" in r]
    assert len(conflict) == 1 and "another process" in conflict[0], logs  # said once, clearly
    e2e.finish(rejected=3)


def test_sigterm_under_load_is_quiet_and_loses_nothing(e2e: E2E) -> None:
    """Filings, presses and due deadlines (sweeps escalating) at once; SIGTERM while updates are
    being handled: exit 0, no traceback or error in the log; the next process answers the rest."""
    chat, p = e2e.chat, e2e.chat.p
    bot = e2e.spawn("bot").start()
    chat.setup_community()
    chat.cmd(p.staff, p.staff_chat, "sla", "first_reply_hours 1", expect="Deadlines and limits")
    people = [updates.user(5000 + i, f"P{i}", f"p{i}") for i in range(12)]
    for i, person in enumerate(people):
        own = updates.private_chat(person)
        e2e.server.push_update(updates.command(person, own, "start", "ap_1"))
        for data in ("f:u:1:1", "f:c:problem"):
            e2e.server.push_update(updates.callback_query(person, updates.message_dict(updates.bot_user(), own), data))
        e2e.server.push_update(updates.message(person, own, f"Problem number {i}: the door does not close"))
    wait_until(lambda: len(chat.sent(p.uhead, "New appeal")) >= 3, "some appeals filed")
    # first replies overdue, past the head's fair share of working time after the card: the sweeps escalate
    e2e.clock.set(E2E_START + timedelta(hours=7))
    for person in people:
        e2e.server.push_update(updates.command(person, updates.private_chat(person), "start"))
    wait_until(lambda: bool(chat.sent(p.bhead, "was passed to you")), "an escalation under way")
    assert bot.stop() == 0
    records = log_records(bot.logs())
    assert not [r for r in records if "Traceback" in r or " ERROR " in r.split("\n", 1)[0]], bot.logs()
    e2e.spawn("again").start()
    wait_until(
        lambda: all(chat.sent(person, "received") and chat.sent(person, "Hello") for person in people),
        "every filing receipted and every /start answered after the restart",
        timeout=30,
    )
    # the cards the restart sent late give their head a fair share of working time: the next day
    e2e.clock.set(E2E_START + timedelta(days=3, hours=7))  # Thursday 17:00: past every first-reply time
    wait_until(
        lambda: len(chat.sent(p.bhead, "was passed to you")) >= len(people),
        "every appeal escalated",
        timeout=40,  # one private chat gets about a message a second (the pacer)
    )
    e2e.finish()
