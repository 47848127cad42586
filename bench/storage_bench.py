"""Storage engines side by side (issue 10): filing throughput and sweep time on PostgreSQL against
SQLite, in the same run, through the real application (tests/harness.py: PTB Application, the
recording fake transport, the fake clock), so the figures include everything a filing does.

    .venv/bin/python -m bench.storage_bench                    # 200 filings, then a sweep of them
    .venv/bin/python -m bench.storage_bench --filings 500
    UNITBOT_TEST_POSTGRES=postgresql://me@db-host/postgres .venv/bin/python -m bench.storage_bench

* **filing**: residents file appeals through the deep link (start -> unit -> category -> text), one
  after another; appeals per second, and per filing the wall time.
* **sweep**: the clock moves past every appeal's first-reply deadline; one sweep escalates them all
  (each escalation: the appeal, its history, its deadlines, the notices in the outbox); seconds.
Printed: each figure for both engines and the ratio PostgreSQL / SQLite. PostgreSQL is a local
server here (127.0.0.1): a round trip costs ~50-100 us instead of SQLite's in-process call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.app import open_storage
from tests.harness import Harness, local, make_harness
from tests.support import updates
from tests.support.engines import CURRENT, PostgresServer

START = local(2026, 11, 23, 10, 0)  # Monday, a working day in Shanghai


@dataclass
class Figures:
    engine: str
    filings: int
    filing_seconds: float
    sweep_seconds: float
    escalated: int

    @property
    def per_second(self) -> float:
        return self.filings / self.filing_seconds


async def run_engine(engine: str, server: PostgresServer | None, filings: int, workdir: Path) -> Figures:
    CURRENT.begin(engine, server)
    try:
        h, app = await make_harness(workdir / engine, START)
        (workdir / engine).mkdir(exist_ok=True)
        async with app:
            await open_storage(app)
            try:
                return await measure(engine, h, filings)
            finally:
                await app.bot_data.outbox().wait_idle()
                await app.bot_data.services.db.close()
    finally:
        CURRENT.end()


async def measure(engine: str, h: Harness, filings: int) -> Figures:
    await h.setup_community(units="1-40")
    residents = [updates.user(50_000 + i, f"R{i}", f"r{i}") for i in range(filings)]
    await h.file_appeal(who=updates.user(49_999, "Warm", "warm"))  # warm-up (caches, prepared plans)
    began = time.perf_counter()
    for i, resident in enumerate(residents):
        await h.file_appeal(who=resident, text=f"Problem number {i}: the light on floor {i % 9} is out")
    filing = time.perf_counter() - began
    h.clock.set(local(2026, 11, 24, 10, 30))  # past every first-reply deadline
    began = time.perf_counter()
    report = await h.services.sweeper.sweep()
    sweep = time.perf_counter() - began
    return Figures(engine, filings, filing, sweep, report.fired.get("escalated", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filings", type=int, default=200)
    args = parser.parse_args()
    server = PostgresServer()
    if not server.available():
        raise SystemExit(f"PostgreSQL unreachable ({server.error}); set UNITBOT_TEST_POSTGRES")
    try:
        with tempfile.TemporaryDirectory(prefix="unitbot-storage-bench-") as tmp:
            figures = [
                asyncio.run(run_engine("sqlite", None, args.filings, Path(tmp))),
                asyncio.run(run_engine("postgres", server, args.filings, Path(tmp))),
            ]
    finally:
        server.close()
    sqlite, pg = figures
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.filings} filings each")
    print(f"{'':10} {'filings/s':>10} {'ms/filing':>10} {'sweep s':>9} {'escalated':>10}")
    for f in figures:
        print(
            f"{f.engine:10} {f.per_second:10.1f} {1000 * f.filing_seconds / f.filings:10.2f}"
            f" {f.sweep_seconds:9.3f} {f.escalated:10}"
        )
    print(
        f"PostgreSQL / SQLite: filing throughput x{pg.per_second / sqlite.per_second:.2f},"
        f" sweep time x{pg.sweep_seconds / sqlite.sweep_seconds:.2f}"
    )


if __name__ == "__main__":
    main()
