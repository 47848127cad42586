"""Benchmarks of the monthly election: tallying 100,000 ballots and recording votes through
``Application.process_update``.

    .venv/bin/python -m bench.votes_bench            # 100,000 ballots, 3,000 timed button presses
    .venv/bin/python -m bench.votes_bench --quick    # 20,000 ballots, 600 presses

1. **Recording votes.** A community of 20 building chats, 10 units each (200 unit heads standing), and
   the residents registered in the database. The election opens through ``ElectionService.tick``. The
   timed update is a resident pressing a candidate's ``ev:<election>:<candidate>`` button under the
   ballot, processed by unitbot as built by ``bot.app.build_application`` (file SQLite database, the
   recording fake Bot API of ``tests.support``); the answer (``answerCallbackQuery``) is part of the
   timed work. The baseline is a bare PTB Application with one no-op ``CallbackQueryHandler`` over the
   same updates and the same fake transport, in the same run. Updates are built before timing.
2. **Tallying.** Every resident has voted (rows bulk-inserted into ``election_votes``); timed is the
   closing tally (``ElectionCycle._tally``: counts per building and candidate, ranking, turnout per
   building) in one read transaction, median of 7 runs; target <= 100 ms. Also printed once: the whole
   closing (tally, results, awards, points, erasing the choices, queuing the announcements).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import telegram
from telegram import Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes

from bot.app import open_storage
from bot.clock import to_ts
from bot.models import Role, UserInfo
from storage.registry import RegistryRepo
from tests.harness import TOKEN, Harness, local, make_harness
from tests.support import RecordingRequest, updates

BUILDINGS = 20
UNITS = 10
FIRST_RESIDENT = 10_000_000
FIRST_HEAD = 9_000_000
STAFF = UserInfo(8_000_001, "Staff")
TALLY_TARGET_MS = 100.0
VOTE_RATE_TARGET = 1_000.0  # votes/s through process_update
VOTE_RATIO_TARGET = 0.25  # share of the bare-PTB rate (the same target as bench.appeals_bench)


@dataclass(frozen=True)
class Plan:
    ballots: int
    presses: int


FULL = Plan(ballots=100_000, presses=3_000)
QUICK = Plan(ballots=20_000, presses=600)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "n/a"


@dataclass
class World:
    community_id: int
    buildings: list[tuple[int, int]]  # (building id, chat id)
    heads: dict[int, list[int]]  # building id -> unit heads' user ids


async def build_world(h: Harness, residents: int) -> World:
    """The community, with ``residents`` residents spread over the units (bulk SQL, untimed)."""
    now = h.clock.now()
    ts = to_ts(now)
    async with h.services.db.write() as tx:
        reg = RegistryRepo(tx)
        await reg.upsert_user(STAFF, now, started=True)
        cid = await reg.create_community(
            name="Bench Park",
            staff_chat_id=-1008000000000,
            timezone="Asia/Shanghai",
            country="CN",
            language="en",
            created_by=STAFF.id,
            now=now,
        )
        await reg.replace_staff(cid, Role.STAFF, [STAFF.id], now)
        buildings: list[tuple[int, int]] = []
        heads: dict[int, list[int]] = {}
        units: list[tuple[int, int]] = []  # (building id, unit id)
        for b in range(BUILDINGS):
            chat_id = -1008000000100 - b
            bid = await reg.create_building(cid, chat_id, f"House {b + 1}", now)
            buildings.append((bid, chat_id))
            for u in range(UNITS):
                await reg.add_unit(bid, f"{u + 1}", u + 1)
            for n, unit in enumerate(await reg.units_of(bid)):
                head = UserInfo(FIRST_HEAD + b * UNITS + n, f"Head {b + 1}-{n + 1}")
                await reg.upsert_user(head, now, started=True)
                await reg.set_unit_head(unit.id, head.id)
                heads.setdefault(bid, []).append(head.id)
                units.append((bid, unit.id))
        await tx.executemany(
            "INSERT INTO users (id, first_name, started, updated_at) VALUES (?, ?, 1, ?)",
            ((FIRST_RESIDENT + i, f"R{i}", ts) for i in range(residents)),
        )
        await tx.executemany(
            "INSERT INTO residents (user_id, building_id, unit_id, joined_at) VALUES (?, ?, ?, ?)",
            ((FIRST_RESIDENT + i, *units[i % len(units)], ts) for i in range(residents)),
        )
    return World(cid, buildings, heads)


def building_of(world: World, i: int) -> tuple[int, int]:
    return world.buildings[(i % (BUILDINGS * UNITS)) // UNITS]


async def bare_rate(raw: list[dict[str, Any]]) -> float:
    """Callback updates per second of a bare PTB Application with one no-op CallbackQueryHandler."""

    async def noop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        return None

    rt = RecordingRequest()
    app = ApplicationBuilder().token(TOKEN).request(rt).get_updates_request(rt).build()
    app.add_handler(CallbackQueryHandler(noop))
    async with app:
        ups = [Update.de_json(r, app.bot) for r in raw]
        t0 = time.perf_counter()
        for u in ups:
            await app.process_update(u)
        elapsed = time.perf_counter() - t0
    return len(ups) / elapsed


async def run(plan: Plan, tmp: Path) -> None:
    h, app = await make_harness(tmp, local(2026, 11, 23, 10, 0))
    async with app:
        await open_storage(app)
        try:
            world = await build_world(h, plan.ballots)
            h.clock.set(local(2026, 12, 1, 10, 0))
            report = await h.services.elections.tick()
            assert report.opened == 1, report
            election = await h.services.elections.current(world.community_id)
            assert election is not None
            await app.bot_data.outbox().drain()  # the ballots go out (untimed)

            # 1. recording votes through process_update
            raw = []
            for i in range(plan.presses):
                bid, chat_id = building_of(world, i)
                voter = updates.user(FIRST_RESIDENT + i, f"R{i}")
                ballot = updates.message_dict(updates.bot_user(), updates.group_chat(chat_id, "House"), text="ballot")
                candidate = world.heads[bid][(i // 7) % UNITS]
                raw.append(updates.callback_query(voter, ballot, f"ev:{election.id}:{candidate}"))
            ups = [Update.de_json(r, app.bot) for r in raw]
            before = len(h.rt.calls)
            t0 = time.perf_counter()
            for u in ups:
                await app.process_update(u)
            elapsed = time.perf_counter() - t0
            answers = [c for c in h.rt.calls[before:] if c.method == "answerCallbackQuery"]
            assert len(answers) == plan.presses, len(answers)
            recorded = await scalar(h, "SELECT COUNT(*) FROM election_votes WHERE election_id = ?", election.id)
            assert recorded == plan.presses, recorded
            unitbot = plan.presses / elapsed
            bare = max([await bare_rate(raw) for _ in range(3)])  # best of 3: the baseline at its fastest
            ratio = unitbot / bare
            print(f"\n1. recording votes through process_update ({plan.presses} presses, {BUILDINGS} buildings)")
            print(
                f"   unitbot:  {unitbot:9,.0f} votes/s ({1000 * elapsed / plan.presses:.2f} ms per vote)"
                f"   target >= {VOTE_RATE_TARGET:,.0f}/s: {verdict(unitbot >= VOTE_RATE_TARGET)}"
            )
            print(f"   bare PTB: {bare:9,.0f} updates/s (no-op CallbackQueryHandler, best of 3)")
            print(
                f"   ratio unitbot / bare: {ratio:.1%}"
                f"   target >= {VOTE_RATIO_TARGET:.0%}: {verdict(ratio >= VOTE_RATIO_TARGET)}"
            )

            # 2. tallying every resident's ballot
            ts = to_ts(h.clock.now())
            async with h.services.db.write() as tx:
                await tx.executemany(
                    "INSERT INTO election_votes (election_id, voter_id, building_id, candidate_id, cast_at, changed_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        (
                            election.id,
                            FIRST_RESIDENT + i,
                            building_of(world, i)[0],
                            world.heads[building_of(world, i)[0]][(i * 31) % UNITS],
                            ts,
                            ts + i % 1000,
                        )
                        for i in range(plan.presses, plan.ballots)
                    ),
                )
            total = await scalar(h, "SELECT COUNT(*) FROM election_votes WHERE election_id = ?", election.id)
            service = h.services.elections
            community = await h.services.registry.chat_context(world.buildings[0][1])
            assert community is not None
            times = []
            results = None
            for _ in range(7):
                async with h.services.db.read() as tx:
                    t0 = time.perf_counter()
                    results = await service.cycle._tally(tx, community.community, election)
                    times.append(1000 * (time.perf_counter() - t0))
            assert results is not None and results.turnout.voters == total
            assert sum(s.votes for s in results.community) == total
            tally_ms = statistics.median(times)
            print(f"\n2. tallying {total:,} ballots ({BUILDINGS * UNITS} candidates, {BUILDINGS} buildings)")
            print(f"   tally (median of 7): {tally_ms:.1f} ms (min {min(times):.1f}, max {max(times):.1f})")
            print(f"   target <= {TALLY_TARGET_MS:.0f} ms: {verdict(tally_ms <= TALLY_TARGET_MS)}")
            h.clock.advance(timedelta(days=8))
            t0 = time.perf_counter()
            closed = await service.tick()
            close_ms = 1000 * (time.perf_counter() - t0)
            assert closed.closed == 1, closed
            print(f"   whole closing (tally, results, awards, points, erase choices, announcements): {close_ms:.1f} ms")
        finally:
            await app.bot_data.outbox().wait_idle()
            await h.services.db.close()


async def scalar(h: Harness, sql: str, *params: Any) -> int:
    async with h.services.db.read() as tx:
        return int(await tx.fetchval(sql, params))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.votes_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 ballots and 600 presses")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    plan = QUICK if args.quick else FULL
    print(
        f"unitbot election benchmarks ({'quick' if args.quick else 'full'}): Python {platform.python_version()},"
        f" python-telegram-bot {telegram.__version__}, SQLite {sqlite3.sqlite_version}, {platform.machine()}"
    )
    print(f"load average before: {load()} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="unitbot-votes-bench-") as tmp:
        asyncio.run(run(plan, Path(tmp)))
    print(f"load average after:  {load()}")


if __name__ == "__main__":
    main()
