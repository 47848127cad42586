"""Benchmarks of the appeal core (not tests): ``python -m bench.appeals_bench [--quick] [--profile]``.

1. Filing throughput: appeal-creating updates per second through ``Application.process_update`` on a
   file SQLite database, against a bare PTB Application (same fake transport, one no-op
   MessageHandler) processing the same kind of update (a private text message). Updates are built
   with ``Update.de_json`` before timing on both sides. The unitbot figure includes sending the
   unit head's notice from the outbox (``OutboxSender.drain`` is awaited inside the timed section).
2. Sweep with nothing due over 10k / 100k / 1M appeals (5% open), bulk-loaded straight into a
   migrated file database, against a sweep of an empty database measured in the same run.

``--profile`` runs the timed filing section once more under cProfile and prints where the main
thread's time goes (aiosqlite's worker thread is not profiled: its time shows up as waiting).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import os
import platform
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import telegram
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.app import open_storage
from bot.clock import FakeClock, to_ts
from bot.services.container import Services
from bot.sla import SlaSettings
from handlers.context import UnitApp
from storage.migrate import migrate
from tests.harness import TOKEN, Harness, local, make_harness, make_settings
from tests.support import RecordingRequest, updates

START = local(2026, 11, 23, 10, 0)  # a Monday morning in Shanghai: a working day, inside working hours
FIRST_RESIDENT_ID = 5_000_000
SWEEP_TARGET_MS = 20.0
RATE_TARGET = 1_000.0
RATIO_TARGET = 0.25

# Per-resident anti-spam limits for the filing benchmark, set through real /sla commands. The
# validated maxima are 100/hour and 1000/day, so the benchmark spreads appeals over many residents.
SLA_CHANGES = (("max_per_hour", "100"), ("max_per_day", "1000"), ("duplicate_window_hours", "0"))


@dataclass(frozen=True)
class Plan:
    residents: int
    timed_rounds: int  # rounds where only the filing text message is timed
    sequence_rounds: int  # rounds where the whole /start + category button + text sequence is timed
    bare_runs: int
    sweep_sizes: tuple[int, ...]
    sweep_runs: int

    @property
    def filings(self) -> int:
        return self.residents * self.timed_rounds


FULL = Plan(
    residents=600,
    timed_rounds=10,
    sequence_rounds=3,
    bare_runs=3,
    sweep_sizes=(10_000, 100_000, 1_000_000),
    sweep_runs=50,
)
QUICK = Plan(
    residents=300, timed_rounds=4, sequence_rounds=1, bare_runs=3, sweep_sizes=(10_000, 100_000), sweep_runs=30
)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# =============================================================================== 1. filing
async def bare_rate(n: int) -> float:
    """Updates per second of a bare PTB Application with one no-op MessageHandler."""

    async def noop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        return None

    rt = RecordingRequest()
    app = ApplicationBuilder().token(TOKEN).request(rt).get_updates_request(rt).build()
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, noop))
    async with app:
        people = [updates.user(FIRST_RESIDENT_ID + i, f"Res{i}") for i in range(n)]
        ups = [
            Update.de_json(updates.message(p, updates.private_chat(p), f"The lift in entrance {i} is broken"), app.bot)
            for i, p in enumerate(people)
        ]
        t0 = time.perf_counter()
        for u in ups:
            await app.process_update(u)
        elapsed = time.perf_counter() - t0
    return n / elapsed


@dataclass
class FilingResult:
    filings: int
    elapsed_with_drain: float
    elapsed_updates_only: float
    cpu_with_drain: float  # process CPU time (all threads) of the timed rounds
    seq_appeals: int
    seq_elapsed: float
    total_appeals: int
    notices_sent: int
    statements: float  # SQL statements per filing (outbox drain included)
    db_calls: float  # aiosqlite calls (thread round trips) per filing


class FilingBench:
    def __init__(self, h: Harness, app: UnitApp, plan: Plan) -> None:
        self.h = h
        self.app = app
        self.plan = plan
        self.people = [updates.user(FIRST_RESIDENT_ID + i, f"Res{i}", f"res_{i}") for i in range(plan.residents)]
        self.building_id = 0
        self.unit_id = 0

    async def setup(self) -> None:
        h = self.h
        await h.setup_community()
        for key, value in SLA_CHANGES:
            await h.cmd(h.p.staff, h.p.staff_chat, "sla", f"{key} {value}")
        ctx = await h.services.registry.chat_context(h.p.building_chat["id"])
        sla = SlaSettings.from_settings(ctx.community.settings)
        for key, value in SLA_CHANGES:
            if str(getattr(sla, key)) != value:
                raise SystemExit(f"/sla {key} {value} was not applied (got {getattr(sla, key)})")
        self.building_id = ctx.building.id
        async with h.services.db.read() as tx:  # the unit whose head is set (unit "1")
            self.unit_id = int(
                await tx.fetchval(
                    "SELECT id FROM units WHERE building_id = ? AND head_user_id = ?",
                    (self.building_id, h.p.uhead["id"]),
                )
            )

    def _start(self, who: dict[str, Any]) -> Update:
        return Update.de_json(
            updates.command(who, updates.private_chat(who), "start", f"ap_{self.building_id}"), self.app.bot
        )

    def _press(self, who: dict[str, Any], data: str) -> Update:
        menu = updates.message_dict(updates.bot_user(), updates.private_chat(who), text="Choose")
        return Update.de_json(updates.callback_query(who, menu, data), self.app.bot)

    def _text(self, who: dict[str, Any], n: int, i: int) -> Update:
        body = f"Round {n}: the lift in entrance {i % 7 + 1} has been stuck on floor {i % 17 + 1} since morning"
        return Update.de_json(updates.message(who, updates.private_chat(who), body), self.app.bot)

    async def _drafts_ready(self) -> int:
        async with self.h.services.db.read() as tx:
            return int(await tx.fetchval("SELECT COUNT(*) FROM drafts WHERE category IS NOT NULL"))

    async def _appeals(self) -> int:
        async with self.h.services.db.read() as tx:
            return int(await tx.fetchval("SELECT COUNT(*) FROM appeals"))

    async def prepare_drafts(self, first: bool) -> None:
        """Untimed: every resident opens the deep link (and picks the unit the first time) and a category."""
        for who in self.people:
            await self.app.process_update(self._start(who))
            if first:
                await self.app.process_update(self._press(who, f"f:u:{self.building_id}:{self.unit_id}"))
            await self.app.process_update(self._press(who, "f:c:problem"))
        ready = await self._drafts_ready()
        if ready != len(self.people):
            raise SystemExit(f"only {ready} of {len(self.people)} drafts are ready to be described")

    async def drain(self) -> None:
        outbox = self.app.bot_data.outbox()
        await outbox.wait_idle()
        await outbox.drain()

    async def timed_round(self, n: int) -> tuple[float, float, float]:
        """(seconds with the outbox drained, seconds of the update loop alone, process CPU seconds with
        the outbox drained) for one round."""
        ups = [self._text(who, n, i) for i, who in enumerate(self.people)]
        before = await self._appeals()
        c0 = time.process_time()
        t0 = time.perf_counter()
        for u in ups:
            await self.app.process_update(u)
        t1 = time.perf_counter()
        await self.drain()
        t2 = time.perf_counter()
        c2 = time.process_time()
        filed = await self._appeals() - before
        if filed != len(ups):
            raise SystemExit(f"round {n}: {filed} appeals filed by {len(ups)} updates")
        return t2 - t0, t1 - t0, c2 - c0

    async def counted_round(self, n: int) -> tuple[float, float]:
        """Untimed diagnostic round: (SQL statements, aiosqlite calls) per filing, outbox drain included.
        Each aiosqlite call is one round trip to its worker thread (counted by wrapping the private
        ``Connection._execute``: diagnostics only)."""
        ups = [self._text(who, n, i) for i, who in enumerate(self.people)]
        conn = self.h.services.db._connection()
        statements: list[str] = []
        calls = 0
        original = aiosqlite.Connection._execute

        async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

        await conn.set_trace_callback(statements.append)
        aiosqlite.Connection._execute = counting  # type: ignore[method-assign]
        try:
            for u in ups:
                await self.app.process_update(u)
            await self.drain()
        finally:
            aiosqlite.Connection._execute = original  # type: ignore[method-assign]
            await conn.set_trace_callback(None)
        per = len(ups)
        return len(statements) / per, calls / per

    async def sequence_round(self, n: int) -> float:
        ups: list[Update] = []
        for i, who in enumerate(self.people):
            ups += [self._start(who), self._press(who, "f:c:problem"), self._text(who, n, i)]
        before = await self._appeals()
        t0 = time.perf_counter()
        for u in ups:
            await self.app.process_update(u)
        await self.drain()
        elapsed = time.perf_counter() - t0
        filed = await self._appeals() - before
        if filed != len(self.people):
            raise SystemExit(f"sequence round {n}: {filed} appeals filed by {len(self.people)} residents")
        return elapsed

    async def run(self, profile: cProfile.Profile | None = None) -> FilingResult:
        await self.setup()
        # warm-up round (untimed): residents pick their unit, caches fill
        await self.prepare_drafts(first=True)
        await self.timed_round(0)
        with_drain = updates_only = cpu = 0.0
        for n in range(1, self.plan.timed_rounds + 1):
            await self.prepare_drafts(first=False)
            if profile is not None:
                profile.enable()
            a, b, c = await self.timed_round(n)
            if profile is not None:
                profile.disable()
            with_drain += a
            updates_only += b
            cpu += c
        await self.prepare_drafts(first=False)
        statements, calls = await self.counted_round(500)
        seq = 0.0
        for n in range(self.plan.sequence_rounds):
            seq += await self.sequence_round(1000 + n)
        total = await self._appeals()
        async with self.h.services.db.read() as tx:
            pending = int(await tx.fetchval("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL"))
        if pending:
            raise SystemExit(f"{pending} outbox messages were left unsent")
        notices = sum(1 for t in self.h.texts(self.h.p.uhead) if "appeal #" in t.lower())
        return FilingResult(
            filings=self.plan.filings,
            elapsed_with_drain=with_drain,
            elapsed_updates_only=updates_only,
            cpu_with_drain=cpu,
            seq_appeals=self.plan.residents * self.plan.sequence_rounds,
            seq_elapsed=seq,
            total_appeals=total,
            notices_sent=notices,
            statements=statements,
            db_calls=calls,
        )


async def unitbot_filing(plan: Plan, tmp: Path, profile: cProfile.Profile | None = None) -> FilingResult:
    h, app = await make_harness(tmp, START)
    async with app:
        await open_storage(app)
        try:
            return await FilingBench(h, app, plan).run(profile)
        finally:
            await app.bot_data.outbox().wait_idle()
            await app.bot_data.services.db.close()


async def round_trip_cost(path: Path, n: int = 3000) -> tuple[float, float]:
    """(wall us, CPU us) of one aiosqlite call on this machine: a cross-thread round trip."""
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        for _ in range(100):
            await conn.execute_fetchall("SELECT 1")
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            await conn.execute_fetchall("SELECT 1")
        return (time.perf_counter() - t0) / n * 1e6, (time.process_time() - c0) / n * 1e6
    finally:
        await conn.close()


# =============================================================================== 2. sweep
COMMUNITY_ID, BUILDING_ID, UNIT_ID, UHEAD, RESIDENT0 = 1, 1, 1, 1003, 7_000_000
DAY = 86_400


def _mix(i: int, mod: int) -> int:
    """Cheap deterministic scatter of ``i`` over ``range(mod)``."""
    return (i * 2_654_435_761 + 97) % 4_294_967_291 % mod


def _appeal_rows(first: int, last: int, now: int) -> Iterator[tuple[Any, ...]]:
    for i in range(first, last + 1):
        resident = RESIDENT0 + _mix(i, 20_000)
        if i % 20 == 0:  # 5% open: created in the last two days, every deadline still ahead
            created = now - _mix(i, 2 * DAY)
            status = "new" if i % 40 == 0 else "in_progress"
            yield (
                i,
                COMMUNITY_ID,
                BUILDING_ID,
                UNIT_ID,
                resident,
                "problem",
                status,
                0,
                UHEAD,
                f"Open appeal {i}: the lift is broken",
                f"h{i:031d}",
                created,
                _first_reply_due(i, now),
                None,
                _resolve_due(i, now),
                None,
                None,
                None,
                0,
                0,
                created,
            )
        else:  # closed: created in the last two years, handled and confirmed
            created = now - 3 * DAY - _mix(i, 730 * DAY)
            resolved = created + DAY
            closed = resolved + 3 * DAY
            yield (
                i,
                COMMUNITY_ID,
                BUILDING_ID,
                UNIT_ID,
                resident,
                "problem",
                "closed",
                0,
                UHEAD,
                f"Closed appeal {i}: the lift was broken",
                f"h{i:031d}",
                created,
                created + DAY,
                created + 3600,
                created + 3 * DAY,
                None,
                resolved,
                closed,
                1 + i % 5,
                3,
                closed,
            )


def _first_reply_due(i: int, now: int) -> int:
    return now + 3600 + _mix(i, DAY)


def _resolve_due(i: int, now: int) -> int:
    return now + DAY + _mix(i + 1, 10 * DAY)


def _deadline_rows(first: int, last: int, now: int) -> Iterator[tuple[Any, ...]]:
    for i in range(first, last + 1):
        if i % 20 == 0:  # open: resolve, remind and first-reply deadlines, all due after ``now``
            due = _resolve_due(i, now)
            yield (i, "resolve", 0, due, None, None)
            yield (i, "remind", 0, due - 7200, None, None)
            yield (i, "first_reply", 0, _first_reply_due(i, now), None, None)
        else:  # closed: the same deadlines, done (cancelled by the reply / resolution), plus autoclose
            created = now - 3 * DAY - _mix(i, 730 * DAY)
            yield (i, "first_reply", 0, created + DAY, created + 3600, "cancelled")
            yield (i, "resolve", 0, created + 3 * DAY, created + DAY, "cancelled")
            yield (i, "autoclose", 1, created + 4 * DAY, created + 4 * DAY, "cancelled")


def bulk_load(path: Path, first: int, last: int, now: int) -> int:
    """Storage-level bulk loader for the benchmark: appeals ``first..last`` and their deadlines in one
    transaction (executemany; synchronous=OFF on this connection only). Returns deadline rows added."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB page cache for the load
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO communities (id, name, staff_chat_id, timezone, country, language, created_by, created_at)"
            " VALUES (?, 'Bench', -1001, 'Asia/Shanghai', 'CN', 'en', 1001, ?) ON CONFLICT (id) DO NOTHING",
            (COMMUNITY_ID, now - 800 * DAY),
        )
        conn.execute(
            "INSERT INTO buildings (id, community_id, chat_id, title, created_at)"
            " VALUES (?, ?, -1002, 'Building 7', ?) ON CONFLICT (id) DO NOTHING",
            (BUILDING_ID, COMMUNITY_ID, now - 800 * DAY),
        )
        conn.execute(
            "INSERT INTO units (id, building_id, name, head_user_id) VALUES (?, ?, '1', ?) ON CONFLICT (id) DO NOTHING",
            (UNIT_ID, BUILDING_ID, UHEAD),
        )
        conn.executemany(
            "INSERT INTO appeals (id, community_id, building_id, unit_id, resident_id, category, status, level,"
            " assignee_user_id, body, body_hash, created_at, first_reply_due_at, first_reply_at, due_at,"
            " remaining_seconds, resolved_at, closed_at, rating, stage, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _appeal_rows(first, last, now),
        )
        cur = conn.executemany(
            "INSERT INTO deadlines (appeal_id, kind, stage, due_at, done_at, outcome) VALUES (?, ?, ?, ?, ?, ?)",
            _deadline_rows(first, last, now),
        )
        added = cur.rowcount
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise SystemExit("could not checkpoint the loaded database")
        return added
    finally:
        conn.close()


@dataclass
class SweepPoint:
    appeals: int
    open_deadlines: int
    deadlines: int
    load_seconds: float
    median_ms: float
    p90_ms: float


async def time_sweeps(services: Services, runs: int) -> tuple[float, float]:
    for _ in range(5):  # warm the page cache and the statement cache
        await services.sweeper.sweep()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        report = await services.sweeper.sweep()
        samples.append((time.perf_counter() - t0) * 1000)
        if report.total:
            raise SystemExit(f"the sweep found something due: {report.fired}")
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


async def sweep_bench(plan: Plan, tmp: Path) -> list[SweepPoint]:
    path = tmp / "sweep.sqlite3"
    services = Services.create(make_settings(path), FakeClock(START))
    await services.db.connect()
    try:
        await migrate(services.db)
        points = []
        med, p90 = await time_sweeps(services, plan.sweep_runs)
        points.append(SweepPoint(0, 0, 0, 0.0, med, p90))
        now = to_ts(START)
        loaded = 0
        for size in plan.sweep_sizes:
            t0 = time.perf_counter()
            bulk_load(path, loaded + 1, size, now)
            load_s = time.perf_counter() - t0
            loaded = size
            async with services.db.read() as tx:
                appeals = int(await tx.fetchval("SELECT COUNT(*) FROM appeals"))
                deadlines = int(await tx.fetchval("SELECT COUNT(*) FROM deadlines"))
                undone = int(await tx.fetchval("SELECT COUNT(*) FROM deadlines WHERE done_at IS NULL"))
                earliest = await tx.fetchval("SELECT MIN(due_at) FROM deadlines WHERE done_at IS NULL")
            if appeals != size or earliest is None or earliest <= to_ts(services.clock.now()):
                raise SystemExit(f"bad load at {size}: {appeals} appeals, earliest open deadline {earliest}")
            med, p90 = await time_sweeps(services, plan.sweep_runs)
            points.append(SweepPoint(appeals, undone, deadlines, load_s, med, p90))
        return points
    finally:
        await services.db.close()


# =============================================================================== report
def _rate(n: float, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def print_filing(plan: Plan, bare: list[float], r: FilingResult, trip: tuple[float, float]) -> None:
    best_bare = max(bare)
    rate = _rate(r.filings, r.elapsed_with_drain)
    ratio = rate / best_bare
    print("1. Appeal filing through Application.process_update (file SQLite DB, FakeClock, fake transport)")
    print("   timed update: the resident's private text message that files the appeal (draft prepared untimed);")
    print(
        f"   {r.filings:,} such updates = {plan.timed_rounds} rounds x {plan.residents} residents,"
        " each round followed by OutboxSender.drain() INSIDE the timed section (unit-head notices sent)"
    )
    print(
        f"   bare PTB Application, one no-op MessageHandler, {r.filings:,} private text updates:"
        f" {best_bare:,.0f} updates/s (best of {len(bare)}: {', '.join(f'{b:,.0f}' for b in bare)})"
    )
    print(
        f"   unitbot appeal updates, outbox drained:   {rate:,.0f} updates/s"
        f"  ({r.elapsed_with_drain:.2f} s)   target >= {RATE_TARGET:,.0f}/s: {verdict(rate >= RATE_TARGET)}"
    )
    print(
        f"   ratio unitbot / bare:                     {ratio:.1%}"
        f"   target >= {RATIO_TARGET:.0%}: {verdict(ratio >= RATIO_TARGET)}"
    )
    print(
        f"   (for information) update loop alone, drain not awaited: {_rate(r.filings, r.elapsed_updates_only):,.0f}"
        " updates/s"
    )
    seq_updates = 3 * r.seq_appeals
    print(
        f"   whole sequence timed (/start ap_N + category button + text), drained: {seq_updates:,} updates in"
        f" {r.seq_elapsed:.2f} s = {_rate(seq_updates, r.seq_elapsed):,.0f} updates/s ="
        f" {_rate(r.seq_appeals, r.seq_elapsed):,.0f} appeals/s"
    )
    print(
        f"   cost of one filing: {1000 * r.cpu_with_drain / r.filings:.2f} ms process CPU (all threads);"
        f" {r.statements:.1f} SQL statements and {r.db_calls:.1f} aiosqlite calls (thread round trips);"
        f" one round trip on this machine: {trip[0]:.0f} us wall, {trip[1]:.0f} us CPU"
    )
    print(
        f"   checks: {r.total_appeals:,} appeals in the DB (warm-up included), {r.notices_sent:,} notices reached"
        " the unit head, outbox empty"
    )


def print_sweep(points: list[SweepPoint]) -> None:
    base = points[0]
    first = points[1] if len(points) > 1 else None
    print("2. Sweeper.sweep() with nothing due (file SQLite DB; median of the timed runs)")
    print(f"   empty database (baseline):  {base.median_ms:.3f} ms   (p90 {base.p90_ms:.3f} ms)")
    for p in points[1:]:
        assert first is not None
        print(
            f"   {p.appeals:>9,} appeals ({p.open_deadlines:,} open deadlines of {p.deadlines:,};"
            f" loaded in {p.load_seconds:.1f} s): {p.median_ms:.3f} ms (p90 {p.p90_ms:.3f} ms)"
            f"   x{p.median_ms / first.median_ms:.2f} of 10k, x{p.median_ms / base.median_ms:.2f} of empty"
            f"   target <= {SWEEP_TARGET_MS:.0f} ms: {verdict(p.median_ms <= SWEEP_TARGET_MS)}"
        )


def print_profile(profile: cProfile.Profile) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    print(out.getvalue())


async def main_async(args: argparse.Namespace) -> None:
    plan = QUICK if args.quick else FULL
    print(
        f"unitbot appeal benchmarks ({'quick' if args.quick else 'full'}): Python {platform.python_version()},"
        f" python-telegram-bot {telegram.__version__}, SQLite {sqlite3.sqlite_version}, {platform.machine()}"
    )
    with tempfile.TemporaryDirectory(prefix="unitbot-bench-") as tmp:
        for sub in ("filing", "sweep", "profile"):
            (Path(tmp) / sub).mkdir()
        bare = [await bare_rate(plan.filings) for _ in range(plan.bare_runs)]
        result = await unitbot_filing(plan, Path(tmp) / "filing")
        trip = await round_trip_cost(Path(tmp) / "trip.sqlite3")
        print_filing(plan, bare, result, trip)
        sys.stdout.flush()
        print_sweep(await sweep_bench(plan, Path(tmp) / "sweep"))
        if args.profile:
            profile = cProfile.Profile()
            await unitbot_filing(plan, Path(tmp) / "profile", profile)
            print("cProfile of the timed filing rounds (main thread):")
            print_profile(profile)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.appeals_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer updates, skip the 1M-appeal sweep")
    parser.add_argument("--profile", action="store_true", help="also profile the filing rounds with cProfile")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(f"load average before: {load()} ({os.cpu_count()} CPUs)")
    asyncio.run(main_async(args))
    print(f"load average after:  {load()}")


if __name__ == "__main__":
    main()
