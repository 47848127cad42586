"""Benchmark of ``/points`` (not a test): ``python -m bench.points_bench [--n N] [--heads H] [--entries E]``.

A community of 10,000 unit heads (one building of 10,000 units, each with its head, a balance and a
month total) and one head, Uma, with 10,000 ledger entries, bulk-loaded into a migrated file SQLite
database after a normal set-up through the bot's own commands. Timed: ``Application.process_update``
of Uma's ``/points`` in her private chat (the reply, with balance, both ranks and the latest entries,
is sent to the recording fake transport inside the timed section), median over N runs, against a bare
PTB Application with one no-op ``CommandHandler`` processing the same update on the same kind of
transport, measured in the same run. Target: ≤ 10 ms of processing per ``/points``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from telegram import Update
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from bot.app import open_storage
from bot.clock import to_ts
from bot.services.point_rules import month_key
from storage.db import Tx
from tests.harness import TOKEN, Harness, local, make_harness
from tests.support import RecordingRequest, updates

START = local(2026, 11, 23, 10, 0)
TARGET_MS = 10.0
FIRST_HEAD_ID = 7_000_000


def timed(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.9)]


async def bare_ms(raw: dict[str, object], n: int) -> tuple[float, float]:
    """Median and p90 ms of a bare PTB Application with one no-op CommandHandler."""

    async def noop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        return None

    rt = RecordingRequest()
    app = ApplicationBuilder().token(TOKEN).request(rt).get_updates_request(rt).build()
    app.add_handler(CommandHandler("points", noop))
    samples = []
    async with app:
        ups = [Update.de_json(raw, app.bot) for _ in range(n + 10)]
        for i, u in enumerate(ups):
            t0 = time.perf_counter()
            await app.process_update(u)
            if i >= 10:  # warm-up
                samples.append((time.perf_counter() - t0) * 1000)
    return timed(samples)


async def load(h: Harness, heads: int, entries: int) -> tuple[int, int]:
    """Bulk rows: ``heads`` unit heads with balances and month totals, ``entries`` entries for Uma."""
    services = h.services
    ctx = await services.registry.chat_context(h.p.staff_chat["id"])
    community = ctx.community
    building = (await services.registry.chat_context(h.p.building_chat["id"])).building
    now = to_ts(START)
    month = month_key(START, community)
    uma = h.p.uhead["id"]
    async with services.db.write() as tx:
        await _bulk(tx, community.id, building.id, uma, heads, entries, now, month)
    return community.id, uma


async def _bulk(
    tx: Tx, community_id: int, building_id: int, uma: int, heads: int, entries: int, now: int, month: str
) -> None:
    others = [FIRST_HEAD_ID + i for i in range(heads - 1)]
    await tx.executemany(
        "INSERT INTO users (id, first_name, username, started, updated_at) VALUES (?, ?, ?, 1, ?)",
        [(uid, f"Head{uid}", f"head{uid}", now) for uid in others],
    )
    await tx.executemany(
        "INSERT INTO units (building_id, name, position, head_user_id) VALUES (?, ?, ?, ?)",
        [(building_id, f"X{i}", 100 + i, uid) for i, uid in enumerate(others)],
    )
    # every other head: one entry, a balance and a month total, spread over 0..99,999 so that the
    # timed head ranks somewhere in the middle (a rank counts the people ahead)
    rows = [(uid, (uid * 7919) % 100_000) for uid in others]
    await tx.executemany(
        "INSERT INTO ledger (community_id, user_id, amount, reason, cause_key, month, ranked, created_at)"
        " VALUES (?, ?, ?, 'manual.award', ?, ?, 1, ?)",
        [(community_id, uid, pts, f"bench:{uid}", month, now) for uid, pts in rows],
    )
    await tx.executemany(
        "INSERT INTO balances (community_id, user_id, balance, earned, entries, updated_at) VALUES (?, ?, ?, ?, 1, ?)",
        [(community_id, uid, pts, pts, now) for uid, pts in rows],
    )
    await tx.executemany(
        "INSERT INTO monthly_points (community_id, month, user_id, points) VALUES (?, ?, ?, ?)",
        [(community_id, month, uid, pts) for uid, pts in rows],
    )
    # Uma: `entries` entries over the last months, the newest this month
    months = [f"2026-{m:02d}" for m in range(1, 12)]
    mine = [(i, 1 + i % 5, months[min(i * len(months) // entries, len(months) - 1)]) for i in range(entries)]
    await tx.executemany(
        "INSERT INTO ledger (community_id, user_id, amount, reason, cause_key, month, ranked, created_at, note)"
        " VALUES (?, ?, ?, 'manual.award', ?, ?, 1, ?, ?)",
        [(community_id, uma, amount, f"bench:uma:{i}", m, now - (entries - i), f"task {i}") for i, amount, m in mine],
    )
    total = sum(a for _, a, _ in mine)
    this_month = sum(a for _, a, m in mine if m == month)
    await tx.execute(
        "INSERT INTO balances (community_id, user_id, balance, earned, entries, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (community_id, user_id) DO UPDATE SET balance = excluded.balance, earned = excluded.earned,"
        " entries = excluded.entries",
        (community_id, uma, total, total, entries, now),
    )
    await tx.execute(
        "INSERT INTO monthly_points (community_id, month, user_id, points) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (community_id, month, user_id) DO UPDATE SET points = excluded.points",
        (community_id, month, uma, this_month),
    )


async def main(n: int, heads: int, entries: int) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        h, app = await make_harness(Path(tmp), START)
        async with app:
            await open_storage(app)
            try:
                await h.setup_community()
                t0 = time.perf_counter()
                await load(h, heads, entries)
                took = time.perf_counter() - t0
                print(f"loaded {heads:,} unit heads and {entries:,} entries for one of them in {took:.1f} s")
                raw = updates.command(h.p.uhead, updates.private_chat(h.p.uhead), "points")
                ups = [Update.de_json(raw, app.bot) for _ in range(n + 10)]
                samples = []
                for i, u in enumerate(ups):
                    t0 = time.perf_counter()
                    await app.process_update(u)
                    if i >= 10:
                        samples.append((time.perf_counter() - t0) * 1000)
                reply = h.rt.texts(h.p.uhead["id"])[-1]
                # for information: /top ranks the same people (every head), the month's and all time
                top_raw = updates.command(h.p.uhead, updates.private_chat(h.p.uhead), "top")
                top_samples = []
                for i, u in enumerate(Update.de_json(top_raw, app.bot) for _ in range(n // 4 + 5)):
                    t0 = time.perf_counter()
                    await app.process_update(u)
                    if i >= 5:
                        top_samples.append((time.perf_counter() - t0) * 1000)
            finally:
                await app.bot_data.outbox().wait_idle()
                await app.bot_data.services.db.close()
    base_med, base_p90 = await bare_ms(raw, n)
    med, p90 = timed(samples)
    print("reply:\n  " + reply.replace("\n", "\n  "))
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"/points (unitbot, {n} runs):        median {med:.3f} ms   p90 {p90:.3f} ms")
    print(f"bare PTB, no-op CommandHandler:     median {base_med:.3f} ms   p90 {base_p90:.3f} ms")
    print(f"processing beyond bare PTB:         {med - base_med:.3f} ms;  ratio unitbot / bare = {med / base_med:.1f}x")
    top_med, top_p90 = timed(top_samples)
    print(f"/top (unitbot, {len(top_samples)} runs):  median {top_med:.3f} ms   p90 {top_p90:.3f} ms  (no target)")
    ok = med <= TARGET_MS
    print(f"{'PASS' if ok else 'MISS'}: target <= {TARGET_MS:.0f} ms per /points (rank included)")
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=200, help="timed /points updates (median reported)")
    parser.add_argument("--heads", type=int, default=10_000, help="unit heads in the community")
    parser.add_argument("--entries", type=int, default=10_000, help="ledger entries of the timed unit head")
    args = parser.parse_args()
    raise SystemExit(0 if asyncio.run(main(args.n, args.heads, args.entries)) else 1)
