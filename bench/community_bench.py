"""Micro-wishes and the care list as history grows (issue 12): the per-update and per-sweep costs
they add, at a small and a large history, side by side in one run (a benchmark, not a test).

    .venv/bin/python -m bench.community_bench                       # 1,000 and 200,000 of each
    .venv/bin/python -m bench.community_bench --sizes 1000 20000    # quicker

History is bulk-loaded with ``executemany`` into the harness's community (a file SQLite database):
closed wishes with their finished due rows, and care-list households of other units with their
visits and finished due rows. What is open does not grow: 5 open wishes in the measured building, 5
households of the measured unit. Timed (median):

* the private-message hook both features add to every private message of a person with no wish
  and no care entry (``WishService.take_private`` + ``CareListService.take_private``);
* the wish and care sweeps with nothing due (``WishSweep.tick`` + ``VisitService.tick``);
* ``/wishes`` in the building chat and ``/care`` of the unit head, through ``process_update``.

The baseline is the smallest size of the same run: the ratio says how much each grew.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def run(sizes: list[int], repeat: int) -> None:
    from bot.app import open_storage
    from bot.clock import to_ts
    from bot.models import Content, UserInfo
    from tests.harness import local, make_harness
    from tests.support import updates

    with tempfile.TemporaryDirectory() as tmp:
        h, app = await make_harness(Path(tmp), local(2026, 11, 23, 10, 0))
        async with app:
            await open_storage(app)
            try:
                await h.setup_community()
                p, db = h.p, h.services.db
                now = to_ts(h.clock.now())
                async with db.read() as tx:
                    unit = await tx.fetchone(
                        "SELECT id, building_id FROM units WHERE head_user_id = ?", (p.uhead["id"],)
                    )
                    community = await tx.fetchval("SELECT community_id FROM buildings WHERE id = ?", (unit[1],))
                    others = [r[0] for r in await tx.fetchall("SELECT id FROM units WHERE id <> ?", (unit[0],))]
                building, unit_id = unit[1], unit[0]
                async with db.write() as tx:  # what is open: the same at every size
                    for i in range(5):
                        await tx.execute(
                            "INSERT INTO wishes (community_id, building_id, unit_id, resident_id, state, body,"
                            " created_at, posted_at, wanted_by) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?)",
                            (community, building, unit_id, 70_000_000 + i, f"open wish {i}", now, now, now + 86400 * 7),
                        )
                        await tx.execute(
                            "INSERT INTO care_households (community_id, building_id, unit_id, label, need, every_days,"
                            " state, created_by, created_at, next_due_at)"
                            " VALUES (?, ?, ?, ?, 'alone', 7, 'active', ?, ?, ?)",
                            (community, building, unit_id, f"{100 + i}", p.uhead["id"], now, now + 86400 * 7),
                        )
                loaded = 0
                resident = UserInfo(p.resident["id"], "Rita")
                content = Content("text", p.resident["id"], 1, "hello")
                services = h.services

                async def hook() -> None:
                    await services.wishes.take_private(resident, content)
                    await services.care.take_private(resident, content)

                async def sweeps() -> None:
                    await services.wish_sweep.tick()
                    await services.visits.tick()

                measured: dict[str, Callable[[], Awaitable[Any]]] = {
                    "private-message hook": hook,
                    "sweeps, nothing due": sweeps,
                    "/wishes (building chat)": lambda: h.cmd(p.resident, p.building_chat, "wishes"),
                    "/care (unit head)": lambda: h.cmd(p.uhead, updates.private_chat(p.uhead), "care"),
                }
                results: dict[str, list[float]] = {name: [] for name in measured}
                for size in sizes:
                    t0 = time.perf_counter()
                    async with db.write() as tx:
                        first = int(await tx.fetchval("SELECT COALESCE(MAX(id), 0) FROM wishes")) + 1
                        count = size - loaded
                        await tx.executemany(
                            "INSERT INTO wishes (id, community_id, building_id, unit_id, resident_id, state, body,"
                            " created_at, posted_at, closed_at, volunteer_id)"
                            " VALUES (?, ?, ?, ?, ?, ?, 'old', ?, ?, ?, ?)",
                            (
                                (first + n, community, building, unit_id, 80_000_000 + n % 50_000,
                                 "fulfilled" if n % 10 else "expired", now - 86400 * 400, now - 86400 * 400,
                                 now - 86400 * 390, 90_000_000 + n % 1000)
                                for n in range(count)
                            ),
                        )  # fmt: skip
                        await tx.executemany(
                            "INSERT INTO wish_deadlines (wish_id, kind, due_at, done_at, outcome)"
                            " VALUES (?, ?, ?, ?, 'x')",
                            (
                                (first + n, k, now - 86400 * 395, now - 86400 * 395)
                                for n in range(count)
                                for k in ("reshow", "expire")
                            ),
                        )  # fmt: skip
                        hh = int(await tx.fetchval("SELECT COALESCE(MAX(id), 0) FROM care_households")) + 1
                        await tx.executemany(
                            "INSERT INTO care_households (id, community_id, building_id, unit_id, label, need,"
                            " every_days, state, created_by, created_at, next_due_at)"
                            " VALUES (?, ?, ?, ?, 'old', 'ill', 30, ?, 1, ?, ?)",
                            (
                                (hh + n, community, building, others[n % len(others)], "removed" if n % 2 else "active",
                                 now - 86400 * 400, now + 86400 * 30)
                                for n in range(count)
                            ),
                        )  # fmt: skip
                        await tx.executemany(
                            "INSERT INTO care_deadlines (household_id, kind, due_for, due_at, done_at, outcome)"
                            " VALUES (?, 'due', ?, ?, ?, 'visited')",
                            ((hh + n, now - 86400 * 300, now - 86400 * 300, now - 86400 * 299) for n in range(count)),
                        )
                        await tx.executemany(
                            "INSERT INTO care_visits (household_id, community_id, visitor_id, outcome, visited_at)"
                            " VALUES (?, ?, 1, 'well', ?)",
                            ((hh + n, community, now - 86400 * 299) for n in range(count)),
                        )
                        await tx.execute("ANALYZE")
                    loaded = size
                    print(f"  {size:>9,} wishes and households loaded in {time.perf_counter() - t0:.1f}s", flush=True)
                    for name, call in measured.items():
                        for _ in range(3):
                            await call()
                        times = []
                        for _ in range(repeat):
                            t = time.perf_counter()
                            await call()
                            times.append(time.perf_counter() - t)
                        results[name].append(statistics.median(times) * 1000)
            finally:
                await app.bot_data.outbox().wait_idle()
                await app.bot_data.services.db.close()
    head = "".join(f"{s:>12,}" for s in sizes)
    print(f"\n  {'median ms':<26}{head}   ratio largest/smallest")
    for name, ms in results.items():
        cells = "".join(f"{v:>12.2f}" for v in ms)
        print(f"  {name:<26}{cells}   {ms[-1] / ms[0]:>10.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 200_000])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(f"load average before: {load()}")
    asyncio.run(run(sorted(args.sizes), args.repeat))
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
