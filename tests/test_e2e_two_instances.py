"""Two ``python -m bot`` processes in webhook mode on one PostgreSQL database (issue 10), the fake Bot
API delivering updates to both in turn like a reverse proxy: 1,000 reminders fall due at once and
both processes sweep and send them concurrently; one is killed with SIGKILL mid-way and the other
finishes the work.

Checked in the database: every deadline fired exactly once (1,000 ``reminded`` events, one outbox
message each, all sent) and at Telegram: every appeal's reminder arrived (0 missed), and none twice
except those the killed process had handed to Telegram without living to record it (at-least-once
sending: a crash between Telegram's answer and the commit repeats that message; they are counted)."""

from __future__ import annotations

import re
import secrets
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest

from bot.web.server import free_ports
from tests.e2e_support import E2E, wait_until
from tests.harness import local
from tests.support import updates
from tests.support.engines import run_sql
from tests.test_e2e_webhook import file_as, webhook_env

pytestmark = pytest.mark.parametrize("engine", ["postgres"], indirect=True)

E2E_START = local(2026, 11, 23, 10, 0)  # the e2e fixture's clock (tests/conftest.py)
REMINDERS = 1000
HEADS = 100  # reminders go to the heads' private chats: Telegram's ~1/s per chat spreads them out
FIRST_HEAD = 7_000_000
DUE = int((E2E_START + timedelta(minutes=1)).timestamp())  # when the 1,000 reminders fall due
REMINDER = re.compile(r"Reminder: appeal #(\d+)")


def clone_appeals(database: str, count: int) -> None:
    """``count`` more open appeals like #1, each with one of ``HEADS`` unit heads, and one REMIND
    deadline per appeal (also #1's), due one minute after the start."""
    columns = [
        r[0]
        for r in run_sql(
            database,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = 'appeals' AND column_name NOT IN ('id', 'assignee_user_id') ORDER BY ordinal_position",
        )
    ]
    names = ", ".join(columns)
    picked = ", ".join(f"a.{c}" for c in columns)
    run_sql(
        database,
        f"INSERT INTO appeals ({names}, assignee_user_id) SELECT {picked}, ? + g % ? FROM appeals a,"
        " generate_series(1, ?) g WHERE a.id = 1",
        (FIRST_HEAD, HEADS, count),
    )
    due = DUE
    run_sql(
        database,
        "INSERT INTO deadlines (appeal_id, kind, stage, due_at) SELECT id, 'remind', stage, ? FROM appeals",
        (due,),
    )


def reminders_sent(e2e: E2E) -> Counter[int]:
    found: Counter[int] = Counter()
    for call in e2e.server.calls_of("sendMessage"):
        match = REMINDER.search(call.text or "")
        if match:
            found[int(match.group(1))] += 1
    return found


@pytest.mark.e2e
def test_two_instances_share_a_thousand_due_reminders_and_one_survives_a_kill(e2e: E2E) -> None:
    chat = e2e.chat
    database = str(e2e.database)
    public, port_a, port_b = free_ports(3)
    secret = secrets.token_hex(32)
    a = e2e.spawn("twin-a", **webhook_env(public, port_a, secret)).start()
    b = e2e.spawn("twin-b", **webhook_env(public, port_b, secret)).start()
    e2e.server.webhook_backends = [a.http_url, b.http_url]  # the reverse proxy: each update to the next
    chat.setup_community()
    resident = updates.user(4100, "Res", "res_x")
    assert file_as(e2e, resident, "the lift is broken") == 1
    clone_appeals(database, REMINDERS - 1)
    mine = "FROM deadlines WHERE kind = 'remind' AND due_at = ?"  # (#1 has its own reminder, later)
    assert run_sql(database, f"SELECT COUNT(*) {mine} AND done_at IS NULL", (DUE,)) == [(REMINDERS,)]

    e2e.clock.set(E2E_START + timedelta(minutes=2))  # all 1,000 are due now, for both processes
    wait_until(lambda: sum(reminders_sent(e2e).values()) >= 150, "the first reminders go out", timeout=120)
    assert b.proc is not None
    b.proc.send_signal(signal.SIGKILL)  # mid-way: claims and sends of B are cut off
    b.proc.wait(10)
    e2e.procs.remove(b)
    e2e.chat.procs.remove(b)
    killed_at = sum(reminders_sent(e2e).values())
    # what B had claimed is leased to it for a minute: time moves on, A takes it over
    e2e.clock.set(E2E_START + timedelta(minutes=4))

    unsent = "SELECT COUNT(*) FROM outbox WHERE template = 'appeal.reminder' AND sent_at IS NULL"

    def all_arrived() -> bool:  # at Telegram, and recorded as sent (a re-sent one is marked a moment later)
        return len(reminders_sent(e2e)) == REMINDERS and run_sql(database, unsent) == [(0,)]

    began = time.monotonic()
    wait_until(all_arrived, "every reminder reaches its head", timeout=240)
    finishing = time.monotonic() - began

    fired = run_sql(database, f"SELECT outcome, COUNT(*) {mine} GROUP BY outcome", (DUE,))
    assert fired == [("reminded", REMINDERS)], fired  # each deadline fired once, none left, none 'error'
    events = run_sql(database, "SELECT COUNT(*), COUNT(DISTINCT appeal_id) FROM appeal_events WHERE kind = 'reminded'")
    assert events == [(REMINDERS, REMINDERS)]
    outbox = run_sql(
        database, "SELECT COUNT(*), COUNT(sent_at), COUNT(failed_at) FROM outbox WHERE template = 'appeal.reminder'"
    )
    assert outbox == [(REMINDERS, REMINDERS, 0)], outbox  # one message per deadline, all sent
    sent = reminders_sent(e2e)
    assert set(sent) == set(range(1, REMINDERS + 1))  # 0 missed
    repeated = {n: k for n, k in sent.items() if k > 1}
    # at-least-once: only a message Telegram took from B just before the kill, whose 'sent' B never
    # committed, goes out again (B sends at most a few at a time)
    assert len(repeated) <= 10 and all(k == 2 for k in repeated.values()), repeated
    print(
        f"\n{REMINDERS} reminders, {killed_at} sent before the kill, the rest by the survivor in "
        f"{finishing:.1f}s; repeated at Telegram by the kill: {len(repeated)}"
    )
    a.assert_alive()
    e2e.finish()
