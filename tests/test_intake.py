"""The durable update intake (handlers.intake, bot.services.intake) through the real Application:
stored before handled, handled once per update_id, recovered after a crash, chats handled
concurrently but each in order, albums and split texts as one, a full disk said plainly."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from telegram.request import BaseRequest, RequestData

from bot.app import open_storage
from bot.clock import FakeClock
from handlers.intake import Intake
from storage.db import Database, Tx
from tests.harness import Harness, local, make_harness, make_settings
from tests.support import RecordingRequest, updates

START = local(2026, 11, 23, 10, 0)


async def rows(h: Harness) -> dict[int, str]:
    async with h.services.db.read() as tx:
        found = await tx.fetchall("SELECT update_id, state FROM received_updates WHERE update_id >= 0")
    return {int(r["update_id"]): str(r["state"]) for r in found}


@asynccontextmanager
async def pumping(h: Harness) -> AsyncIterator[Intake]:
    intake = h.app.bot_data.intake
    await intake.start()
    try:
        yield intake
    finally:
        await intake.stop()


async def settle(h: Harness, *, drain: bool = True) -> None:
    """Every accepted update handled and what they queued sent."""
    await h.app.bot_data.intake.wait_idle()
    await h.app.bot_data.outbox().wait_idle()
    if drain:
        await h.app.bot_data.outbox().drain()


async def test_an_update_is_stored_before_it_is_handled_and_a_redelivery_does_nothing(h: Harness) -> None:
    me = h.p.resident
    raw = updates.command(me, updates.private_chat(me), "start")
    intake = h.app.bot_data.intake
    assert await intake.accept(raw) is True
    assert await rows(h) == {raw["update_id"]: "new"}  # committed, not handled yet
    assert h.texts(me) == []
    async with pumping(h):
        await settle(h)
        assert len(h.texts(me)) == 1 and "Hello" in h.texts(me)[0]
        assert await rows(h) == {raw["update_id"]: "done"}
        assert await intake.accept(raw) is False  # Telegram sent it again: nothing happens twice
        await settle(h)
    assert len(h.texts(me)) == 1


async def test_updates_stored_before_a_crash_are_handled_first_at_the_next_start(tmp_path: Path) -> None:
    first, app = await make_harness(tmp_path, START)
    me = first.p.resident
    raws = [updates.command(me, updates.private_chat(me), "start") for _ in range(2)]
    async with app:
        await open_storage(app)
        for raw in raws:
            await app.bot_data.intake.accept(raw)
        await app.bot_data.services.db.close()  # the process dies here: stored, never handled
    assert first.texts(me) == []

    second, app = await make_harness(tmp_path, START)  # the same database file
    async with app:
        await open_storage(app)
        async with pumping(second):
            await settle(second)
            assert len(second.texts(me)) == 2
            assert set((await rows(second)).values()) == {"done"}
        await app.bot_data.services.db.close()


class GatedRequest(RecordingRequest):
    """Holds every call to one chat until ``gate`` is set (a group waiting on its send limit)."""

    def __init__(self, chat_id: int) -> None:
        super().__init__()
        self.held_chat = chat_id
        self.gate = asyncio.Event()
        self.waiting = 0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is not None and request_data.parameters.get("chat_id") == self.held_chat:
            self.waiting += 1
            await self.gate.wait()
        return await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )


async def test_a_chat_waiting_for_telegram_does_not_hold_up_other_chats_and_keeps_its_own_order(
    tmp_path: Path,
) -> None:
    from bot.app import build_application
    from tests.harness import Harness as H

    group = updates.group_chat(-1009000000001, "Busy building")
    rt = GatedRequest(group["id"])
    app = build_application(
        make_settings(tmp_path / "t.sqlite3"), clock=FakeClock(START), request=rt, rate_limiter=False, start_jobs=False
    )
    h = H(app, rt, FakeClock(START))
    someone, other = h.p.resident, h.p.uhead
    async with app:
        await open_storage(app)
        async with pumping(h) as intake:
            await intake.accept(updates.command(someone, group, "start"))  # answered in the group: held
            await intake.accept(updates.command(someone, group, "help"))  # same chat: must wait its turn
            await intake.accept(updates.command(other, updates.private_chat(other), "start"))
            for _ in range(200):
                if h.texts(other):
                    break
                await asyncio.sleep(0.01)
            assert h.texts(other) and "Hello" in h.texts(other)[0]  # answered while the group is held
            assert rt.waiting == 1  # the group's second update has not started before its first is done
            rt.gate.set()
            await settle(h)
        group_texts = h.texts(group)
        assert len(group_texts) == 2 and rt.waiting == 2
        await app.bot_data.services.db.close()


async def describe_step(h: Harness) -> dict[str, Any]:
    """The resident has chosen unit and category: the next private message is the description."""
    await h.setup_community()
    me = h.p.resident
    chat = updates.private_chat(me)
    building = await h.services.registry.chat_context(h.p.building_chat["id"])
    calls = await h.send(updates.command(me, chat, "start", f"ap_{building.building.id}"))
    calls = await h.press(me, calls[-1], f"f:u:{building.building.id}:1")
    await h.press(me, calls[-1], "f:c:problem")
    return chat


async def test_an_album_of_three_photos_is_one_appeal(h: Harness) -> None:
    chat = await describe_step(h)
    me = h.p.resident
    album = [updates.photo_message(me, chat, caption="Water on the stairs" if i == 0 else None) for i in range(3)]
    for raw in album:
        raw["message"]["media_group_id"] = "13572468"
    before = len(h.rt.telegram.calls)
    async with pumping(h) as intake:
        assert await intake.accept_many(album) == [raw["update_id"] for raw in album]
        await settle(h)
    to_me = [c.text or "" for c in h.rt.telegram.calls[before:] if c.chat_id == me["id"]]
    assert len(to_me) == 1 and "#1" in to_me[0], to_me  # one receipt, no "what is this?" prompts
    async with h.services.db.read() as tx:
        from storage.appeals import AppealsRepo

        media = await AppealsRepo(tx).media(1)
        count = await tx.fetchval("SELECT COUNT(*) FROM appeals")
    assert count == 1
    assert [m["file_id"] for m in media] == [raw["message"]["photo"][-1]["file_id"] for raw in album]
    copies = [c for c in h.rt.telegram.calls[before:] if c.method == "copyMessage" and c.chat_id == h.p.uhead["id"]]
    assert sorted(c.params["message_id"] for c in copies) == sorted(raw["message"]["message_id"] for raw in album)
    assert set((await rows(h)).values()) == {"done"}


async def test_a_long_description_split_by_the_app_is_kept_whole_and_reaches_the_head_whole(h: Harness) -> None:
    chat = await describe_step(h)
    me = h.p.resident
    first = "The roof leaks. " + "A" * 4000 + " end-of-part-one"  # the app cuts at 4096
    second = "Part two: the water reaches the lift shaft. " + "B" * 1200 + " THE-VERY-END"
    assert len(first) <= 4096
    before = len(h.rt.telegram.calls)
    async with pumping(h) as intake:
        await intake.accept_many([updates.message(me, chat, first), updates.message(me, chat, second)])
        await settle(h)
    to_me = [c.text or "" for c in h.rt.telegram.calls[before:] if c.chat_id == me["id"]]
    assert len(to_me) == 1 and "#1" in to_me[0], to_me  # one appeal, nothing asked about part two
    card = "".join(c.text or "" for c in h.rt.telegram.calls[before:] if c.chat_id == h.p.uhead["id"])
    assert "end-of-part-one" in card and "THE-VERY-END" in card and "B" * 1200 in card
    assert all(len(c.text or "") <= 4096 for c in h.rt.telegram.calls[before:])


async def test_a_description_longer_than_3000_characters_is_not_cut(h: Harness) -> None:
    await describe_step(h)
    text = "Broken heating in every flat. " + "x" * 3500 + " LAST-WORDS"
    calls = await h.text(h.p.resident, text)
    card = "".join(c.text or "" for c in calls if c.chat_id == h.p.uhead["id"])
    assert "LAST-WORDS" in card


class DiskFull:
    """Makes ``db.write()`` fail at commit like SQLite on a full disk while ``full`` is set."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.full = False
        self._write = db.write
        db.write = self.write  # type: ignore[method-assign]

    @asynccontextmanager
    async def _failing(self) -> AsyncIterator[Tx]:
        async with self.db.read() as tx:  # the statements run, then everything is rolled back
            yield tx
            raise sqlite3.OperationalError("database or disk is full")

    def write(self) -> Any:
        return self._failing() if self.full else self._write()


@pytest.mark.sqlite_only  # a full SQLite disk, simulated by its error
async def test_a_full_disk_is_said_plainly_logged_once_and_recovers(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await describe_step(h)
    me = h.p.resident
    chat = updates.private_chat(me)
    disk = DiskFull(h.services.db)
    caplog.set_level(logging.INFO)
    async with pumping(h) as intake:
        disk.full = True
        before = len(h.rt.telegram.calls)
        for n in range(3):
            assert await intake.accept(updates.message(me, chat, f"The lift is broken, try {n}")) is True
            await settle(h, drain=False)
        answers = [c.text or "" for c in h.rt.telegram.calls[before:] if c.chat_id == me["id"]]
        assert len(answers) == 3
        assert all("could not save" in a and "again later" in a for a in answers), answers
        assert not any("kept" in a for a in answers)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "cannot be written" in errors[0].getMessage(), [r.getMessage() for r in errors]
        assert not any(r.exc_info for r in caplog.records)  # no traceback per message

        disk.full = False  # space is back
        before = len(h.rt.telegram.calls)
        await intake.accept(updates.message(me, chat, "The lift is broken"))
        await settle(h)
        answers = [c.text or "" for c in h.rt.telegram.calls[before:] if c.chat_id == me["id"]]
        assert len(answers) == 1 and "#1" in answers[0], answers
        assert any("can be written again" in r.getMessage() for r in caplog.records)


async def test_a_description_handled_again_after_a_crash_is_known_as_filed(h: Harness) -> None:
    """At-least-once: the process died after the filing's commit, before the update was marked
    handled; handled again at the next start, the description is known as filed (its receipt was
    queued with the filing and goes out once): no second appeal, no 'what is this?'."""
    chat = await describe_step(h)
    raw = updates.message(h.p.resident, chat, "The lift is broken")
    first = await h.send(raw)
    assert sum("#1 received" in (c.text or "") for c in first) == 1
    again = await h.send(raw)  # the same update_id and message, handled a second time
    to_me = [c.text or "" for c in again if c.chat_id == h.p.resident["id"]]
    assert to_me == [], to_me
    async with h.services.db.read() as tx:
        assert await tx.fetchval("SELECT COUNT(*) FROM appeals") == 1
