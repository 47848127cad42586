"""Builds the database of the outbox benchmarks (run by ``bench.outbox_bench`` as a script, with the
code tree under test first on ``PYTHONPATH``, so each tree migrates its own schema):

    python bench/outbox_world.py DB_PATH BUILDINGS

A community "Bench Park" (staff chat -1008000000000) with BUILDINGS building chats
(-1008000000100 - i), one unit each whose head (9_000_000 + i) has started the bot: on 1 December
10:00 (Shanghai) the monthly election opens and posts one ballot in every building chat. Only the
repositories' own methods are used (present in every tree since the elections landed).
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
FIRST_HEAD = 9_000_000


async def build(db: Path, buildings: int) -> None:
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
                        await reg.add_unit(bid, "1", 1)
                        [unit] = await reg.units_of(bid)
                        head = UserInfo(FIRST_HEAD + b, f"Head {b + 1}")
                        await reg.upsert_user(head, now, started=True)
                        await reg.set_unit_head(unit.id, head.id)
            finally:
                await app.bot_data.services.db.close()


if __name__ == "__main__":
    asyncio.run(build(Path(sys.argv[1]), int(sys.argv[2])))
