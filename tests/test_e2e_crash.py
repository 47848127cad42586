"""kill -9 at random points, 20 times, through the real process (``python -m bot`` against the fake
Bot API, which keeps an update until a later getUpdates offset confirms it, as Telegram does),
under a load of filings, button presses and deadlines falling due (the clock file moves). Then:
no update, appeal, receipt or escalation lost, and at most one duplicate message per crash.
Seeded (the load and the kill points); bounded (about 30-50 s here)."""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from tests.conftest import E2E_START
from tests.e2e_support import E2E, BotProcess, wait_until
from tests.support import updates
from tests.support.engines import run_sql

SEED = 20261123
CRASHES = 20
RESIDENTS = 30
RECEIPT = re.compile(r"Appeal #(\d+) received")
CARD = re.compile(r"New appeal #(\d+)")
PASSED = re.compile(r"Appeal #(\d+) was passed to you")


class Load:
    """What the test sent, to compare with what the bot did."""

    def __init__(self, e2e: E2E, rng: random.Random) -> None:
        self.e2e = e2e
        self.rng = rng
        self.residents = [updates.user(7000 + i, f"Res{i}", f"res{i}") for i in range(RESIDENTS)]
        self.pushed: list[int] = []  # update ids
        self.filings: dict[str, int] = {}  # description -> resident id
        self.starts: Counter[int] = Counter()  # /start without payload per person
        self.callbacks: list[str] = []  # callback query ids

    def push(self, raw: dict[str, Any]) -> None:
        self.pushed.append(raw["update_id"])
        if "callback_query" in raw:
            self.callbacks.append(raw["callback_query"]["id"])
        self.e2e.server.push_update(raw)

    def press(self, who: dict[str, Any], data: str) -> None:
        chat = updates.private_chat(who)
        card = updates.message_dict(updates.bot_user(), chat, text="…")
        self.push(updates.callback_query(who, card, data))

    def file(self) -> None:
        """A whole filing at once, as a resident does it quickly: the link, unit, category, text."""
        who = self.rng.choice(self.residents)
        chat = updates.private_chat(who)
        text = f"Filing {len(self.filings) + 1}: the light on floor {self.rng.randint(1, 30)} is out"
        self.filings[text] = who["id"]
        self.push(updates.command(who, chat, "start", "ap_1"))
        self.press(who, "f:u:1:1")
        self.press(who, "f:c:problem")
        self.push(updates.message(who, chat, text))

    def hello(self) -> None:
        who = self.rng.choice(self.residents)
        self.starts[who["id"]] += 1
        self.push(updates.command(who, updates.private_chat(who), "start"))

    def take(self) -> None:
        filed = sorted(receipts(self.e2e))
        if filed:
            self.press(self.e2e.chat.p.uhead, f"a:take:{self.rng.choice(filed)}")

    def round(self) -> None:
        for _ in range(self.rng.randint(1, 2)):
            self.rng.choice([self.file, self.file, self.hello, self.take, self.take])()


def receipts(e2e: E2E) -> Counter[int]:
    found: Counter[int] = Counter()
    for c in e2e.server.calls_of("sendMessage"):
        match = RECEIPT.search(c.text or "")
        if match:
            found[int(match.group(1))] += 1
    return found


def query(e2e: E2E, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return run_sql(e2e.database, sql, params, read_only=True)  # the SQLite file or the PostgreSQL database


def test_kill_9_twenty_times_under_load_loses_nothing(e2e: E2E) -> None:
    rng = random.Random(SEED)
    began = time.monotonic()
    chat = e2e.chat
    setup = e2e.spawn("setup").start()
    chat.setup_community()
    p = chat.p
    # first replies due within the run; no extra working time after a late card (the fairness floor
    # has tests of its own), so "overdue and still with the unit head" is a missed escalation
    settings = (("first_reply_hours", "1"), ("first_reply_min_work_hours", "0"), ("max_per_hour", "100"))
    for name, value in (*settings, ("max_per_day", "1000")):
        chat.cmd(p.staff, p.staff_chat, "sla", f"{name} {value}", expect="Deadlines and limits")
    assert setup.stop() == 0

    load = Load(e2e, rng)
    now = E2E_START
    crashed: list[BotProcess] = []
    try:
        for n in range(CRASHES):
            proc = BotProcess(e2e.server, e2e.tmp, e2e.database, e2e.clock, f"crash{n}")
            crashed.append(proc)
            during_start = rng.random() < 0.2  # killed while starting (migrations, recovery)
            load.round()
            proc.start(wait_ready=not during_start)
            load.round()
            time.sleep(rng.uniform(0.3, 1.5) if during_start else rng.uniform(0.05, 0.6))
            proc.kill()  # SIGKILL
            now += timedelta(minutes=15)  # deadlines fall due while the bot is down or running
            e2e.clock.set(now)
    finally:
        for proc in crashed:
            proc.kill()

    # one more process, left running: it must catch up on everything
    e2e.clock.set(now + timedelta(minutes=90))  # every first-reply deadline is due, still working hours
    final = e2e.spawn("final").start()

    def settled() -> bool:
        pending = query(e2e, "SELECT COUNT(*) FROM received_updates WHERE state = 'new'")[0][0]
        due = query(
            e2e,
            "SELECT COUNT(*) FROM deadlines WHERE done_at IS NULL AND due_at <= ?",
            (int((now + timedelta(minutes=90)).timestamp()),),
        )[0][0]
        unsent = query(e2e, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")[0][0]
        return not e2e.server.telegram.pending_updates and pending == 0 and due == 0 and unsent == 0

    wait_until(settled, "the last process caught up", timeout=30)
    final.assert_alive()

    # --- the figures -------------------------------------------------------------------------------
    handled = {row[0] for row in query(e2e, "SELECT update_id FROM received_updates WHERE state = 'done'")}
    updates_lost = [u for u in load.pushed if u not in handled]
    bodies = {row[0]: row[1] for row in query(e2e, "SELECT body, id FROM appeals")}
    appeals_lost = [t for t in load.filings if t not in bodies]
    appeal_ids = sorted(bodies.values())
    got = receipts(e2e)
    receipts_lost = [a for a in appeal_ids if got[a] == 0]
    escalated = [row[0] for row in query(e2e, "SELECT DISTINCT appeal_id FROM appeal_events WHERE kind = 'escalated'")]
    to_bhead = Counter(
        int(m.group(1))
        for c in chat.sent(p.bhead, "was passed to you")
        if (m := PASSED.search(c.text or "")) is not None
    )
    escalations_missed = [a for a in escalated if to_bhead[a] == 0]
    # overdue and never taken, but still with the unit head: a missed escalation too
    escalations_missed += [
        row[0]
        for row in query(
            e2e,
            "SELECT id FROM appeals WHERE level = 0 AND first_reply_at IS NULL AND first_reply_due_at <= ?",
            (int((now + timedelta(minutes=90)).timestamp()),),
        )
    ]
    cards = Counter(
        int(m.group(1)) for c in chat.sent(p.uhead, "New appeal") if (m := CARD.search(c.text or "")) is not None
    )
    # a button's answer the presser sees (a pop-up text); an empty answer only stops the spinner
    answers = Counter(
        c.params.get("callback_query_id") for c in e2e.server.calls_of("answerCallbackQuery") if c.params.get("text")
    )
    hellos = Counter(c.chat_id for c in e2e.server.calls_of("sendMessage") if "Hello" in (c.text or ""))
    kinds = {
        "receipts": sum(n - 1 for n in got.values() if n > 1),
        "cards": sum(n - 1 for n in cards.values() if n > 1),
        "escalations": sum(n - 1 for n in to_bhead.values() if n > 1),
        "button pop-ups": sum(n - 1 for q, n in answers.items() if n > 1 and q in load.callbacks),
        "welcomes": sum(max(0, hellos[who] - load.starts[who]) for who in load.starts),
        "what-is-it prompts": sum(1 for c in e2e.server.calls_of("sendMessage") if "What is it?" in (c.text or "")),
    }
    duplicates = sum(kinds.values())
    seconds = time.monotonic() - began
    print(
        f"\ncrash test (seed {SEED}): {CRASHES} x kill -9 in {seconds:.0f} s; updates {len(load.pushed)} "
        f"(lost {len(updates_lost)}), appeals {len(appeal_ids)} of {len(load.filings)} filings "
        f"(lost {len(appeals_lost)}), receipts lost {len(receipts_lost)}, escalations {len(escalated)} "
        f"(missed {len(escalations_missed)}), duplicate messages {duplicates} "
        f"({duplicates / CRASHES:.2f} per crash: {kinds})"
    )
    assert updates_lost == []
    assert appeals_lost == []
    assert receipts_lost == []
    assert escalations_missed == []
    assert escalated, "no deadline fell due: the test did not test escalations"
    assert duplicates <= CRASHES
    e2e.finish(rejected=len(e2e.server.rejected))
