"""The deadline sweep at domain level: idempotent, one failing deadline rolls back only itself
(SAVEPOINT), two connections or two processes sweeping the same file act once per deadline, and a
sweep with nothing due reads only the partial index of due deadlines.

The harness builds the state (a community, appeals filed through the bot); the sweep itself is
driven through ``bot.services.sweeper.Sweeper`` directly.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.models import Level
from bot.services.base import Calendars, Defaults
from bot.services.sweeper import Sweeper, SweepReport
from bot.services.workflow import WorkflowService
from storage.db import Database, Tx
from storage.engines import open_database
from storage.engines.postgres import PostgresTx
from storage.engines.sqlite import SqliteTx
from tests.harness import Harness, appeal_of, events_of, local
from tests.support import updates

TUESDAY_10 = local(2026, 11, 24, 10, 0)  # the first-reply deadline of appeals filed on Monday 10:00
WEDNESDAY_10 = local(2026, 11, 25, 10, 0)  # the building level's deadline after Tuesday's escalation


async def file_many(h: Harness, n: int) -> list[int]:
    """``n`` problems from ``n`` residents, all filed on Monday 10:00 (nobody takes them)."""
    ids = []
    for i in range(n):
        who = updates.user(3000 + i, f"Resident{i}", f"resident_{i}")
        ids.append(await h.file_appeal(who=who, text=f"Problem number {i}"))
    return ids


async def rows(h: Harness, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    async with h.services.db.read() as tx:
        return [tuple(r) for r in await tx.fetchall(sql, params)]


async def snapshot(h: Harness) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a sweep may change."""
    return {
        "appeals": await rows(h, "SELECT * FROM appeals ORDER BY id"),
        "events": await rows(h, "SELECT * FROM appeal_events ORDER BY id"),
        "deadlines": await rows(h, "SELECT * FROM deadlines ORDER BY id"),
        "outbox": await rows(h, "SELECT id, chat_id, template, dedupe_key, not_before FROM outbox ORDER BY id"),
    }


async def escalations_per_appeal(h: Harness) -> dict[int, int]:
    found = await rows(h, "SELECT appeal_id, COUNT(*) FROM appeal_events WHERE kind = 'escalated' GROUP BY appeal_id")
    return {int(a): int(n) for a, n in found}


def sweeper_on(path: str, clock: FakeClock, batch: int = 2) -> tuple[Database, Sweeper]:
    """A second, independent stack (own connection, services and calendar cache) on the same file."""
    db = open_database(path)
    defaults = Defaults(timezone="Asia/Shanghai", country="CN", language="en")
    return db, Sweeper(WorkflowService(db, clock, Calendars(defaults)), batch=batch)


# --- idempotence -----------------------------------------------------------------------------------
async def test_a_second_sweep_at_the_same_moment_fires_nothing(h: Harness) -> None:
    await h.setup_community()
    ids = await file_many(h, 3)
    h.clock.set(TUESDAY_10)
    first = await h.services.sweeper.sweep()
    assert first.fired == {"escalated": 3}
    after_first = await snapshot(h)
    second = await h.services.sweeper.sweep()
    assert second.total == 0
    assert await snapshot(h) == after_first
    assert await escalations_per_appeal(h) == dict.fromkeys(ids, 1)
    escalated = await rows(h, "SELECT chat_id FROM outbox WHERE template = 'appeal.escalated'")
    assert escalated == [(h.p.bhead["id"],)] * 3


async def test_one_late_sweep_over_several_due_deadlines_escalates_once(h: Harness) -> None:
    """The bot was down from Monday to Thursday: the first-reply deadline (Tue), the reminder (Wed) and
    the unit's deadline (Thu) of the same appeal are all due. The first one escalates and cancels the
    others; they must not fire in the same batch."""
    await h.setup_community()
    await h.file_appeal()
    h.clock.set(local(2026, 11, 26, 10, 0))
    report = await h.services.sweeper.sweep()
    assert report.fired == {"escalated": 1}
    appeal = await appeal_of(h, 1)
    assert (appeal.level, appeal.assignee_user_id) == (Level.BUILDING, h.p.bhead["id"])
    assert await events_of(h, 1) == ["filed", "escalated"]
    queued = await rows(
        h,
        "SELECT chat_id, template FROM outbox WHERE appeal_id = 1"
        " AND template NOT IN ('appeal.assigned', 'filing.receipt_plain')",
    )
    assert queued == [(h.p.bhead["id"], "appeal.escalated"), (h.p.resident["id"], "resident.escalated")]
    stage0 = await rows(h, "SELECT kind, outcome FROM deadlines WHERE appeal_id = 1 AND stage = 0 ORDER BY id")
    assert sorted(stage0) == [("first_reply", "escalated"), ("remind", "escalated"), ("resolve", "escalated")]


# --- a failure inside one deadline -------------------------------------------------------------------
async def test_a_crash_in_one_deadline_rolls_back_only_that_row(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await h.setup_community()
    ids = await file_many(h, 3)
    victim = ids[1]  # in the middle of the batch
    before = await appeal_of(h, victim)
    workflow = h.services.workflow
    original: Callable[..., Awaitable[Any]] = workflow.escalate

    async def escalate_then_fail(tx: Tx, appeal: Any, community: Any, now: datetime, **kw: Any) -> Any:
        moved = await original(tx, appeal, community, now, **kw)  # the writes happen ...
        if appeal.id == victim:
            raise RuntimeError("boom")  # ... and then the bug strikes
        return moved

    monkeypatch.setattr(workflow, "escalate", escalate_then_fail)
    caplog.set_level(logging.ERROR, logger="bot.services.sweeper")
    h.clock.set(TUESDAY_10)
    report = await h.services.sweeper.sweep()

    assert report.fired == {"escalated": 2, "error": 1}
    failures = [r for r in caplog.records if r.name == "bot.services.sweeper" and r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert f"of appeal {victim} failed" in failures[0].getMessage()
    assert failures[0].exc_info is not None and isinstance(failures[0].exc_info[1], RuntimeError)

    # the victim is exactly as before: no level change, no history row, no message, deadlines intact
    assert await appeal_of(h, victim) == before
    assert await events_of(h, victim) == ["filed"]
    assert (
        await rows(
            h,
            "SELECT template FROM outbox WHERE appeal_id = ?"
            " AND template NOT IN ('appeal.assigned', 'filing.receipt_plain')",
            (victim,),
        )
        == []
    )
    deadlines = await rows(h, "SELECT kind, outcome, done_at IS NULL FROM deadlines WHERE appeal_id = ?", (victim,))
    assert sorted(deadlines) == [("first_reply", "error", 0), ("remind", None, 1), ("resolve", None, 1)]
    # the others went through
    for other in (ids[0], ids[2]):
        assert (await appeal_of(h, other)).level == Level.BUILDING
    assert await escalations_per_appeal(h) == {ids[0]: 1, ids[2]: 1}

    # the failed row is marked and not retried; the victim's own deadline still escalates it later
    monkeypatch.undo()
    assert (await h.services.sweeper.sweep()).total == 0
    h.clock.set(local(2026, 11, 26, 10, 0))
    await h.services.sweeper.sweep()
    assert (await appeal_of(h, victim)).level == Level.BUILDING


# --- concurrency ---------------------------------------------------------------------------------------
class TakingTurns:
    """Makes two stacks alternate their write transactions (A's batch, B's batch, A's ...), so their
    batches interleave on every run instead of whenever SQLite's busy handler happens to let the
    waiting connection in. A stack whose sweep has returned no longer takes part."""

    def __init__(self) -> None:
        self.turn = 0
        self.finished: set[int] = set()
        self.changed = asyncio.Condition()

    def wrap(self, db: Database, me: int) -> None:
        original = db.write

        @asynccontextmanager
        async def write() -> AsyncIterator[Tx]:
            async with self.changed:
                await self.changed.wait_for(lambda: self.turn == me or (1 - me) in self.finished)
            try:
                async with original() as tx:
                    yield tx
            finally:
                async with self.changed:
                    self.turn = 1 - me
                    self.changed.notify_all()

        db.write = write  # type: ignore[method-assign]

    async def run(self, me: int, sweeper: Sweeper) -> SweepReport:
        try:
            return await sweeper.sweep()
        finally:
            async with self.changed:
                self.finished.add(me)
                self.changed.notify_all()


async def test_two_connections_sweeping_at_once_escalate_each_deadline_once(h: Harness) -> None:
    await h.setup_community()
    ids = await file_many(h, 12)
    path = h.services.db.url
    stacks = [sweeper_on(path, h.clock), sweeper_on(path, h.clock)]
    for db, _ in stacks:
        await db.connect()
    try:
        # interleaved batches of two: each connection must see what the other one finished
        turns = TakingTurns()
        for me, (db, _) in enumerate(stacks):
            turns.wrap(db, me)
        h.clock.set(TUESDAY_10)
        reports = await asyncio.gather(*(turns.run(me, s) for me, (_, s) in enumerate(stacks)))
        assert [r.fired for r in reports] == [{"escalated": 6}, {"escalated": 6}]
        assert await escalations_per_appeal(h) == dict.fromkeys(ids, 1)

        # free-running: three connections (the bot's own too) race for the next round
        for db, _ in stacks:
            del db.write  # back to Database.write
        h.clock.set(WEDNESDAY_10)
        reports = list(await asyncio.gather(*(s.sweep() for _, s in stacks), h.services.sweeper.sweep()))
        fired: dict[str, int] = {}
        for r in reports:
            for k, v in r.fired.items():
                fired[k] = fired.get(k, 0) + v
        assert fired == {"reminded": 12, "escalated": 12}
    finally:
        for db, _ in stacks:
            await db.close()
    assert await escalations_per_appeal(h) == dict.fromkeys(ids, 2)
    outbox = await rows(
        h,
        "SELECT chat_id, COUNT(*) FROM outbox WHERE template IN ('appeal.escalated', 'heads.escalated_to_chat')"
        " GROUP BY chat_id",
    )
    assert sorted(outbox) == sorted([(h.p.bhead["id"], 12), (h.p.staff_chat["id"], 12)])
    reminders = await rows(h, "SELECT COUNT(*) FROM outbox WHERE template = 'appeal.reminder'")
    assert reminders == [(12,)]
    for appeal_id in ids:
        assert (await appeal_of(h, appeal_id)).level == Level.COMMUNITY


def _sweep_in_process(path: str, moment: str, barrier: Any, results: Any) -> None:
    """Child process: open its own connection, wait for the sibling, sweep once, report."""

    async def run() -> dict[str, int]:
        db, sweeper = sweeper_on(path, FakeClock(datetime.fromisoformat(moment)), batch=3)
        await db.connect()
        try:
            barrier.wait(timeout=60)
            return (await sweeper.sweep()).fired
        finally:
            await db.close()

    results.put(asyncio.run(run()))


async def test_two_processes_sweeping_the_same_file_escalate_each_deadline_once(h: Harness) -> None:
    await h.setup_community()
    ids = await file_many(h, 12)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_sweep_in_process, args=(h.services.db.url, TUESDAY_10.isoformat(), barrier, results))
        for _ in range(2)
    ]
    for proc in procs:
        proc.start()
    try:
        fired = [await asyncio.to_thread(results.get, True, 120) for _ in procs]
    finally:
        for proc in procs:
            await asyncio.to_thread(proc.join, 60)
            if proc.is_alive():  # pragma: no cover - only when the test fails
                proc.kill()
    assert [proc.exitcode for proc in procs] == [0, 0]
    assert sum(f.get("escalated", 0) for f in fired) == 12
    assert await escalations_per_appeal(h) == dict.fromkeys(ids, 1)
    assert await rows(h, "SELECT COUNT(*) FROM outbox WHERE template = 'appeal.escalated'") == [(12,)]
    assert await rows(h, "SELECT COUNT(*) FROM deadlines WHERE kind = 'first_reply' AND done_at IS NULL") == [(0,)]


# --- the cost of a sweep with nothing due --------------------------------------------------------------
async def test_a_sweep_with_nothing_due_only_reads_the_due_index(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    await h.setup_community()
    await file_many(h, 3)
    # some history first: the escalations leave finished deadlines behind
    h.clock.set(TUESDAY_10)
    await h.services.sweeper.sweep()
    h.clock.set(local(2026, 11, 24, 10, 30))  # nothing is due now
    before = await snapshot(h)

    statements: list[tuple[str, tuple[Any, ...]]] = []

    def recording(cls: type[Tx], name: str) -> Any:
        method = getattr(cls, name)

        async def wrapper(self: Tx, sql: str, params: Any = ()) -> Any:
            statements.append((sql, tuple(params)))
            return await method(self, sql, params)

        return wrapper

    for cls in (SqliteTx, PostgresTx):  # the engines' transaction classes
        for name in ("execute", "fetchone", "fetchall", "fetchval", "insert"):
            monkeypatch.setattr(cls, name, recording(cls, name))
    report = await h.services.sweeper.sweep()
    monkeypatch.undo()

    assert report.total == 0
    assert await snapshot(h) == before
    assert len(statements) == 1, statements  # the claim query, nothing else
    sql, params = statements[0]
    assert "FROM deadlines" in sql and "appeals" not in sql
    async with h.services.db.read() as tx:
        if tx.dialect == "sqlite":
            plan = " | ".join(str(r["detail"]) for r in await tx.fetchall("EXPLAIN QUERY PLAN " + sql, params))
            assert "SCAN deadlines" not in plan, plan
        else:  # a few rows: PostgreSQL would scan them; can the partial index serve the query?
            await tx.execute("SET LOCAL enable_seqscan = off")
            plan = " | ".join(str(r[0]) for r in await tx.fetchall("EXPLAIN " + sql, params))
            assert "Seq Scan" not in plan, plan
    assert "deadlines_due" in plan, plan
