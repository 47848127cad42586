"""The report writer's shortcuts say what the slow ways say: the wall clock without a ``datetime``
per moment (date serials and the timeline's short moments, across daylight-saving changes), the
appeals sheet written column by column (what ``Sheet.append`` writes), and the collector held off
only while a report is made."""

from __future__ import annotations

import gc
import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import to_excel

from bot.i18n import Catalogs, Translator
from bot.models import Category, Level
from bot.services.stats import Period, Scope
from bot.services.stats.appeals_sheet import (
    APPEAL_STYLES,
    AppealRows,
    _Clock,
    appeal_columns,
    short_moment,
    write_appeals_sheet,
)
from bot.services.stats.figures import Figures
from bot.services.stats.report import MAX_PAUSE_SECONDS, ReportData, _Collector, gc_paused
from bot.services.stats.tally import Tally
from bot.services.stats.xlsx import Sheet
from storage.stats import ReportRow

# 2026 in zones with and without daylight saving (New York and Berlin change in March and
# October/November, Lord Howe by half an hour), and one with a quarter-hour offset
ZONES = ["Asia/Shanghai", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kathmandu"]
YEAR_2026 = st.integers(min_value=1767225600, max_value=1798761599)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ZONES), st.sampled_from(["zh", "en", "ru"]), st.lists(YEAR_2026, min_size=1, max_size=20))
def test_the_fast_clock_gives_what_datetime_gives(zone: str, lang: str, moments: list[int]) -> None:
    tz = ZoneInfo(zone)
    clock = _Clock(tz, lang)
    for ts in moments:
        local = datetime.fromtimestamp(ts, UTC).astimezone(tz).replace(tzinfo=None)
        assert clock.serial(ts) == to_excel(local)
        assert clock.short(ts) == short_moment(ts, tz, lang)


def test_the_fast_clock_across_the_autumn_change() -> None:
    """01:30 comes twice in New York on 1 November 2026: first as EDT, then as EST."""
    tz = ZoneInfo("America/New_York")
    clock = _Clock(tz, "en")
    first, second = 1793511000, 1793514600  # 05:30 and 06:30 UTC
    assert clock.short(first) == clock.short(second) == "1 Nov 01:30"
    assert clock.short(first - 3600) == "1 Nov 00:30" and clock.short(second + 3600) == "1 Nov 02:30"


def test_the_collector_is_held_off_while_a_report_is_made_and_back_after() -> None:
    assert gc.isenabled()
    entered, leave = threading.Event(), threading.Event()

    def other_report() -> None:
        with gc_paused():
            entered.set()
            leave.wait(5)

    with gc_paused():
        assert not gc.isenabled()
        worker = threading.Thread(target=other_report)
        worker.start()
        assert entered.wait(5)
    assert not gc.isenabled()  # the other report is still being made
    leave.set()
    worker.join(5)
    assert gc.isenabled()
    try:
        with gc_paused():
            raise RuntimeError("a report failed")
    except RuntimeError:
        pass
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_holds_never_keep_the_collector_off_past_the_cap() -> None:
    """Overviews that keep overlapping (each waits on the database while holding) cannot hold the
    collector off for good: once it has been off MAX_PAUSE_SECONDS, the next one turns it on."""
    now = [0.0]
    collector = _Collector(clock=lambda: now[0])
    assert gc.isenabled()
    try:
        first = gc_paused(collector)
        first.__enter__()
        assert not gc.isenabled()
        holds = [first]
        for _ in range(5):  # a new hold before the last ends, a few seconds apart: never zero holders
            now[0] += MAX_PAUSE_SECONDS / 3
            nxt = gc_paused(collector)
            nxt.__enter__()
            holds.pop(0).__exit__(None, None, None)
            holds.append(nxt)
        assert gc.isenabled()  # on again although a hold is still open
        holds.pop().__exit__(None, None, None)
        assert gc.isenabled()
        with gc_paused(collector):  # a new round: held off again
            assert not gc.isenabled()
        assert gc.isenabled()
    finally:
        gc.enable()


# --- the appeals sheet's fast writer writes what Sheet.append writes ------------------------------
_CATALOGS = Catalogs()
_EMPTY = Tally().figures(0)
_MOMENT = st.one_of(st.none(), YEAR_2026)
#: mostly ordinary ids and counts; now and then past what a spreadsheet's double holds, or a bool
_COUNT = st.one_of(st.integers(1, 10**9), st.integers(-(2**63), 2**63), st.booleans())
_NAME = st.text(st.characters(codec="utf-8"), max_size=12)


@st.composite
def _report_rows(draw: st.DrawFn) -> ReportRow:
    created = draw(YEAR_2026)
    return ReportRow(
        appeal_id=draw(_COUNT),
        building_id=draw(st.integers(1, 4)),
        unit_id=draw(st.one_of(st.none(), st.integers(1, 6))),
        category=draw(st.sampled_from([c.value for c in Category])),
        level=draw(st.sampled_from([level.value for level in Level] + [9])),
        status=draw(st.sampled_from(["new", "in_progress", "waiting", "resolved", "closed", "odd"])),
        created_at=created,
        first_reply_at=draw(_MOMENT),
        first_reply_due_at=draw(YEAR_2026),
        first_reply_s=draw(st.one_of(st.none(), st.integers(0, 10**7))),
        resolved_at=draw(_MOMENT),
        resolve_s=draw(st.one_of(st.none(), st.integers(0, 10**7))),
        resolved_on_time=draw(st.sampled_from([None, 0, 1])),
        resolve_due_at=draw(_MOMENT),
        closed_at=draw(st.one_of(st.none(), st.just(0), YEAR_2026)),
        rating=draw(st.one_of(st.none(), st.integers(1, 5), _COUNT)),
        reopens=draw(st.one_of(st.integers(0, 3), _COUNT)),
        escalations=draw(st.one_of(st.integers(0, 3), _COUNT)),
        auto_closed=draw(st.sampled_from([0, 1])),
    )


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["zh", "en", "ru"]),
    st.sampled_from(ZONES),
    st.lists(_report_rows(), max_size=25),
    st.dictionaries(st.integers(1, 4), _NAME, max_size=4),
    st.dictionaries(st.integers(1, 6), _NAME, max_size=6),
    st.lists(st.tuples(YEAR_2026, st.sampled_from(["filed", "reply", "resolved", "rated", "odd"])), max_size=5),
    YEAR_2026,
)
def test_the_fast_appeals_sheet_is_what_append_writes(
    lang: str,
    zone: str,
    rows: list[ReportRow],
    building_names: dict[int, str],
    unit_names: dict[int, str],
    history: list[tuple[int, str]],
    now: int,
) -> None:
    period = Period.of_month(2026, 11)
    data = ReportData(
        title="T",
        timezone=zone,
        figures=Figures(Scope.community(1), period, datetime.fromtimestamp(now, UTC), _EMPTY),
        buildings=[],
        trend=[],
        appeals=rows,
        timelines={row.appeal_id: history[: 2 + row.reopens % 4] for row in rows[::2]},
        building_names=building_names,
        unit_names=unit_names,
    )
    t = _CATALOGS.translator(lang)
    fast = Sheet("fast")
    write_appeals_sheet(fast, data, t)
    assert fast.xml() == _appended(data, t).xml()


def _appended(data: ReportData, t: Translator) -> Sheet:
    """The appeals sheet the slow, sure way: each row's values through Sheet.append."""
    sheet = Sheet("generic")
    sheet.heading(appeal_columns(t))
    rows = AppealRows(t, data)
    serial = rows.clock.serial

    def moment(_: int, ts: int | None) -> float | None:
        return None if ts is None else serial(ts)

    for row in data.appeals:
        sheet.append(rows.values(row, moment), APPEAL_STYLES)
    return sheet
