"""The statistics' definitions (docs/stats.md) on hand-made histories with known rates: paused
clocks, reopened, escalated, unrated and auto-closed appeals, in two time zones and calendars."""

from __future__ import annotations

import statistics
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.calendar import WorkCalendar
from bot.clock import FakeClock
from bot.models import Category, Level
from bot.services.base import Calendars, Defaults
from bot.services.stats import Durations, Period, Rate, Scope, StatsService
from bot.services.stats.rules import clock_seconds
from storage.db import Database
from storage.engines import open_database
from storage.migrate import migrate
from tests.stats_world import StatsWorld
from tests.support.engines import storage_url

H = 3600


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(storage_url(tmp_path / "stats.sqlite3"))
    await database.connect()
    await migrate(database)
    try:
        yield database
    finally:
        await database.close()


def service(db: Database, now: datetime) -> tuple[StatsService, FakeClock]:
    clock = FakeClock(now)
    return StatsService(db, clock, Calendars(Defaults())), clock


# Two regular working weeks (no holiday Monday to Friday, and the next week too) in each calendar
ZONES = [("Asia/Shanghai", "CN", date(2026, 11, 2)), ("Europe/Moscow", "RU", date(2026, 11, 9))]


@pytest.mark.parametrize(("tz", "country", "monday"), ZONES)
async def test_a_hand_made_month_has_the_known_rates(db: Database, tz: str, country: str, monday: date) -> None:
    zone = ZoneInfo(tz)

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        d = monday + timedelta(days=day)
        return datetime(d.year, d.month, d.day, hour, minute, tzinfo=zone)

    world = await StatsWorld.create(db, now=at(0, 8), timezone=tz, country=country)
    # A: answered in 1 h, resolved in 9 working hours, confirmed, 5 stars
    a = await world.file(at(0, 10))
    await world.reply(a, at(0, 11))
    await world.resolve(a, at(1, 10))
    await world.confirm(a, at(1, 12))
    await world.rate(a, at(1, 12), 5)
    # B: nobody answered: escalated for it, answered late, resolved after 43 working hours,
    #    closed by the resident's silence and never rated
    b = await world.file(at(0, 10))
    await world.escalate(b, at(1, 10), "no_first_reply")
    await world.reply(b, at(1, 11))
    await world.resolve(b, at(4, 17))
    await world.auto_close(b, at(9, 17))
    # C: the head asked at once; the clock stood still for a week until the resident answered:
    #    7.5 working hours on the clock, on time; rated 3 stars (not satisfied)
    c = await world.file(at(0, 10), building=1)
    await world.ask(c, at(0, 10, 30))
    await world.answer(c, at(7, 10))
    await world.resolve(c, at(7, 17))
    await world.confirm(c, at(7, 18))
    await world.rate(c, at(7, 18), 3)
    # D: resolved in 3 h, reopened the next day and still open: 24 clock hours were left at the
    #    reopening, so its allowance ran out on Friday 16:00 -> counted late
    d = await world.file(at(1, 9), building=1, unit=1)
    await world.reply(d, at(1, 9, 30))
    await world.resolve(d, at(1, 12))
    await world.reopen(d, at(2, 10))
    # F: waiting for the resident now: the paused clock keeps it out of the resolution rate
    f = await world.file(at(2, 9))
    await world.ask(f, at(2, 10))
    # E: filed the month before: not in this month's figures
    e = await world.file(datetime(2026, 10, 20, 10, tzinfo=zone))
    await world.reply(e, datetime(2026, 10, 20, 11, tzinfo=zone))

    stats, _ = service(db, at(20, 12))
    figures = await stats.figures(Scope.community(world.community_id), Period.of_month(2026, 11))
    t = figures.total
    assert t.filed.total == 5
    assert t.filed.by_category == {Category.PROBLEM: 5}
    assert t.filed.by_level == {Level.UNIT: 4, Level.BUILDING: 1}
    assert t.response == Rate(4, 5)
    assert t.resolution == Rate(2, 4)
    assert t.satisfaction == Rate(1, 2)
    assert (t.rated, t.unrated, t.auto_closed) == (2, 1, 1)
    assert (t.reopened, t.reopen_events, t.escalated, t.escalations) == (1, 1, 1, 1)
    assert t.first_reply == Durations(5, 1.0, 10.0)  # 0.5 0.5 1 1 10 hours
    assert t.resolution_time == Durations(3, 9.0, 43.0)  # 7.5 9 43 hours
    # open now: D (in progress, overdue by its level deadline) and F (waiting: never overdue), plus E
    assert t.open_now.total == 3
    assert t.overdue_now.total == 2  # D and E (the open-now counts do not depend on the period)

    rows = {r.name: r.figures for r in await stats.by_building(Scope.community(world.community_id), figures.period)}
    assert rows["Building 1"].filed.total == 3 and rows["Building 1"].response == Rate(2, 3)
    assert rows["Building 2"].filed.total == 2 and rows["Building 2"].resolution == Rate(1, 2)

    heads = {(h.role.value, h.name): h for h in figures.heads}
    assert heads[("building", "Chief1")].figures.filed.total == 3
    assert heads[("unit", "Head2.2")].figures.reopened == 1
    assert heads[("unit", "Head1.1")].figures.response == Rate(2, 3)

    only_b2 = await stats.figures(Scope.building(world.community_id, world.building_ids[1]), figures.period)
    assert only_b2.total.filed.total == 2 and {h.name for h in only_b2.heads} == {"Chief2", "Head2.1", "Head2.2"}
    unit = await stats.figures(Scope.unit(world.community_id, world.unit_ids[1][1]), figures.period)
    assert unit.total.filed.total == 1 and unit.total.resolution == Rate(0, 1)

    # the overview reads sums the database added up: the same figures as the rows give, any scope
    for scope in (Scope.community(world.community_id), only_b2.scope, unit.scope):
        summed, summed_rows = await stats.overview(scope, figures.period)
        assert summed.total == (await stats.figures(scope, figures.period)).total
        assert summed_rows == await stats.by_building(scope, figures.period)

    trend = await stats.trend(Scope.community(world.community_id), 3, Period.of_month(2026, 11))
    assert [p.month for p in trend] == ["2026-09", "2026-10", "2026-11"]
    assert [p.filed for p in trend] == [0, 1, 5]
    assert trend[-1].response == Rate(4, 5) and trend[-1].resolution == Rate(2, 4)
    assert trend[0].response.value is None  # no appeals: no rate, not 0 %


async def test_the_month_is_the_communitys_own(db: Database) -> None:
    """The same instant is 1 December in Shanghai and still 30 November in Moscow."""
    moment = datetime(2026, 11, 30, 18, 30, tzinfo=ZoneInfo("UTC"))
    east = await StatsWorld.create(db, now=moment - timedelta(days=3), timezone="Asia/Shanghai", country="CN")
    west = await StatsWorld.create(
        db, now=moment - timedelta(days=3), timezone="Europe/Moscow", country="RU", staff_chat=-1009000000777
    )
    await east.file(moment)
    await west.file(moment)
    stats, _ = service(db, moment + timedelta(days=2))
    nov, dec = Period.of_month(2026, 11), Period.of_month(2026, 12)
    assert (await stats.figures(Scope.community(east.community_id), nov)).total.filed.total == 0
    assert (await stats.figures(Scope.community(east.community_id), dec)).total.filed.total == 1
    assert (await stats.figures(Scope.community(west.community_id), nov)).total.filed.total == 1
    both = Scope.street([east.community_id, west.community_id])
    assert (await stats.figures(both, nov)).total.filed.total == 1
    assert (await stats.figures(both, Period(date(2026, 11, 1), date(2027, 1, 1)))).total.filed.total == 2


async def test_the_summary_follows_the_history_and_a_refresh_is_idempotent(db: Database) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    world = await StatsWorld.create(db, now=datetime(2026, 11, 2, 8, tzinfo=zone))
    a = await world.file(datetime(2026, 11, 2, 10, tzinfo=zone))
    stats, clock = service(db, datetime(2026, 11, 2, 12, tzinfo=zone))
    nov = Period.of_month(2026, 11)
    first = await stats.figures(Scope.community(world.community_id), nov)
    assert first.total.response == Rate(0, 0) and first.total.open_now.total == 1
    await world.reply(a, datetime(2026, 11, 2, 13, tzinfo=zone))
    await world.resolve(a, datetime(2026, 11, 2, 15, tzinfo=zone))
    clock.set(datetime(2026, 11, 2, 16, tzinfo=zone))
    again = await stats.figures(Scope.community(world.community_id), nov)
    assert again.total.response == Rate(1, 1) and again.total.resolution == Rate(1, 1)
    assert again.total.open_now.total == 0
    assert await stats.refresh() == 0  # nothing new in the history: nothing recomputed
    # a second service (another process) reads the same summary
    other, _ = service(db, datetime(2026, 11, 2, 16, tzinfo=zone))
    assert (await other.figures(Scope.community(world.community_id), nov)).total == again.total


async def test_an_unanswered_appeal_counts_once_its_first_reply_deadline_passed(db: Database) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    world = await StatsWorld.create(db, now=datetime(2026, 11, 2, 8, tzinfo=zone))
    await world.file(datetime(2026, 11, 2, 10, tzinfo=zone), category=Category.CONSULTATION)
    stats, clock = service(db, datetime(2026, 11, 2, 17, tzinfo=zone))
    scope, nov = Scope.community(world.community_id), Period.of_month(2026, 11)
    assert (await stats.figures(scope, nov)).total.response == Rate(0, 0)  # not decided yet
    clock.set(datetime(2026, 11, 3, 10, 1, tzinfo=zone))  # 24 h of working days later
    t = (await stats.figures(scope, nov)).total
    assert t.response == Rate(0, 1)
    assert t.resolution == Rate(0, 1)  # a consultation has one working day: Tue 10:00 passed
    assert t.overdue_now.total == 1


# --- properties --------------------------------------------------------------------------------
@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=200))
def test_median_and_p90_lie_within_the_values(values: list[int]) -> None:
    d = Durations.of_seconds(values)
    assert d.count == len(values)
    assert d.median_hours is not None and d.p90_hours is not None
    assert min(values) / H <= d.median_hours <= d.p90_hours <= max(values) / H
    assert d.median_hours == statistics.median(values) / H
    assert sum(1 for v in values if v / H <= d.p90_hours) >= 0.9 * len(values)


@given(st.integers(min_value=0, max_value=1000), st.integers(min_value=0, max_value=1000))
def test_a_rate_never_divides_by_zero(hits: int, extra: int) -> None:
    rate = Rate(hits, hits + extra)
    assert rate.value is None if hits + extra == 0 else 0 <= (rate.value or 0) <= 1


@given(st.integers(min_value=2000, max_value=2200), st.integers(min_value=1, max_value=12))
def test_a_month_parses_back(year: int, month: int) -> None:
    period = Period.parse_month(f"{year}-{month:02d}")
    assert period.month == f"{year:04d}-{month:02d}" and period.months() == [period.month]
    assert (period.end - period.start).days in (28, 29, 30, 31)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-11", "2026/11", "", "1999-12", "x" * 50])
def test_a_bad_month_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Period.parse_month(text)


_CAL = WorkCalendar("CN", "Asia/Shanghai")
_START = datetime(2026, 11, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=30 * 24),
    st.lists(st.tuples(st.integers(0, 30 * 24), st.integers(0, 5 * 24)), max_size=4),
)
def test_pauses_only_take_clock_time_away(hours: int, pauses: list[tuple[int, int]]) -> None:
    until = _START + timedelta(hours=hours)
    spans = sorted((_START + timedelta(hours=s), _START + timedelta(hours=s + n)) for s, n in pauses)
    merged: list[tuple[datetime, datetime | None]] = []
    for begin, end in spans:  # the history never has overlapping pauses
        if merged and begin <= (merged[-1][1] or begin):
            continue
        merged.append((begin, end))
    full = _CAL.working_seconds_between(_START, until)
    paused = clock_seconds(_CAL, _START, until, merged)
    assert 0 <= paused <= full
    assert clock_seconds(_CAL, _START, until, []) == full


async def test_a_bounded_refresh_leaves_the_rest_for_later(db: Database) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    world = await StatsWorld.create(db, now=datetime(2026, 11, 2, 8, tzinfo=zone))
    for hour in (10, 11, 12):
        await world.file(datetime(2026, 11, 2, hour, tzinfo=zone))
    stats, _ = service(db, datetime(2026, 11, 2, 13, tzinfo=zone))
    assert await stats.refresh(batch=1, max_batches=2) == 2  # one history row (one filing) per batch
    assert await stats.refresh(batch=1, max_batches=2) == 1
    assert await stats.refresh() == 0
    figures = await stats.figures(Scope.community(world.community_id), Period.of_month(2026, 11))
    assert figures.total.filed.total == 3
