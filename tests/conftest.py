from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import open_storage
from tests.harness import Harness, local, make_harness


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
