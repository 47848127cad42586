from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import open_storage
from tests.e2e_support import E2E, Chat, ClockFile
from tests.harness import Harness, local, make_harness
from tests.support import FakeBotApiServer

E2E_START = local(2026, 11, 23, 10, 0)  # Monday, a working day in Shanghai


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """The bot on a Monday morning in Shanghai (2026-11-23 10:00, a working day)."""
    harness, app = await make_harness(tmp_path, local(2026, 11, 23, 10, 0))
    async with app:
        await open_storage(app)
        try:
            yield harness
        finally:
            await app.bot_data.outbox().wait_idle()
            await app.bot_data.services.db.close()


@pytest.fixture
def e2e(tmp_path: Path) -> Iterator[E2E]:
    """The fake Bot API HTTP server on 127.0.0.1 and a clock file at Monday 2026-11-23 10:00 (Shanghai);
    ``e2e.spawn(name).start()`` runs ``python -m bot`` against them; processes are killed afterwards."""
    server = FakeBotApiServer().start()
    env = E2E(tmp_path, server, ClockFile(tmp_path / "clock.txt", E2E_START), Chat(server), tmp_path / "bot.sqlite3")
    try:
        yield env
    finally:
        for proc in env.procs:
            proc.kill()
        server.stop()
