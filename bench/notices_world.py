"""Builds the database of the notices benchmark (run by ``bench.notices_bench`` as a script, with the
code tree under test first on ``PYTHONPATH``):

    python bench/notices_world.py DB_PATH BUILDINGS UNITS

A community "Bench Park" (staff chat -1008000000000, staff 8_000_001) with BUILDINGS building chats
(-1008000000100 - b, building head 8_500_000 + b) of UNITS units each, every unit with its own head
(9_000_000 + b * UNITS + u) who has started the bot. Only the repositories' own methods are used.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from bot.app import open_storage
from bot.models import Role, UserInfo
from storage.engines.sqlite import SqliteDatabase
from storage.registry import RegistryRepo
from tests.harness import local, make_harness

STAFF = UserInfo(8_000_001, "Staff")
STAFF_CHAT = -1008000000000
FIRST_CHAT = -1008000000100
FIRST_BUILDING_HEAD = 8_500_000
FIRST_HEAD = 9_000_000


def head_id(building: int, unit: int, units: int) -> int:
    return FIRST_HEAD + building * units + unit


async def build(db: Path, buildings: int, units: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        h, app = await make_harness(Path(tmp), local(2026, 11, 23, 10, 0))
        sqlite = app.bot_data.services.db
        assert isinstance(sqlite, SqliteDatabase)  # the bench's world is a SQLite file
        sqlite.path = sqlite.url = str(db)
        async with app:
            await open_storage(app)
            try:
                now = h.clock.now()
                async with h.services.db.write() as tx:
                    reg = RegistryRepo(tx)
                    await reg.upsert_user(STAFF, now, started=True)
                    cid = await reg.create_community(
                        name="Bench Park",
                        staff_chat_id=STAFF_CHAT,
                        timezone="Asia/Shanghai",
                        country="CN",
                        language="en",
                        created_by=STAFF.id,
                        now=now,
                    )
                    await reg.replace_staff(cid, Role.STAFF, [STAFF.id], now)
                    for b in range(buildings):
                        bid = await reg.create_building(cid, FIRST_CHAT - b, f"House {b + 1}", now)
                        boss = UserInfo(FIRST_BUILDING_HEAD + b, f"Boss {b + 1}")
                        await reg.upsert_user(boss, now, started=True)
                        await reg.set_building_head(bid, boss.id)
                        for u in range(units):
                            await reg.add_unit(bid, str(u + 1), u + 1)
                        for u, unit in enumerate(await reg.units_of(bid)):
                            head = UserInfo(head_id(b, u, units), f"Head {b + 1}-{u + 1}")
                            await reg.upsert_user(head, now, started=True)
                            await reg.set_unit_head(unit.id, head.id)
            finally:
                await app.bot_data.services.db.close()


if __name__ == "__main__":
    asyncio.run(build(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
