"""Lists as history grows (issue 8): ``/status`` in a building chat, ``/open`` of a unit head, of a
building head and in the staff chat, and ``/myappeals``, at 1,000 / 100,000 / 1,000,000 appeals,
side by side in one run (a benchmark, not a test).

    .venv/bin/python -m bench.lists_bench                      # 1k, 100k, 1M
    .venv/bin/python -m bench.lists_bench --sizes 1000 100000  # quicker
    .venv/bin/python bench/lists_bench.py --tree /tmp/base     # another checkout's code, same data

Each figure is the median time of one command through ``Application.process_update`` (the real
handlers, the recording fake Bot API, the answer sent), in process, on a file SQLite database.
The history is bulk-loaded with ``executemany``: 1,000 building chats of one community, created over
five years, 99% closed; the measured building gets 1% of it and its resident 0.1%. What is open does
not grow with history: 20 appeals in the measured unit, 30 at the staff level, in every size. The
baseline is the smallest size of the same run: the ratio says how much each list grew.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TARGET_MS = 5.0
OTHER_BUILDINGS = 1_000
FIVE_YEARS = 5 * 365 * 86400


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def run(sizes: list[int], repeat: int) -> None:
    from bot.app import open_storage
    from bot.clock import to_ts
    from tests.harness import local, make_harness
    from tests.support import updates

    with tempfile.TemporaryDirectory() as tmp:
        h, app = await make_harness(Path(tmp), local(2026, 11, 23, 10, 0))
        async with app:
            await open_storage(app)
            try:
                await h.setup_community()
                p = h.p
                db = h.services.db
                now = to_ts(h.clock.now())
                async with db.read() as tx:
                    unit = await tx.fetchone(
                        "SELECT id, building_id FROM units WHERE head_user_id = ?", (p.uhead["id"],)
                    )
                    community = await tx.fetchval("SELECT community_id FROM buildings WHERE id = ?", (unit[1],))
                building, unit_id = unit[1], unit[0]
                async with db.write() as tx:  # other buildings of the community, one unit each
                    first = int(await tx.fetchval("SELECT MAX(id) FROM buildings")) + 1
                    await tx.executemany(
                        "INSERT INTO buildings (id, community_id, chat_id, title, created_at) VALUES (?, ?, ?, ?, ?)",
                        ((first + i, community, -1007000000000 - i, f"B{i}", now) for i in range(OTHER_BUILDINGS)),
                    )
                    first_unit = int(await tx.fetchval("SELECT MAX(id) FROM units")) + 1
                    await tx.executemany(
                        "INSERT INTO units (id, building_id, name, position) VALUES (?, ?, '1', 1)",
                        ((first_unit + i, first + i) for i in range(OTHER_BUILDINGS)),
                    )
                    # what is open, whatever the history: 20 in the measured unit, 30 at the staff level
                    open_rows = [
                        (community, building, unit_id, p.resident["id"], "new", 0, p.uhead["id"], now + 3600 * (i + 1))
                        for i in range(20)
                    ] + [
                        (community, first + i, first_unit + i, 50_000_000 + i, "in_progress", 2, None, now + 600 * i)
                        for i in range(30)
                    ]
                    await tx.executemany(
                        "INSERT INTO appeals (community_id, building_id, unit_id, resident_id, category, status, level,"
                        " assignee_user_id, body, body_hash, created_at, first_reply_due_at, due_at, updated_at)"
                        " VALUES (?, ?, ?, ?, 'problem', ?, ?, ?, 'open one', 'h', ?, ?, ?, ?)",
                        ((*r[:7], now - 3600, now + 86400, r[7], now) for r in open_rows),
                    )
                loaded = 0

                def history(start: int, count: int) -> Any:
                    for n in range(start, start + count):
                        if n % 100 == 0:
                            b, u = building, unit_id
                        else:
                            b, u = first + n % OTHER_BUILDINGS, first_unit + n % OTHER_BUILDINGS
                        resident = p.resident["id"] if n % 1000 == 0 else 60_000_000 + n % 200_000
                        created = now - FIVE_YEARS + (n * 7919) % FIVE_YEARS
                        resolved = created + 2 * 86400
                        yield (
                            community,
                            b,
                            u,
                            resident,
                            "closed",
                            n % 3,
                            f"old {n}",
                            "h",
                            created,
                            created + 86400,
                            created + 3600,
                            created + 3 * 86400,
                            resolved,
                            resolved + 86400,
                            resolved + 86400,
                        )

                commands: dict[str, Callable[[], Awaitable[Any]]] = {
                    "/status (building chat)": lambda: h.cmd(p.staff, p.building_chat, "status"),
                    "/open (unit head)": lambda: h.cmd(p.uhead, updates.private_chat(p.uhead), "open"),
                    "/open (building head)": lambda: h.cmd(p.bhead, updates.private_chat(p.bhead), "open"),
                    "/open (staff chat)": lambda: h.cmd(p.staff, p.staff_chat, "open"),
                    "/myappeals": lambda: h.cmd(p.resident, updates.private_chat(p.resident), "myappeals"),
                }
                results: dict[str, list[float]] = {name: [] for name in commands}
                for size in sizes:
                    t0 = time.perf_counter()
                    async with db.write() as tx:
                        # load first, index after (the tree's own indexes on appeals, re-created as they were)
                        indexes = [
                            (r[0], r[1])
                            for r in await tx.fetchall(
                                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'appeals'"
                                " AND sql IS NOT NULL"
                            )
                        ]
                        for name, _ in indexes:
                            await tx.execute(f"DROP INDEX {name}")
                        await tx.executemany(
                            "INSERT INTO appeals (community_id, building_id, unit_id, resident_id, category, status,"
                            " level, assignee_user_id, body, body_hash, created_at, first_reply_due_at,"
                            " first_reply_at, due_at, resolved_at, closed_at, updated_at)"
                            " VALUES (?, ?, ?, ?, 'problem', ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            history(loaded, size - loaded),
                        )
                        for _, sql in indexes:
                            await tx.execute(sql)
                    loaded = size
                    async with db.write() as tx:
                        await tx.execute("ANALYZE")
                    print(f"  {size:>9,} appeals loaded in {time.perf_counter() - t0:.1f}s", flush=True)
                    for name, command in commands.items():
                        for _ in range(3):
                            await command()  # warm
                        times = []
                        for _ in range(repeat):
                            t = time.perf_counter()
                            await command()
                            times.append(time.perf_counter() - t)
                        results[name].append(statistics.median(times) * 1000)
            finally:
                await app.bot_data.outbox().wait_idle()
                await app.bot_data.services.db.close()
    head = "".join(f"{s:>12,}" for s in sizes)
    print(f"\n  {'median ms per command':<26}{head}   ratio largest/smallest   <= {TARGET_MS:.0f} ms at the largest")
    for name, ms in results.items():
        cells = "".join(f"{v:>12.2f}" for v in ms)
        verdict = "PASS" if ms[-1] <= TARGET_MS else "MISS"
        print(f"  {name:<26}{cells}   {ms[-1] / ms[0]:>10.2f}x             {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--tree", type=Path, help="run another checkout's code (its migrations and queries)")
    args = parser.parse_args()
    if args.tree is not None:
        env = {**os.environ, "PYTHONPATH": str(args.tree.resolve())}
        more = ["--sizes", *map(str, args.sizes), "--repeat", str(args.repeat)]
        raise SystemExit(subprocess.call([sys.executable, str(HERE / "lists_bench.py"), *more], cwd=args.tree, env=env))
    print(f"lists bench: {Path.cwd()}; load {load()}")
    asyncio.run(run(sorted(args.sizes), args.repeat))
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
