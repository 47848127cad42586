"""The staff dashboard's data as history grows (issue 11: a year of a 10,000-unit district, about
200,000 appeals): the appeal list (staff, no filter; overdue only; a building head's building), open
and overdue by building, the heads' load, one appeal's timeline, and a whole page request through
the real aiohttp route (signature check, scope, rendering), at 2,000 and 200,000 appeals side by side
in one run (a benchmark, not a test).

    .venv/bin/python -m bench.dashboard_bench                        # 2k and 200k
    .venv/bin/python -m bench.dashboard_bench --sizes 2000 20000     # quicker

Each figure is the median time of one call, in process, on a file SQLite database. The history is
bulk-loaded with ``executemany``: 500 buildings of one community over a year, 98% closed; what is open
does not grow with history (300 open appeals in every size). The baseline is the smallest size of the
same run: the ratio says how much each read grew. The overview's rates come from the statistics
service, whose own benchmark is bench/stats_bench.py (target: under 200 ms for the overview's data).
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

TARGET_MS = 200.0  # the target for the overview page's data
BUILDINGS = 500
HISTORY_ROW = (
    "INSERT INTO appeals (community_id, building_id, unit_id, resident_id, category, status, level,"
    " assignee_user_id, body, body_hash, created_at, first_reply_due_at, first_reply_at, due_at, resolved_at,"
    " closed_at, updated_at) VALUES (?, ?, ?, ?, 'problem', ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
YEAR = 365 * 86400


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def run(sizes: list[int], repeat: int) -> None:
    import aiohttp

    from bot.app import open_storage
    from bot.clock import to_ts
    from bot.models import UserInfo
    from bot.services.dashboard import parse_filter
    from bot.web import WebServer
    from bot.web.dashboard import DashboardRoutes
    from tests.harness import TOKEN, local, make_harness
    from tests.test_dashboard import init_data

    with tempfile.TemporaryDirectory() as tmp:
        h, app = await make_harness(Path(tmp), local(2026, 11, 23, 10, 0))
        async with app:
            await open_storage(app)
            server: WebServer | None = None
            try:
                await h.setup_community()
                p = h.p
                db = h.services.db
                dash = h.services.dashboard
                now = to_ts(h.clock.now())
                async with db.read() as tx:
                    unit = await tx.fetchone(
                        "SELECT id, building_id FROM units WHERE head_user_id = ?", (p.uhead["id"],)
                    )
                    community = await tx.fetchval("SELECT community_id FROM buildings WHERE id = ?", (unit[1],))
                building, unit_id = unit[1], unit[0]
                async with db.write() as tx:
                    first = int(await tx.fetchval("SELECT MAX(id) FROM buildings")) + 1
                    await tx.executemany(
                        "INSERT INTO buildings (id, community_id, chat_id, title, head_user_id, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            (first + i, community, -1008000000000 - i, f"B{i:03d}", 70_000_000 + i, now)
                            for i in range(BUILDINGS)
                        ),
                    )
                    first_unit = int(await tx.fetchval("SELECT MAX(id) FROM units")) + 1
                    await tx.executemany(
                        "INSERT INTO units (id, building_id, name, position, head_user_id) VALUES (?, ?, '1', 1, ?)",
                        ((first_unit + i, first + i, 71_000_000 + i) for i in range(BUILDINGS)),
                    )
                    open_rows = [
                        (first + i % BUILDINGS, first_unit + i % BUILDINGS, 71_000_000 + i % BUILDINGS, i % 3)
                        for i in range(300)
                    ]
                    await tx.executemany(
                        "INSERT INTO appeals (community_id, building_id, unit_id, resident_id, category, status, level,"
                        " assignee_user_id, body, body_hash, created_at, first_reply_due_at, due_at, updated_at)"
                        " VALUES (?, ?, ?, ?, 'problem', 'new', 0, ?, 'open one', 'h', ?, ?, ?, ?)",
                        (
                            (community, b, u, 80_000_000 + n, head, now - 3600, now + 86400, now + (n - 150) * 600, now)
                            for n, (b, u, head, _) in enumerate(open_rows)
                        ),
                    )
                    appeal_id = int(await tx.fetchval("SELECT MAX(id) FROM appeals"))
                    await tx.executemany(
                        "INSERT INTO appeal_events (appeal_id, at, actor_id, kind, level, detail)"
                        " VALUES (?, ?, ?, ?, 0, '{}')",
                        ((appeal_id, now - 3600 + i, None, "reminded" if i else "filed") for i in range(12)),
                    )
                loaded = 0

                def history(start: int, count: int) -> Any:
                    for n in range(start, start + count):
                        b, u = (
                            (building, unit_id) if n % 100 == 0 else (first + n % BUILDINGS, first_unit + n % BUILDINGS)
                        )
                        created = now - YEAR + (n * 7919) % YEAR
                        yield (
                            community,
                            b,
                            u,
                            60_000_000 + n % 100_000,
                            "closed",
                            n % 3,
                            f"old {n}",
                            "h",
                            created,
                            created + 86400,
                            created + 3600,
                            created + 3 * 86400,
                            created + 2 * 86400,
                            created + 3 * 86400,
                            created + 3 * 86400,
                        )

                staff = UserInfo(p.staff["id"], p.staff["first_name"])
                bhead = UserInfo(p.bhead["id"], p.bhead["first_name"])
                routes = DashboardRoutes(dash, h.services.catalogs, TOKEN, h.clock)
                server = WebServer("127.0.0.1", 0, [routes])
                await server.start()
                base = f"http://127.0.0.1:{server.port}"
                session = aiohttp.ClientSession()
                auth = {"Authorization": "tma " + init_data(p.staff, at=h.clock.now())}

                async def page(path: str) -> None:
                    async with session.get(base + path, headers=auth) as response:
                        assert response.status == 200, await response.text()
                        await response.read()

                async def as_staff(call: Callable[[Any], Awaitable[Any]]) -> Any:
                    return await call(await dash.viewer(staff))

                async def as_bhead(call: Callable[[Any], Awaitable[Any]]) -> Any:
                    return await call(await dash.viewer(bhead))

                reads: dict[str, Callable[[], Awaitable[Any]]] = {
                    "appeal list (staff)": lambda: as_staff(lambda v: dash.appeals(v, parse_filter({}))),
                    "appeal list, overdue": lambda: as_staff(lambda v: dash.appeals(v, parse_filter({"overdue": "1"}))),
                    "appeal list, closed": lambda: as_staff(
                        lambda v: dash.appeals(v, parse_filter({"status": "closed"}))
                    ),
                    "building head's list": lambda: as_bhead(
                        lambda v: dash.appeals(v, parse_filter({"building": str(building)}))
                    ),
                    "open by building": lambda: as_staff(dash.open_by_building),
                    "heads' load": lambda: as_staff(dash.heads),
                    "one timeline": lambda: as_staff(lambda v: dash.timeline(v, appeal_id)),
                    "GET /app/api/appeals": lambda: page("/app/api/appeals"),
                }
                results: dict[str, list[float]] = {name: [] for name in reads}
                cpu: dict[str, list[float]] = {name: [] for name in reads}
                try:
                    for size in sizes:
                        t0 = time.perf_counter()
                        async with db.write() as tx:
                            await tx.executemany(
                                HISTORY_ROW,
                                history(loaded, size - loaded),
                            )
                            await tx.execute("ANALYZE")
                        loaded = size
                        print(f"  {size:>9,} appeals loaded in {time.perf_counter() - t0:.1f}s", flush=True)
                        for name, read in reads.items():
                            for _ in range(3):
                                await read()  # warm
                            times, cpu_times = [], []
                            for _ in range(repeat):
                                t, c = time.perf_counter(), time.process_time()
                                await read()
                                times.append(time.perf_counter() - t)
                                cpu_times.append(time.process_time() - c)
                            results[name].append(statistics.median(times) * 1000)
                            cpu[name].append(statistics.median(cpu_times) * 1000)
                finally:
                    await session.close()
            finally:
                if server is not None:
                    await server.stop()
                await app.bot_data.outbox().wait_idle()
                await app.bot_data.services.db.close()
    head = "".join(f"{s:>12,}" for s in sizes)
    # wall time is what a person waits; CPU time of the process is steadier on a busy machine
    for title, table in (("median wall ms per read", results), ("median CPU ms per read", cpu)):
        print(f"\n  {title:<24}{head}   ratio largest/smallest   <= {TARGET_MS:.0f} ms at the largest")
        for name, ms in table.items():
            cells = "".join(f"{v:>12.2f}" for v in ms)
            verdict = "PASS" if ms[-1] <= TARGET_MS else "MISS"
            print(f"  {name:<24}{cells}   {ms[-1] / max(ms[0], 1e-6):>10.2f}x             {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 200_000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"dashboard bench: {Path.cwd()}; load {load()}")
    asyncio.run(run(sorted(args.sizes), args.repeat))
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
