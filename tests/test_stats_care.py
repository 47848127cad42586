"""The care list's and micro-wishes' figures (issue 12, docs/stats.md "Care list and wishes") on a
hand-made month with known counts: visits recorded through the real visit service, the care sweep
run (or not: the figures follow the sweep's rule, not whether it ran yet), a household removed, a
door-knocking round, wishes in every state; then the XLSX sheet and its cells."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.clock import FakeClock
from bot.i18n import Catalogs
from bot.models import UserInfo
from bot.services.access import Place
from bot.services.base import Calendars, Defaults
from bot.services.care.visits import VisitService
from bot.services.stats import Durations, Period, Rate, Scope, StatsService
from bot.services.stats.access import Audience, Viewer
from bot.services.stats.care import CareWishFigures
from bot.services.stats.report import xlsx_bytes
from storage.care import CareRepo
from storage.db import Database
from storage.engines import open_database
from storage.migrate import migrate
from storage.registry import RegistryRepo
from storage.wishes import WishesRepo
from tests.stats_world import StatsWorld
from tests.support.engines import storage_url

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 9, 15, tzinfo=ZONE)  # a Monday afternoon
NOVEMBER = Period.of_month(2026, 11)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(storage_url(tmp_path / "care.sqlite3"))
    await database.connect()
    await migrate(database)
    try:
        yield database
    finally:
        await database.close()


class CareMonth:
    """A community of two buildings of two units each (StatsWorld) with a care list and wishes."""

    def __init__(self, db: Database, world: StatsWorld, clock: FakeClock, sweep: bool) -> None:
        self.db = db
        self.world = world
        self.clock = clock
        self.sweep = sweep
        self.visits = VisitService(db, clock, Calendars(Defaults()))
        self.resident = 7001

    async def tick(self, moment: datetime) -> None:
        self.clock.set(moment)
        if self.sweep:
            await self.visits.tick()

    async def household(self, building: int, unit: int, added: datetime, label: str) -> int:
        """Entered as the care list enters one (households.py ``_finish``): due in 7 days."""
        async with self.db.write() as tx:
            repo = CareRepo(tx)
            hid = await repo.start_draft(
                community_id=self.world.community_id,
                building_id=self.world.building_ids[building],
                unit_id=self.world.unit_ids[building][unit],
                user_id=5000 + 100 * building + unit,
                now=added,
            )
            await repo.set_draft(hid, "note", label=label, need="alone", every_days=7, note="PRIVATE-NOTE")
            due = added + timedelta(days=7)
            assert await repo.activate(hid, due)
            await repo.add_deadline("due", due, household_id=hid, due_for=due)
        return hid

    async def visit(self, hid: int, building: int, unit: int, moment: datetime, code: str) -> None:
        await self.tick(moment)
        head = 5000 + 100 * building + unit
        await self.visits.record(UserInfo(head, f"Head{building + 1}.{unit + 1}"), hid, code, Place(head, "private"))

    async def remove(self, hid: int, moment: datetime) -> None:
        await self.tick(moment)
        async with self.db.write() as tx:
            repo = CareRepo(tx)
            assert await repo.remove(hid)
            await repo.finish_household_deadlines(hid, moment, "removed")

    async def knock(self, building: int, moment: datetime) -> None:
        await self.tick(moment)
        chat = -1009000000001 - 1000 - building  # StatsWorld's building chats
        await self.visits.knock(UserInfo(6000 + building, f"Chief{building + 1}"), chat)

    async def wish(
        self,
        building: int,
        posted: datetime,
        *,
        claimed: datetime | None = None,
        closed: tuple[str, datetime] | None = None,
    ) -> int:
        async with self.db.write() as tx:
            repo = WishesRepo(tx)
            wid = await repo.start_draft(
                community_id=self.world.community_id,
                building_id=self.world.building_ids[building],
                unit_id=self.world.unit_ids[building][0],
                resident_id=self.resident,
                now=posted,
            )
            await repo.set_content(wid, "PRIVATE-WISH a ride to the clinic", None, None, None)
            assert await repo.set_wanted_by(wid, posted + timedelta(days=14))
            assert await repo.publish(wid, False, posted)
            if claimed is not None:
                assert await repo.claim(wid, 8001, claimed)
            if closed is not None:
                state, moment = closed
                assert await repo.close(wid, state, moment, from_states=("open", "claimed"))
        return wid


async def make_month(db: Database, *, sweep: bool) -> CareMonth:
    world = await StatsWorld.create(db, now=at(10, 1, 9))
    month = CareMonth(db, world, FakeClock(at(10, 1, 9)), sweep)
    # E (building 2, unit 2): due 26 Oct, visited that day (October): due again 2 Nov 11:00, never visited
    e = await month.household(1, 1, at(10, 19, 10), "E")
    await month.visit(e, 1, 1, at(10, 26, 11), "w")
    # A, B (building 1, unit 1), C (building 1, unit 2): due 2 Nov 10:00; D (building 2): due 3 Nov 10:00
    a = await month.household(0, 0, at(10, 26, 10), "A")
    b = await month.household(0, 0, at(10, 26, 10), "B")
    c = await month.household(0, 1, at(10, 26, 10), "C")
    d = await month.household(1, 0, at(10, 27, 10), "D")
    await month.visit(a, 0, 0, at(11, 2, 9), "w")  # early: on time; due again 9 Nov 09:00 (pending now)
    await month.tick(at(11, 2, 10, 5))  # B and C reminded
    await month.tick(at(11, 2, 11, 5))  # E reminded
    await month.visit(b, 0, 0, at(11, 3, 9, 30), "p")  # within the working day after: on time
    await month.tick(at(11, 3, 10, 5))  # C missed (building head told)
    await month.tick(at(11, 3, 11, 5))  # E missed
    await month.remove(d, at(11, 3, 12))  # removed before its visit was missed: not counted
    await month.visit(c, 0, 1, at(11, 4, 10), "a")  # late (missed), not at home: due again 5 Nov 10:00
    await month.visit(c, 0, 1, at(11, 5, 9), "w")  # on time for that one
    await month.knock(0, at(11, 6, 10))  # A, B and C asked for
    await month.visit(b, 0, 0, at(11, 6, 11), "p")  # in the round (its due of 10 Nov: not due yet)
    await month.tick(at(11, 9, 9, 5))

    await month.wish(0, at(10, 20, 10), claimed=at(10, 21, 10), closed=("fulfilled", at(10, 22, 10)))  # October
    await month.wish(0, at(10, 28, 10))  # October, open now
    await month.wish(0, at(11, 2, 10), claimed=at(11, 2, 12), closed=("fulfilled", at(11, 3, 10)))
    await month.wish(0, at(11, 3, 10), claimed=at(11, 3, 16))  # being fulfilled
    await month.wish(0, at(11, 4, 10), closed=("expired", at(11, 8, 10)))
    await month.wish(0, at(11, 5, 10), closed=("cancelled", at(11, 5, 11)))
    await month.wish(0, at(11, 6, 10))  # open
    await month.wish(1, at(11, 7, 10), claimed=at(11, 7, 11), closed=("fulfilled", at(11, 8, 10)))
    return month


@pytest.mark.parametrize("sweep", [True, False], ids=["swept", "not-swept"])
async def test_a_hand_made_month_of_care_visits_and_wishes_has_the_known_counts(db: Database, sweep: bool) -> None:
    month = await make_month(db, sweep=sweep)
    stats = StatsService(db, FakeClock(NOW), Calendars(Defaults()))
    cid = month.world.community_id
    figures = await stats.care_wishes(Scope.community(cid), NOVEMBER)
    c = figures.care
    assert c.households == 4  # A, B, C, E (D removed)
    assert (c.well, c.help, c.away, c.visits) == (2, 2, 1, 5)  # E's October visit is not November's
    # due in November up to now: A 2 Nov (on time), B 2 Nov (on time), C 2 Nov (missed), C 5 Nov (on
    # time), E 2 Nov (missed), A 9 Nov (its working day runs until 18:00: pending); D left the list
    assert (c.due, c.on_time, c.missed, c.pending) == (6, 3, 2, 1)
    assert c.on_time_rate == Rate(3, 5)
    assert (c.rounds, c.rounds_completed, c.round_completion) == (1, 0, Rate(1, 3))

    w = figures.wishes
    assert (w.posted, w.claimed, w.fulfilled, w.expired, w.cancelled, w.pending) == (6, 3, 2, 1, 1, 2)
    assert (w.open_now, w.claimed_now) == (2, 1)
    assert w.fulfilment == Rate(2, 3)  # fulfilled / (fulfilled + expired): the known outcomes
    assert w.time_to_claim == Durations(3, 2.0, 6.0)  # 1 h, 2 h, 6 h

    rows = {r.name: r for r in figures.buildings}
    assert rows["Building 1"].care.households == 3 and rows["Building 1"].care.on_time_rate == Rate(3, 4)
    assert rows["Building 2"].care.missed == 1 and rows["Building 2"].wishes.fulfilled == 1

    only_b2 = await stats.care_wishes(Scope.building(cid, month.world.building_ids[1]), NOVEMBER)
    assert (only_b2.care.households, only_b2.care.due, only_b2.care.missed, only_b2.care.visits) == (1, 1, 1, 0)
    assert (only_b2.care.rounds, only_b2.wishes.posted, only_b2.wishes.fulfilment) == (0, 1, Rate(1, 1))
    unit_c = await stats.care_wishes(Scope.unit(cid, month.world.unit_ids[0][1]), NOVEMBER)
    assert (unit_c.care.households, unit_c.care.visits, unit_c.care.due, unit_c.care.on_time) == (1, 2, 2, 1)
    assert unit_c.wishes.posted == 0  # the wishes are unit 1's
    street = await stats.care_wishes(Scope.street([cid]), NOVEMBER)
    assert street.care == c and street.wishes == w

    october = await stats.care_wishes(Scope.community(cid), Period.of_month(2026, 10))
    assert (october.care.visits, october.care.due, october.care.on_time) == (1, 1, 1)
    assert (october.wishes.posted, october.wishes.fulfilled, october.wishes.pending) == (2, 1, 1)


async def test_a_community_without_care_or_wishes_has_nothing_in_use(db: Database) -> None:
    world = await StatsWorld.create(db, now=at(10, 1, 9))
    stats = StatsService(db, FakeClock(NOW), Calendars(Defaults()))
    figures = await stats.care_wishes(Scope.community(world.community_id), NOVEMBER)
    assert not figures.in_use and figures.buildings == ()


async def test_the_report_has_a_care_and_wishes_sheet_with_counts_only(db: Database) -> None:
    month = await make_month(db, sweep=True)
    stats = StatsService(db, FakeClock(NOW), Calendars(Defaults()))
    async with db.read() as tx:
        community = await RegistryRepo(tx).get_community(month.world.community_id)
    assert community is not None
    viewer = Viewer(Audience.STAFF, Scope.community(community.id), community, community.staff_chat_id, community.name)
    data = await stats.report(viewer, NOVEMBER)
    assert isinstance(data.care, CareWishFigures)
    catalogs = Catalogs()
    for lang, sheet_name, households in (
        ("en", "Care and wishes", "Households on the care list now"),
        ("ru", "Забота и желания", "Квартир в списке заботы сейчас"),
        ("zh", "关爱与微心愿", "关爱名单当前户数"),
    ):
        book = load_workbook(io.BytesIO(xlsx_bytes(data, catalogs.translator(lang))))
        assert sheet_name in book.sheetnames
        ws = book[sheet_name]
        cells = [tuple(row) for row in ws.iter_rows(values_only=True)]
        by_label = {row[0]: row[1] for row in cells if row and row[0] is not None and len(row) > 1}
        assert by_label[households] == 4
        words = " ".join(str(v) for row in cells for v in row if v is not None)
        assert "PRIVATE" not in words and "Mrs" not in words
        if lang != "en":
            continue
        assert by_label["Visits recorded"] == 5
        assert (by_label["Visits due"], by_label["Visited on time"], by_label["Missed"]) == (6, 3, 2)
        assert by_label["On-time visit rate"] == 0.6
        assert (by_label["Door-knocking rounds"], by_label["Round completion"]) == (1, round(1 / 3, 4))
        assert (by_label["Wishes posted"], by_label["Wishes fulfilled"], by_label["Fulfilment rate"]) == (6, 2, 0.6667)
        assert by_label["Median hours to claim"] == 2.0
        heading = next(i for i, row in enumerate(cells) if row and row[0] == "Building")
        assert cells[heading][1] == "Households on the care list now"
        b1 = next(row for row in cells[heading + 1 :] if row and row[0] == "Building 1")
        assert b1[1:6] == (3, 5, 5, 3, 1)  # households, visits, due, on time, missed
        rate_row = next(i for i, row in enumerate(cells, 1) if row and row[0] == "On-time visit rate")
        assert ws.cell(row=rate_row, column=2).number_format == "0.0%"


@pytest.mark.parametrize(
    ("households", "rounds", "ru_households", "ru_rounds"),
    [(1, 1, "1 квартира", "1 обход"), (3, 2, "3 квартиры", "2 обхода"), (5, 11, "5 квартир", "11 обходов")],
)
def test_the_stats_block_says_counts_with_each_languages_plurals(
    households: int, rounds: int, ru_households: str, ru_rounds: str
) -> None:
    from bot.services.stats.care import CareStats, WishStats
    from handlers.stats_render import care_text

    care = CareStats(households=households, well=2, due=2, on_time=1, missed=1, rounds=rounds, round_households=4)
    figures = CareWishFigures(NOVEMBER, NOW, care, WishStats())
    catalogs = Catalogs()
    ru = care_text(catalogs.translator("ru"), figures)
    assert f"Список заботы: {ru_households}" in ru and f"Обходы: {ru_rounds}" in ru
    assert "Вовремя: 50% (1 из 2)" in ru and "Желаний" not in ru  # no wishes: no wish line
    en = care_text(catalogs.translator("en"), figures)
    assert f"Care list: {households} household{'' if households == 1 else 's'}\n" in en
    assert f"关爱名单：{households} 户" in care_text(catalogs.translator("zh"), figures)
    assert care_text(catalogs.translator("en"), CareWishFigures(NOVEMBER, NOW, CareStats(), WishStats())) == ""


@pytest.mark.sqlite_only  # reads SQLite's query plans (EXPLAIN QUERY PLAN)
async def test_every_care_and_wish_figure_query_is_an_index_search(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from storage.engines.sqlite import SqliteTx as Tx  # the engine's own (the abstract Tx's is overridden)

    month = await make_month(db, sweep=True)
    seen: list[tuple[str, tuple[object, ...]]] = []
    original = Tx.fetchall

    async def recording(self: Tx, sql: str, params: object = ()) -> object:
        seen.append((sql, tuple(params)))  # type: ignore[arg-type]
        return await original(self, sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(Tx, "fetchall", recording)
    stats = StatsService(db, FakeClock(NOW), Calendars(Defaults()))
    cid = month.world.community_id
    await stats.care_wishes(Scope.community(cid), NOVEMBER)
    await stats.care_wishes(Scope.building(cid, month.world.building_ids[0]), NOVEMBER)
    monkeypatch.undo()
    tables = ("care_households", "care_visits", "care_deadlines", "knock_rounds", "wishes")
    ours = [(sql, params) for sql, params in seen if any(f"FROM {name}" in sql for name in tables)]
    assert len(ours) >= 12
    conn = sqlite3.connect(tmp_path / "care.sqlite3")
    try:
        for sql, params in ours:
            steps = [str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
            scans = [s for s in steps if s.startswith("SCAN") and "USING" not in s]
            assert not scans, (sql, steps)
            assert any("USING INDEX" in s or "USING COVERING INDEX" in s for s in steps), (sql, steps)
    finally:
        conn.close()
