"""A restart in the middle of the district's flows (a new Application on the same database): the
invite links issued before it work after it, the staff are told once; a /forgetme confirmation asked
before it is honoured after it."""

from __future__ import annotations

from pathlib import Path

from bot.app import open_storage
from tests.harness import Harness, make_harness
from tests.support import updates
from tests.test_district_import import REGISTRY, WANG, links_in, send_registry, texts


async def test_links_and_confirmations_survive_a_restart(h: Harness, tmp_path: Path) -> None:
    await h.setup_community()
    links = links_in(await send_registry(h, REGISTRY.encode()))
    rita = h.p.resident
    await h.cmd(rita, updates.private_chat(rita), "start")
    prompt = (await h.cmd(rita, updates.private_chat(rita), "forgetme"))[-1]
    confirm = next(d for _, d in prompt.buttons if d.startswith("fg:y:"))

    h2, app2 = await make_harness(tmp_path, h.clock.now())
    async with app2:
        await open_storage(app2)
        try:
            h2.p = h.p
            calls = await h2.cmd(WANG, updates.private_chat(WANG), "start", links["Wang Fang"])
            assert any("unit head of Building 7, unit 5" in t for t in texts(calls, updates.private_chat(WANG)))
            told = [t for t in texts(calls, h.p.staff_chat) if "Wang Fang" in t]
            assert len(told) == 1
            again = await h2.cmd(WANG, updates.private_chat(WANG), "start", links["Wang Fang"])
            assert not [t for t in texts(again, h.p.staff_chat) if "Wang Fang" in t]  # told once
            done = await h2.press(rita, prompt, confirm)
            assert any("personal data is erased" in (c.text or "") for c in done)
            async with h2.services.db.read() as tx:
                assert await tx.fetchval("SELECT first_name FROM users WHERE id = ?", (rita["id"],)) == ""
        finally:
            await app2.bot_data.outbox().wait_idle()
            await h2.services.db.close()
