"""The district registry import (issue 11) as it grows: 100 / 1,000 buildings of 10 units, each unit
with its head and each building with its building head (1,100 / 11,000 heads), side by side in one
run (a benchmark, not a test).

    .venv/bin/python -m bench.district_bench                 # 100 and 1,000 buildings
    .venv/bin/python -m bench.district_bench --sizes 100 300 # quicker

Printed for each size: reading and checking the CSV (``parse_registry``), the import itself
(``DistrictService.import_registry``: one transaction, every head a new invite), a re-import of the same
file (nothing changes) and the QR sheet of 80 heads (one PDF of 10 pages), in seconds, and the ratio
of each to the smallest size of the same run (the baseline): linear growth shows as the ratio of the
sizes, nothing worse. File SQLite, in process, on this machine (the load average is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def registry_csv(buildings: int) -> bytes:
    rows = ["building,unit,unit head,building head"]
    for b in range(buildings):
        rows += [f"Tower {b},{u},Head {b}-{u},Chief {b}" for u in range(1, 11)]
    return "\n".join(rows).encode()


async def one(size: int) -> dict[str, float]:
    from bot.app import open_storage
    from bot.fonts import find_font
    from bot.models import UserInfo
    from bot.posters import InviteCell, render_invite_sheet
    from bot.services.district.sheet import parse_registry, read_csv
    from tests.harness import local, make_harness

    with tempfile.TemporaryDirectory() as tmp:
        h, app = await make_harness(Path(tmp), local(2026, 11, 23, 10, 0))
        async with app:
            await open_storage(app)
            try:
                await h.setup_community()
                staff = UserInfo(h.p.staff["id"], "Olga")
                data = registry_csv(size)
                t0 = time.perf_counter()
                sheet = parse_registry(read_csv(data))
                t1 = time.perf_counter()
                report = await h.services.district.import_registry(staff, h.p.staff_chat["id"], sheet)
                t2 = time.perf_counter()
                again = await h.services.district.import_registry(staff, h.p.staff_chat["id"], sheet)
                t3 = time.perf_counter()
                assert len(report.links) == size * 11 and again.still_pending == size * 11
                cells = [
                    InviteCell(link.person, link.building, "scan", f"https://t.me/x?start={link.payload}")
                    for link in report.links[:80]
                ]
                t4 = time.perf_counter()
                render_invite_sheet(cells, "Invites", find_font(None))
                t5 = time.perf_counter()
            finally:
                await h.services.db.close()
    return {"parse": t1 - t0, "import": t2 - t1, "re-import": t3 - t2, "sheet of 80": t5 - t4}


async def run(sizes: list[int]) -> None:
    print(f"load average before: {load()}")
    results = {size: await one(size) for size in sizes}
    base = results[sizes[0]]
    print(f"{'buildings':>10} {'heads':>7} " + " ".join(f"{k:>22}" for k in base))
    for size, figures in results.items():
        cells = " ".join(f"{v:8.2f} s ({v / base[k]:6.1f}x)".rjust(22) for k, v in figures.items())
        print(f"{size:>10} {size * 11:>7} {cells}")
    print(f"load average after: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    asyncio.run(run(sorted(parser.parse_args().sizes)))


if __name__ == "__main__":
    main()
