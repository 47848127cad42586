"""Working-day calendars: working days, working hours and deadline arithmetic.

Working days come from the ``holidays`` library (weekends, public holidays and the official
make-up working days such as China's 调休 and Russia's transfers), with local staff overrides
on top. All arithmetic is done on UTC instants; working periods are built per local date from
wall-clock hours, so DST switches are handled. Every returned datetime is aware, in the
calendar's time zone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = ["DEFAULT_HOURS", "MAX_SCAN_DAYS", "WorkCalendar", "WorkingHours"]

#: Upper bound of days any single operation may scan (about ten years).
MAX_SCAN_DAYS = 3660

#: Countries whose holiday/make-up schedule is decreed yearly; for them the last announced year
#: is derived from the library's per-year ``special_public_holidays`` data. Other countries are
#: treated as rule-based (``last_announced_year() is None``).
_YEARLY_SCHEDULE_COUNTRIES = frozenset({"CN", "RU"})


@dataclass(frozen=True)
class WorkingHours:
    """Daily working hours as local wall-clock times, ``start < end`` (no overnight shifts)."""

    start: time = time(9, 0)
    end: time = time(18, 0)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("WorkingHours must use naive wall-clock times")
        if not self.start < self.end:
            raise ValueError(f"WorkingHours start {self.start} must be before end {self.end}")


DEFAULT_HOURS = WorkingHours()


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware: {dt!r}")
    return dt.astimezone(UTC)


class WorkCalendar:
    """Working-day calendar of one country (optionally a subdivision) in one time zone."""

    def __init__(
        self,
        country: str,
        tz: str | ZoneInfo,
        hours: WorkingHours = DEFAULT_HOURS,
        overrides: Mapping[date, bool] | None = None,
        subdiv: str | None = None,
    ) -> None:
        code = country.strip().upper()
        try:
            probe = holidays.country_holidays(code, subdiv=subdiv, years=())
        except NotImplementedError as exc:
            raise ValueError(f"Unknown or unsupported country/subdivision {country!r}/{subdiv!r}: {exc}") from exc
        if isinstance(tz, str):
            try:
                tz = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"Unknown time zone {tz!r}") from exc
        self.country: str = str(probe.country)
        self.subdiv = subdiv
        self.tz: ZoneInfo = tz
        self.hours = hours
        self.overrides: dict[date, bool] = dict(overrides or {})
        self._cache: dict[int, frozenset[date]] = {}
        self._last_announced: int | None = None
        if self.country in _YEARLY_SCHEDULE_COUNTRIES:
            years = [int(y) for y in getattr(probe, "special_public_holidays", {})]
            self._last_announced = max(years) if years else None

    # ----- days -------------------------------------------------------------------------------

    def _working_days_of(self, year: int) -> frozenset[date]:
        cached = self._cache.get(year)
        if cached is None:
            # Neighbouring years too: a make-up day may belong to the next year's schedule.
            lib = holidays.country_holidays(self.country, subdiv=self.subdiv, years=range(year - 1, year + 2))
            first = date(year, 1, 1)
            days = (first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days))
            cached = frozenset(d for d in days if bool(lib.is_working_day(d)))
            self._cache[year] = cached
        return cached

    def is_working_day(self, d: date) -> bool:
        """Staff overrides first, then the library (weekends, holidays, make-up days)."""
        if isinstance(d, datetime):
            d = d.date()
        override = self.overrides.get(d)
        if override is not None:
            return override
        return d in self._working_days_of(d.year)

    def last_announced_year(self) -> int | None:
        """Last year with an officially announced schedule; None for rule-based calendars."""
        return self._last_announced

    def is_announced(self, d: date) -> bool:
        """False if ``d`` lies past the last announced year (the answer is only rule-based)."""
        return self._last_announced is None or d.year <= self._last_announced

    def working_day_length(self) -> timedelta:
        """Nominal (wall-clock) length of a working day."""
        return datetime.combine(date.min, self.hours.end) - datetime.combine(date.min, self.hours.start)

    # ----- periods ----------------------------------------------------------------------------

    def _local_date(self, u: datetime) -> date:
        return u.astimezone(self.tz).date()

    def _period(self, d: date) -> tuple[datetime, datetime]:
        """UTC bounds of the working period on local date ``d`` (DST-safe)."""
        start = datetime.combine(d, self.hours.start, tzinfo=self.tz).astimezone(UTC)
        end = datetime.combine(d, self.hours.end, tzinfo=self.tz).astimezone(UTC)
        return start, end

    def _periods(self, first: date, step: int = 1) -> Iterator[tuple[datetime, datetime]]:
        """Working periods from local date ``first`` forwards (step=1) or backwards (step=-1)."""
        d = first
        for _ in range(MAX_SCAN_DAYS):
            if self.is_working_day(d):
                yield self._period(d)
            d += timedelta(days=step)
        raise ValueError(f"no working time found within {MAX_SCAN_DAYS} days of {first}")

    def _out(self, u: datetime) -> datetime:
        return u.astimezone(self.tz)

    # ----- instants ---------------------------------------------------------------------------

    def is_working_time(self, dt: datetime) -> bool:
        """True on a working day with start <= local time < end."""
        u = _utc(dt)
        d = self._local_date(u)
        if not self.is_working_day(d):
            return False
        start, end = self._period(d)
        return start <= u < end

    def next_working_moment(self, dt: datetime) -> datetime:
        """``dt`` itself if it is working time, else the start of the next working period."""
        u = _utc(dt)
        for start, end in self._periods(self._local_date(u)):
            if u < end:
                return self._out(max(u, start))
        raise AssertionError("unreachable")  # pragma: no cover

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Seconds of working time in ``[a, b)``; 0 if ``b <= a``."""
        ua, ub = _utc(a), _utc(b)
        if ub <= ua:
            return 0.0
        first, last = self._local_date(ua), self._local_date(ub)
        if (last - first).days > MAX_SCAN_DAYS:
            raise ValueError(f"range {a} .. {b} exceeds {MAX_SCAN_DAYS} days")
        total = timedelta()
        for i in range((last - first).days + 1):
            d = first + timedelta(days=i)
            if self.is_working_day(d):
                start, end = self._period(d)
                if start < ub and end > ua:
                    total += min(end, ub) - max(start, ua)
        return total.total_seconds()

    def add_working_seconds(self, dt: datetime, seconds: float) -> datetime:
        """Moment when ``seconds`` of working time have elapsed after ``dt``.

        Ends exactly at a period end if the time runs out there (Mon 09:00 + 9h = Mon 18:00).
        ``seconds == 0`` gives ``next_working_moment(dt)``; negative values subtract.
        """
        if seconds < 0:
            return self.subtract_working_seconds(dt, -seconds)
        remaining = timedelta(seconds=seconds)
        u = _utc(self.next_working_moment(dt))
        if not remaining:
            return self._out(u)
        for start, end in self._periods(self._local_date(u)):
            if end <= u:
                continue
            begin = max(start, u)
            if remaining <= end - begin:
                return self._out(begin + remaining)
            remaining -= end - begin
        raise AssertionError("unreachable")  # pragma: no cover

    def subtract_working_seconds(self, dt: datetime, seconds: float) -> datetime:
        """Latest moment ``t`` with ``working_seconds_between(t, dt) == seconds`` (``dt`` if 0)."""
        if seconds < 0:
            return self.add_working_seconds(dt, -seconds)
        remaining = timedelta(seconds=seconds)
        u = _utc(dt)
        if not remaining:
            return self._out(u)
        for start, end in self._periods(self._local_date(u), step=-1):
            if start >= u:
                continue
            finish = min(end, u)
            if remaining <= finish - start:
                return self._out(finish - remaining)
            remaining -= finish - start
        raise AssertionError("unreachable")  # pragma: no cover

    def add_working_day_time(self, dt: datetime, seconds: float) -> datetime:
        """Moment when ``seconds`` of *working-day* time have elapsed after ``dt``: hours around the
        clock (nights included) on working days, nothing on weekends, holidays and days off. Filed
        on Friday 22:00 + 24 h -> Friday's 2 h, then Monday 00:00-22:00 -> Monday 22:00; a make-up
        working Sunday counts like any working day."""
        if seconds <= 0:
            return self._out(_utc(dt))
        remaining = timedelta(seconds=seconds)
        u = _utc(dt)
        d = self._local_date(u)
        for _ in range(MAX_SCAN_DAYS):
            begin = datetime.combine(d, time(0), tzinfo=self.tz).astimezone(UTC)
            end = datetime.combine(d + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(UTC)
            if self.is_working_day(d) and end > u:
                start = max(begin, u)
                if remaining <= end - start:
                    return self._out(start + remaining)
                remaining -= end - start
            d += timedelta(days=1)
        raise ValueError(f"no working day found within {MAX_SCAN_DAYS} days of {dt}")

    def add_working_days(self, dt: datetime, n: int) -> datetime:
        """Deadline ``n`` working days after ``dt``.

        N working days = N full working days of working time, i.e.
        ``add_working_seconds(dt, n * working_day_length())``: filed Mon 10:00 + 1 -> Tue 10:00;
        filed Sat -> counted from Mon 09:00 (so + 1 -> Mon 18:00).
        """
        return self.add_working_seconds(dt, n * self.working_day_length().total_seconds())

    def next_notify_time(self, dt: datetime, grace: timedelta = timedelta(minutes=30)) -> datetime:
        """Quiet hours: ``dt`` if on a working day within [start, end + grace], else next period start."""
        u = _utc(dt)
        d = self._local_date(u)
        if self.is_working_day(d):
            start, end = self._period(d)
            if start <= u <= end + grace:
                return self._out(u)
        for start, _ in self._periods(d):
            if start >= u:
                return self._out(start)
        raise AssertionError("unreachable")  # pragma: no cover
