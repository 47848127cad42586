"""The report writer's shortcuts say what the slow ways say: the wall clock without a ``datetime``
per moment (date serials and the timeline's short moments, across daylight-saving changes), and the
collector held off only while a report is made."""

from __future__ import annotations

import gc
import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import to_excel

from bot.services.stats.report import MAX_PAUSE_SECONDS, _Clock, _Collector, gc_paused, short_moment

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
