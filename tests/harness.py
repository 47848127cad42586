"""A test harness around the real PTB Application: a recording fake transport, a fake clock and a
temporary SQLite file. Time moves only through ``clock``; nothing sleeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update

from bot.app import build_application
from bot.clock import FakeClock
from bot.config import Settings
from bot.models import UserInfo
from handlers.context import UnitApp
from handlers.jobs import run_sweep
from tests.support import RecordingRequest, updates
from tests.support.botapi import Call
from tests.support.engines import storage_url

TOKEN = "123456789:AAHtestTOKENtestTOKENtestTOKEN12345"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    year, month, day, *rest = args
    hour, minute = [*rest, 0, 0][:2]
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def make_settings(db_path: Path, **extra: Any) -> Settings:
    """Settings on the database named by ``db_path``: that SQLite file, or the PostgreSQL database the
    test's engine made for that name (tests/support/engines.py)."""
    return Settings(token=TOKEN, database=storage_url(db_path), language="en", _env_file=None, **extra)


@dataclass
class People:
    staff: dict[str, Any] = field(default_factory=lambda: updates.user(1001, "Olga", "olga_staff"))
    bhead: dict[str, Any] = field(default_factory=lambda: updates.user(1002, "Boris", "boris_b"))
    uhead: dict[str, Any] = field(default_factory=lambda: updates.user(1003, "Uma", "uma_unit"))
    resident: dict[str, Any] = field(default_factory=lambda: updates.user(1004, "Rita", "rita_r"))
    street: dict[str, Any] = field(default_factory=lambda: updates.user(1005, "Sergei", "sergei_s"))
    staff_chat: dict[str, Any] = field(default_factory=lambda: updates.group_chat(-1001000000001, "Staff"))
    building_chat: dict[str, Any] = field(default_factory=lambda: updates.group_chat(-1001000000002, "Building 7"))
    street_chat: dict[str, Any] = field(default_factory=lambda: updates.group_chat(-1001000000003, "Street office"))


class Harness:
    def __init__(self, app: UnitApp, rt: RecordingRequest, clock: FakeClock) -> None:
        self.app = app
        self.rt = rt
        self.clock = clock
        self.p = People()

    @property
    def services(self) -> Any:  # the Services (Any: tests reach into them freely)
        return self.app.bot_data.services

    async def send(self, raw: dict[str, Any], *, drain: bool = True) -> list[Call]:
        """Process one update; send what it queued; return the calls it caused."""
        before = len(self.rt.telegram.calls)
        await self.app.process_update(Update.de_json(raw, self.app.bot))
        if drain:
            await self.app.bot_data.outbox().wait_idle()
            await self.app.bot_data.outbox().drain()
        return self.rt.telegram.calls[before:]

    async def sweep(self) -> list[Call]:
        before = len(self.rt.telegram.calls)
        await run_sweep(self.services)  # what the periodic job runs: deadlines, elections, proposals
        await self.app.bot_data.outbox().drain()
        return self.rt.telegram.calls[before:]

    def texts(self, chat: dict[str, Any] | int) -> list[str]:
        chat_id = chat if isinstance(chat, int) else chat["id"]
        return self.rt.texts(chat_id)

    def last_to(self, chat: dict[str, Any] | int) -> Call:
        chat_id = chat if isinstance(chat, int) else chat["id"]
        sent = self.rt.sent_to(chat_id)
        assert sent, f"nothing was sent to {chat_id}"
        return sent[-1]

    async def cmd(self, who: dict[str, Any], chat: dict[str, Any], name: str, args: str = "", **kw: Any) -> list[Call]:
        return await self.send(updates.command(who, chat, name, args, **kw))

    async def text(self, who: dict[str, Any], text: str, **kw: Any) -> list[Call]:
        return await self.send(updates.message(who, updates.private_chat(who), text, **kw))

    async def press(self, who: dict[str, Any], call: Call, data: str) -> list[Call]:
        message = (
            self.rt.telegram.messages[(call.chat_id, call.result["message_id"])] if hasattr(call, "result") else None
        )
        if message is None:
            message = updates.message_dict(
                updates.bot_user(), self.rt.telegram.chat_for(call.chat_id), text=call.text or ""
            )
        return await self.send(updates.callback_query(who, message, data))

    # --- a community with one building, ready for appeals ---------------------------------------
    async def setup_community(
        self, *, with_street: bool = True, units: str = "1-4", elections: bool = False, reports: bool = False
    ) -> None:
        """Staff chat, one building with units and heads, the street office. Monthly elections and
        the monthly report are off unless asked for, so appeal tests see only appeal messages."""
        p = self.p
        tg = self.rt.telegram
        tg.admins[p.staff_chat["id"]] = [p.staff]
        tg.admins[p.building_chat["id"]] = [p.staff]
        tg.admins[p.street_chat["id"]] = [p.street]
        await self.cmd(p.staff, p.staff_chat, "newcommunity", "Sunny Side")
        calls = await self.cmd(p.staff, p.staff_chat, "invite")
        code = (calls[-1].text or "").split(":", 1)[1].split()[0]
        await self.cmd(p.staff, p.building_chat, "register", code)
        await self.cmd(p.staff, p.building_chat, "units", units)
        await self.cmd(
            p.staff, p.building_chat, "buildinghead", reply_to=updates.message(p.bhead, p.building_chat, "hi")
        )
        await self.cmd(
            p.staff, p.building_chat, "unithead", "1", reply_to=updates.message(p.uhead, p.building_chat, "hi")
        )
        for person in (p.bhead, p.uhead):
            await self.cmd(person, updates.private_chat(person), "start")
        if with_street:
            calls = await self.cmd(p.staff, p.staff_chat, "streetcode")
            code = (calls[-1].text or "").split(":", 1)[1].split()[0]
            await self.cmd(p.street, p.street_chat, "linkstreet", code)
        staff = UserInfo(p.staff["id"], p.staff["first_name"])
        if not elections:
            ctx = await self.services.registry.chat_context(p.staff_chat["id"])
            await self.services.election_staff.configure(staff, ctx.community.id, "enabled", "false")
        if not reports:
            await self.services.stats_reports.set_day(staff, p.staff_chat["id"], 0)

    async def file_appeal(
        self,
        who: dict[str, Any] | None = None,
        text: str = "The lift is broken",
        category: str = "problem",
        unit_id: int | None = None,
    ) -> int:
        """Resident files through the group deep link; returns the appeal id."""
        who = who or self.p.resident
        chat = updates.private_chat(who)
        building = await self.services.registry.chat_context(self.p.building_chat["id"])
        calls = await self.send(updates.command(who, chat, "start", f"ap_{building.building.id}"))
        if "unit" in (calls[-1].text or "") and calls[-1].buttons:
            data = calls[-1].buttons[0][1] if unit_id is None else f"f:u:{building.building.id}:{unit_id}"
            calls = await self.press(who, calls[-1], data)
        calls = await self.press(who, calls[-1], f"f:c:{category}")
        calls = await self.text(who, text)
        receipt = [c for c in calls if c.chat_id == who["id"] and "#" in (c.text or "")][-1]
        return int((receipt.text or "").split("#", 1)[1].split()[0])


async def make_harness(tmp_path: Path, start: datetime, **settings: Any) -> tuple[Harness, UnitApp]:
    rt = RecordingRequest()
    clock = FakeClock(start)
    app = build_application(
        make_settings(tmp_path / "t.sqlite3", **settings), clock=clock, request=rt, rate_limiter=False, start_jobs=False
    )
    return Harness(app, rt, clock), app


# --- helpers for behaviour tests (setup, resilience, bad input) ----------------------------------
def said(calls: list[Call]) -> list[str]:
    """What the bot told people in ``calls``: sendMessage texts and answerCallbackQuery texts."""
    out: list[str] = []
    for c in calls:
        if c.method in ("sendMessage", "answerCallbackQuery") and isinstance(c.params.get("text"), str):
            out.append(c.params["text"])
    return out


def code_in(calls: list[Call]) -> str:
    """The one-time code in the last answer of /invite or /streetcode ("...code: CODE ...")."""
    text = [c for c in calls if c.method == "sendMessage"][-1].text or ""
    return text.split(":", 1)[1].split()[0]


def bot_message(h: Harness, chat_id: int, contains: str) -> dict[str, Any]:
    """The last message the bot sent to ``chat_id`` whose text contains ``contains`` (as Telegram
    stored it: the object a user's reply would carry in ``reply_to_message``)."""
    found = [
        m for (cid, _), m in h.rt.telegram.messages.items() if cid == chat_id and contains in (m.get("text") or "")
    ]
    assert found, f"no bot message containing {contains!r} in {chat_id}: {h.texts(chat_id)}"
    return found[-1]


async def appeal_of(h: Harness, appeal_id: int) -> Any:
    """The appeal as stored (``bot.models.Appeal``), read in its own read transaction."""
    from storage.appeals import AppealsRepo

    async with h.services.db.read() as tx:
        appeal = await AppealsRepo(tx).get(appeal_id)
    assert appeal is not None, f"no appeal #{appeal_id}"
    return appeal


async def events_of(h: Harness, appeal_id: int) -> list[str]:
    """The kinds of the appeal's history rows (``appeal_events``), oldest first."""
    from storage.appeals import AppealsRepo

    async with h.services.db.read() as tx:
        return [e.kind for e in await AppealsRepo(tx).events(appeal_id)]
