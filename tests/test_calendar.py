"""Tests for bot.calendar: real CN/RU schedules, deadline arithmetic, DST and quiet hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.calendar import WorkCalendar, WorkingHours

SHANGHAI = ZoneInfo("Asia/Shanghai")
MOSCOW = ZoneInfo("Europe/Moscow")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0
DAY = 9 * HOUR

CN = WorkCalendar("CN", "Asia/Shanghai")
RU = WorkCalendar("RU", "Europe/Moscow")
US = WorkCalendar("US", NEW_YORK)
DE = WorkCalendar("DE", "Europe/Berlin")


def cn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# ----- real schedules ---------------------------------------------------------------------------


@pytest.mark.parametrize("d", [date(2025, 9, 28), date(2026, 1, 4), date(2025, 10, 11)])
def test_cn_make_up_weekend_days_are_working(d: date) -> None:
    assert d.weekday() >= 5
    assert CN.is_working_day(d)


def test_cn_national_day_2025_is_off() -> None:
    assert not any(CN.is_working_day(d) for d in days(date(2025, 10, 1), date(2025, 10, 8)))
    assert CN.is_working_day(date(2025, 9, 30))
    assert CN.is_working_day(date(2025, 10, 9))


def test_cn_spring_festival_2026() -> None:
    # Official 2026 notice (as in holidays 0.109): Feb 15-23 off, Sat Feb 14 and Sat Feb 28 worked.
    assert not any(CN.is_working_day(d) for d in days(date(2026, 2, 15), date(2026, 2, 23)))
    assert CN.is_working_day(date(2026, 2, 13))
    assert CN.is_working_day(date(2026, 2, 14))  # Saturday, make-up day
    assert CN.is_working_day(date(2026, 2, 24))
    assert CN.is_working_day(date(2026, 2, 28))  # Saturday, make-up day
    assert not CN.is_working_day(date(2026, 2, 21))  # ordinary weekend inside the break
    # New Year 2026: Jan 1-3 off, Sunday Jan 4 worked.
    assert not any(CN.is_working_day(d) for d in days(date(2026, 1, 1), date(2026, 1, 3)))


def test_ru_transfers() -> None:
    assert RU.is_working_day(date(2025, 11, 1))  # Saturday, transferred working day
    assert not RU.is_working_day(date(2025, 11, 3))  # Monday, day off
    assert not RU.is_working_day(date(2025, 11, 4))  # Unity Day
    assert not any(RU.is_working_day(d) for d in days(date(2026, 1, 1), date(2026, 1, 8)))
    assert not RU.is_working_day(date(2026, 1, 9))  # transferred from Sat Jan 3
    assert RU.is_working_day(date(2026, 1, 12))


def test_ru_arithmetic_uses_saturday_transfer() -> None:
    fri = datetime(2025, 10, 31, 17, 0, tzinfo=MOSCOW)
    assert RU.add_working_seconds(fri, 2 * HOUR) == datetime(2025, 11, 1, 10, 0, tzinfo=MOSCOW)
    assert RU.add_working_days(datetime(2025, 11, 1, 12, 0, tzinfo=MOSCOW), 1) == datetime(
        2025, 11, 5, 12, 0, tzinfo=MOSCOW
    )


def test_announced_years() -> None:
    last = CN.last_announced_year()
    assert isinstance(last, int)
    assert last >= 2026
    assert CN.is_announced(date(2026, 12, 31))
    assert not CN.is_announced(date(last + 1, 1, 1))
    if last == 2026:  # installed holidays version; update when the library learns 2027
        assert not CN.is_announced(date(2027, 2, 10))
    # Unannounced years still get a rule-based answer.
    assert CN.is_working_day(date(2027, 3, 3))
    assert not CN.is_working_day(date(2027, 3, 6))
    assert US.last_announced_year() is None
    assert US.is_announced(date(2099, 1, 1))


# ----- construction and overrides ---------------------------------------------------------------


def test_unknown_country_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match="XX"):
        WorkCalendar("XX", "UTC")
    with pytest.raises(ValueError):
        WorkCalendar("US", "UTC", subdiv="ZZ")
    with pytest.raises(ValueError):
        WorkCalendar("US", "Mars/Olympus_Mons")
    with pytest.raises(ValueError):
        WorkingHours(time(18, 0), time(9, 0))
    with pytest.raises(ValueError):
        CN.is_working_time(datetime(2025, 9, 29, 10, 0))  # noqa: DTZ001 - naive on purpose


def test_alpha3_and_lowercase_codes() -> None:
    assert WorkCalendar("chn", SHANGHAI).country == "CN"


def test_overrides_beat_library() -> None:
    cal = WorkCalendar("CN", SHANGHAI, overrides={date(2025, 10, 2): True, date(2025, 9, 28): False})
    assert cal.is_working_day(date(2025, 10, 2))
    assert not cal.is_working_day(date(2025, 9, 28))
    assert cal.next_working_moment(cn(2025, 9, 27, 12)) == cn(2025, 9, 29, 9)
    assert cal.add_working_days(cn(2025, 9, 30, 10), 1) == cn(2025, 10, 2, 10)


def test_loops_are_bounded() -> None:
    closed = {date(2025, 1, 1) + timedelta(days=i): False for i in range(4000)}
    cal = WorkCalendar("US", NEW_YORK, overrides=closed)
    with pytest.raises(ValueError):
        cal.next_working_moment(ny(2025, 1, 1, 12))
    with pytest.raises(ValueError):
        US.working_seconds_between(ny(2000, 1, 1), ny(2025, 1, 1))


# ----- arithmetic -------------------------------------------------------------------------------


def test_cn_deadline_across_national_day() -> None:
    deadline = CN.add_working_days(cn(2025, 9, 30, 10), 1)
    assert deadline == cn(2025, 10, 9, 10)
    assert deadline.tzinfo == SHANGHAI
    # Two days: Oct 9 10:00 -> Oct 10 10:00; three: Sat Oct 11 (make-up day) 10:00.
    assert CN.add_working_days(cn(2025, 9, 30, 10), 3) == cn(2025, 10, 11, 10)


def test_filed_on_saturday_counts_from_next_working_day() -> None:
    assert US.next_working_moment(ny(2025, 6, 7, 11)) == ny(2025, 6, 9, 9)
    assert US.add_working_days(ny(2025, 6, 7, 11), 1) == ny(2025, 6, 9, 18)
    assert US.add_working_days(ny(2025, 6, 7, 11), 2) == ny(2025, 6, 10, 18)
    # CN: Saturday Sep 27 -> make-up Sunday Sep 28 09:00.
    assert CN.next_working_moment(cn(2025, 9, 27, 12)) == cn(2025, 9, 28, 9)


def test_period_end_is_returned_exactly() -> None:
    mon = ny(2025, 6, 9, 9)
    assert US.add_working_seconds(mon, 9 * HOUR) == ny(2025, 6, 9, 18)
    assert US.add_working_days(ny(2025, 6, 9, 10), 1) == ny(2025, 6, 10, 10)
    assert US.add_working_seconds(ny(2025, 6, 9, 20), 0) == ny(2025, 6, 10, 9)
    assert US.working_day_length() == timedelta(hours=9)


def test_across_weekend() -> None:
    fri = ny(2025, 6, 6, 15)
    assert US.add_working_days(fri, 1) == ny(2025, 6, 9, 15)
    assert US.working_seconds_between(fri, ny(2025, 6, 9, 15)) == DAY
    assert US.working_seconds_between(ny(2025, 6, 9, 15), fri) == 0.0


def test_working_time_boundaries_and_other_timezones() -> None:
    assert CN.is_working_time(cn(2025, 9, 29, 9))
    assert CN.is_working_time(cn(2025, 9, 29, 17, 59, 59))
    assert not CN.is_working_time(cn(2025, 9, 29, 18))
    assert CN.is_working_time(datetime(2025, 9, 29, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai
    assert not CN.is_working_time(datetime(2025, 9, 29, 0, 59, tzinfo=UTC))
    assert CN.next_working_moment(datetime(2025, 9, 29, 3, 0, tzinfo=UTC)) == cn(2025, 9, 29, 11)


def test_subtract_for_reminders() -> None:
    deadline = ny(2025, 6, 10, 10)
    assert US.subtract_working_seconds(deadline, 2 * HOUR) == ny(2025, 6, 9, 17)
    assert US.subtract_working_seconds(deadline, HOUR) == ny(2025, 6, 10, 9)
    assert US.subtract_working_seconds(ny(2025, 6, 9, 12), 4 * HOUR) == ny(2025, 6, 6, 17)
    assert US.subtract_working_seconds(deadline, 0) == deadline
    assert US.add_working_seconds(deadline, -2 * HOUR) == ny(2025, 6, 9, 17)


# ----- DST --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cal", "tz", "sunday"),
    [
        (US, NEW_YORK, date(2025, 3, 9)),
        (US, NEW_YORK, date(2025, 11, 2)),
        (DE, BERLIN, date(2025, 3, 30)),
        (DE, BERLIN, date(2025, 10, 26)),
    ],
)
def test_dst_switch_keeps_nine_hour_days(cal: WorkCalendar, tz: ZoneInfo, sunday: date) -> None:
    fri = datetime.combine(sunday - timedelta(days=2), time(9), tzinfo=tz)
    mon = datetime.combine(sunday + timedelta(days=1), time(0), tzinfo=tz)
    tue = datetime.combine(sunday + timedelta(days=2), time(0), tzinfo=tz)
    assert cal.working_seconds_between(mon, tue) == DAY
    assert cal.working_seconds_between(fri, tue) == 2 * DAY
    assert cal.add_working_days(fri, 1) == datetime.combine(sunday - timedelta(days=2), time(18), tzinfo=tz)
    assert cal.add_working_days(fri, 2) == datetime.combine(sunday + timedelta(days=1), time(18), tzinfo=tz)
    assert cal.add_working_seconds(fri, 10 * HOUR) == datetime.combine(mon.date(), time(10), tzinfo=tz)


def test_dst_inside_working_hours_counts_real_time() -> None:
    night = WorkCalendar("US", NEW_YORK, WorkingHours(time(0), time(6)), overrides={date(2025, 3, 9): True})
    assert night.working_seconds_between(ny(2025, 3, 9), ny(2025, 3, 10)) == 5 * HOUR
    assert night.add_working_seconds(ny(2025, 3, 9, 0), 3 * HOUR) == ny(2025, 3, 9, 4)


# ----- quiet hours ------------------------------------------------------------------------------


def test_next_notify_time() -> None:
    assert CN.next_notify_time(cn(2025, 9, 29, 3)) == cn(2025, 9, 29, 9)
    assert CN.next_notify_time(cn(2025, 9, 29, 12)) == cn(2025, 9, 29, 12)
    assert CN.next_notify_time(cn(2025, 9, 29, 18, 20)) == cn(2025, 9, 29, 18, 20)
    assert CN.next_notify_time(cn(2025, 9, 29, 18, 30)) == cn(2025, 9, 29, 18, 30)
    assert CN.next_notify_time(cn(2025, 9, 29, 18, 40)) == cn(2025, 9, 30, 9)
    assert CN.next_notify_time(cn(2025, 9, 29, 18, 40), grace=timedelta(hours=1)) == cn(2025, 9, 29, 18, 40)
    assert CN.next_notify_time(cn(2025, 9, 30, 19)) == cn(2025, 10, 9, 9)  # National Day
    assert CN.next_notify_time(cn(2025, 10, 10, 20)) == cn(2025, 10, 11, 9)  # make-up Saturday
    assert CN.next_notify_time(cn(2025, 10, 18, 11)) == cn(2025, 10, 20, 9)  # ordinary Saturday


# ----- properties -------------------------------------------------------------------------------

CALENDARS = st.sampled_from([CN, RU, US, DE])
MOMENTS = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis bounds must be naive
    max_value=datetime(2026, 12, 31, 23, 59),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, SHANGHAI, MOSCOW, NEW_YORK, BERLIN]),
)
SECONDS = st.integers(min_value=0, max_value=int(10 * DAY))


@settings(deadline=None, max_examples=150)
@given(cal=CALENDARS, dt=MOMENTS, seconds=SECONDS)
def test_add_and_between_are_inverse(cal: WorkCalendar, dt: datetime, seconds: int) -> None:
    start = cal.next_working_moment(dt)
    assert cal.is_working_time(start)
    end = cal.add_working_seconds(dt, seconds)
    assert end.tzinfo == cal.tz
    assert cal.working_seconds_between(start, end) == seconds
    assert cal.working_seconds_between(dt, end) == seconds
    assert cal.subtract_working_seconds(end, seconds) == start


@settings(deadline=None, max_examples=150)
@given(cal=CALENDARS, dt=MOMENTS, seconds=SECONDS)
def test_subtract_then_add_roundtrip(cal: WorkCalendar, dt: datetime, seconds: int) -> None:
    moment = cal.next_working_moment(dt)
    earlier = cal.subtract_working_seconds(moment, seconds)
    assert cal.working_seconds_between(earlier, moment) == seconds
    # add() stops at a period end, which is the same working moment as the next period start.
    assert cal.next_working_moment(cal.add_working_seconds(earlier, seconds)) == moment


@settings(deadline=None, max_examples=100)
@given(cal=CALENDARS, dt=MOMENTS, micros=st.integers(min_value=0, max_value=int(3 * DAY) * 10**6))
def test_fractional_seconds(cal: WorkCalendar, dt: datetime, micros: int) -> None:
    seconds = micros / 10**6
    end = cal.add_working_seconds(dt, seconds)
    assert cal.working_seconds_between(dt, end) == pytest.approx(seconds, abs=1e-6)
