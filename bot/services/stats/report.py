"""The monthly report as files: an XLSX workbook (sheets: summary, buildings, heads, the month's
appeals with their timelines) and a CSV of the appeals, headings in the reader's language.

Pure building from :class:`ReportData` (no Telegram, no SQL). Moments are real spreadsheet date
cells in the community's time zone, shown the way the language writes dates; rates are percent
cells next to their numerator and denominator (docs/stats.md)."""

from __future__ import annotations

import csv
import gc
import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bot.i18n import Translator
from bot.models import Level
from bot.services.stats.care import CareWishFigures
from bot.services.stats.figures import BuildingRow, Figures, GroupFigures, HeadRole, Rate, TrendPoint
from bot.services.stats.xlsx import Style, Styled, Workbook
from storage.stats import ReportRow

#: Telegram's limit for a file a bot sends (sendDocument): 50 MB.
TELEGRAM_FILE_LIMIT = 50 * 1024 * 1024
_DATE_FORMATS = {"zh": 'yyyy"年"m"月"d"日" hh:mm', "ru": "dd.mm.yyyy hh:mm", "en": "d mmm yyyy hh:mm"}
_EPOCH_DAYS = 25569  # 1970-01-01 as a spreadsheet day (1899-12-30 is day 0)
_ORDINAL_1970 = date(1970, 1, 1).toordinal()
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class ReportData:
    title: str  # the community's (or the buildings') name
    timezone: str
    figures: Figures
    buildings: list[BuildingRow]
    trend: list[TrendPoint]
    appeals: list[ReportRow]
    timelines: dict[int, list[tuple[int, str]]]
    building_names: dict[int, str]
    unit_names: dict[int, str]
    care: CareWishFigures | None = None  # the care list and wishes (their own sheet, when used)


#: At most this long with the collector held off, however many reports and overviews overlap: a
#: hold spans the reads (awaits), so other coroutines run meanwhile; past this, the next one to come
#: finds it on again and leaves it on until every holder is done (cycles never pile up unbounded).
MAX_PAUSE_SECONDS = 10.0


class _Collector:
    """Who holds the cyclic garbage collector off, since when, and whether to turn it back on."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        self.holders = 0
        self.resume = False  # it was on when the first holder came
        self.since = 0.0
        self.expired = False  # turned on again while still held (MAX_PAUSE_SECONDS passed)

    def enter(self) -> None:
        with self.lock:
            if self.holders == 0:
                self.resume, self.since, self.expired = gc.isenabled(), self.clock(), False
                gc.disable()
            elif not self.expired and self.clock() - self.since > MAX_PAUSE_SECONDS:
                self.expired = True
                if self.resume:
                    gc.enable()
            self.holders += 1

    def leave(self) -> None:
        with self.lock:
            self.holders -= 1
            if self.holders == 0 and self.resume and not self.expired:
                gc.enable()


_COLLECTOR = _Collector()


@contextmanager
def gc_paused(collector: _Collector = _COLLECTOR) -> Iterator[None]:
    """Cyclic garbage collection held off while a report or an overview is made (reference counting
    still frees everything else at once). A district's report makes some 10^5 objects that live
    until it is sent; meanwhile the collector ran some 900 times, three or four of them over the
    whole heap at ~0.3 s each: half of the report's reading time (an overview: one full collection,
    ~0.1 s, in every other call). Held off, it runs once afterwards. It runs again when the last
    holder (of any thread or coroutine) is done, or for good once it has been off MAX_PAUSE_SECONDS
    while holders kept overlapping; if it was off already it stays off."""
    collector.enter()
    try:
        yield
    finally:
        collector.leave()


def _day_label(day: date, lang: str) -> str:
    if lang == "zh":
        return f"{day.month}月{day.day}日"
    if lang == "ru":
        return f"{day.day:02d}.{day.month:02d}"
    return f"{day.day} {_EN_MONTHS[day.month - 1]}"


def short_moment(ts: int, tz: ZoneInfo, lang: str) -> str:
    """A history moment inside a timeline cell: '11月3日 10:00', '03.11 10:00', '3 Nov 10:00'."""
    local = datetime.fromtimestamp(ts, UTC).astimezone(tz)
    return f"{_day_label(local.date(), lang)} {local.hour:02d}:{local.minute:02d}"


#: "HH:MM" of each minute of a day, made once.
_HOURS_MINUTES = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(1440))


class _Clock:
    """Epoch seconds on the community's wall clock without a ``datetime`` per moment: the zone's
    UTC offset is looked up once per quarter hour (every zone's transitions fall on one), a day's
    label once per day."""

    def __init__(self, tz: ZoneInfo, lang: str) -> None:
        self.tz = tz
        self.lang = lang
        self._offsets: dict[int, int] = {}
        self._days: dict[int, str] = {}

    def local(self, ts: int) -> int:
        """Seconds since 1970-01-01 00:00 local time."""
        key = ts // 900
        offset = self._offsets.get(key)
        if offset is None:
            delta = datetime.fromtimestamp(ts, UTC).astimezone(self.tz).utcoffset()
            offset = self._offsets[key] = 0 if delta is None else int(delta.total_seconds())
        return ts + offset

    def serial(self, ts: int) -> float:
        """The spreadsheet date serial of the local moment, as openpyxl's ``to_excel`` makes it of
        the naive local ``datetime`` (whole days since 1899-12-30 plus the day's fraction)."""
        days, seconds = divmod(self.local(ts), 86400)
        return days + _EPOCH_DAYS + seconds / 86400

    def short(self, ts: int) -> str:
        """:func:`short_moment` of ``ts``."""
        days, seconds = divmod(self.local(ts), 86400)
        label = self._days.get(days)
        if label is None:
            label = self._days[days] = _day_label(date.fromordinal(_ORDINAL_1970 + days), self.lang)
        return f"{label} {_HOURS_MINUTES[seconds // 60]}"


def _pct(rate: Rate) -> float | None:
    return None if rate.value is None else round(rate.value, 4)


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _percent(rate: Rate) -> Styled | None:
    """A rate's percent cell, or an empty cell for a rate with no base."""
    value = _pct(rate)
    return None if value is None else Styled(value, Style.PERCENT)


def _figure_headings(t: Translator) -> list[str]:
    return [
        t("stats.col.filed"),
        t("stats.col.open_now"),
        t("stats.col.overdue_now"),
        t("stats.col.response"),
        t("stats.col.response_hits"),
        t("stats.col.response_base"),
        t("stats.col.resolution"),
        t("stats.col.resolution_hits"),
        t("stats.col.resolution_base"),
        t("stats.col.satisfaction"),
        t("stats.col.satisfaction_hits"),
        t("stats.col.rated"),
        t("stats.col.unrated"),
        t("stats.col.auto_closed"),
        t("stats.col.reopened"),
        t("stats.col.escalations"),
        t("stats.col.first_reply_median"),
        t("stats.col.first_reply_p90"),
        t("stats.col.resolution_median"),
        t("stats.col.resolution_p90"),
    ]


def _figure_cells(g: GroupFigures) -> list[object]:
    return [
        g.filed.total,
        g.open_now.total,
        g.overdue_now.total,
        _percent(g.response),
        g.response.hits,
        g.response.base,
        _percent(g.resolution),
        g.resolution.hits,
        g.resolution.base,
        _percent(g.satisfaction),
        g.satisfaction.hits,
        g.rated,
        g.unrated,
        g.auto_closed,
        g.reopened,
        g.escalations,
        _hours(g.first_reply.median_hours),
        _hours(g.first_reply.p90_hours),
        _hours(g.resolution_time.median_hours),
        _hours(g.resolution_time.p90_hours),
    ]


def _head_headings(t: Translator) -> list[str]:
    """The heads sheet's figures: fewer columns than a building's (a district has 10,000 heads)."""
    return [
        t("stats.col.filed"),
        t("stats.col.open_now"),
        t("stats.col.overdue_now"),
        t("stats.col.response"),
        t("stats.col.resolution"),
        t("stats.col.satisfaction"),
        t("stats.col.reopened"),
        t("stats.col.escalations"),
        t("stats.col.first_reply_median"),
        t("stats.col.resolution_median"),
    ]


def _head_cells(g: GroupFigures) -> list[object]:
    return [
        g.filed.total,
        g.open_now.total,
        g.overdue_now.total,
        _pct(g.response),  # percent cells by the sheet's column styles (_HEAD_STYLES)
        _pct(g.resolution),
        _pct(g.satisfaction),
        g.reopened,
        g.escalations,
        _hours(g.first_reply.median_hours),
        _hours(g.resolution_time.median_hours),
    ]


def appeal_columns(t: Translator) -> list[str]:
    return [
        t("stats.col.appeal"),
        t("stats.col.building"),
        t("stats.col.unit"),
        t("stats.col.category"),
        t("stats.col.level"),
        t("stats.col.status"),
        t("stats.col.filed_at"),
        t("stats.col.first_reply_at"),
        t("stats.col.first_reply_hours"),
        t("stats.col.replied_on_time"),
        t("stats.col.resolved_at"),
        t("stats.col.resolution_hours"),
        t("stats.col.resolved_on_time"),
        t("stats.col.closed_at"),
        t("stats.col.rating"),
        t("stats.col.reopened"),
        t("stats.col.escalations"),
        t("stats.col.auto_closed"),
        t("stats.col.timeline"),
    ]


class _Texts(dict[str, str]):
    """``prefix.key`` texts in the reader's language, each looked up once (history kinds reuse the
    timeline's own ``event.*`` texts)."""

    def __init__(self, t: Translator, prefix: str) -> None:
        super().__init__()
        self.t = t
        self.prefix = prefix

    def __missing__(self, key: str) -> str:
        self[key] = self.t(f"{self.prefix}.{key}")
        return self[key]


def event_names(t: Translator) -> dict[str, str]:
    return _Texts(t, "event")


class _Rows:
    """What the appeals sheet and the CSV say of each appeal, in the reader's language."""

    def __init__(self, t: Translator, data: ReportData) -> None:
        self.data = data
        self.clock = _Clock(ZoneInfo(data.timezone), t.lang)
        self.now = int(data.figures.computed_at.timestamp())
        self.events = event_names(t)
        self.categories = _Texts(t, "category")
        self.statuses = _Texts(t, "status")
        self.levels = {level.value: t(f"level.{level.name.lower()}") for level in Level}
        self.yes, self.no = t("stats.yes"), t("stats.no")

    def timeline(self, appeal_id: int) -> str:
        short, names = self.clock.short, self.events
        return " → ".join([f"{short(at)} {names[kind]}" for at, kind in self.data.timelines.get(appeal_id, ())])

    def yes_no(self, value: bool | None) -> str | None:
        return None if value is None else self.yes if value else self.no

    def values(self, row: ReportRow, moment: Callable[[int, int | None], object]) -> list[object]:
        """One appeal's cells; ``moment(i, ts)`` makes the ``i``-th moment's cell (filed, first reply,
        resolved, closed); a blank is None."""
        data = self.data
        # as the rates count them (docs/stats.md): late once the deadline passed without it; blank while pending
        replied: bool | None = None
        if row.first_reply_at is not None:
            replied = row.first_reply_at <= row.first_reply_due_at
        elif row.first_reply_due_at <= self.now:
            replied = False
        resolved: bool | None = None
        if row.resolved_on_time is not None:
            resolved = bool(row.resolved_on_time)
        elif row.resolve_due_at is not None and row.resolve_due_at <= self.now:
            resolved = False
        return [
            row.appeal_id,
            data.building_names.get(row.building_id, str(row.building_id)),
            None if row.unit_id is None else data.unit_names.get(row.unit_id, str(row.unit_id)),
            self.categories[row.category],
            self.levels.get(row.level) or str(row.level),
            self.statuses[row.status],
            moment(0, row.created_at),
            moment(1, row.first_reply_at),
            None if row.first_reply_s is None else round(row.first_reply_s / 3600, 1),
            self.yes_no(replied),
            moment(2, row.resolved_at),
            None if row.resolve_s is None else round(row.resolve_s / 3600, 1),
            self.yes_no(resolved),
            moment(3, row.closed_at),
            row.rating,
            row.reopens,
            row.escalations,
            self.yes_no(bool(row.auto_closed)) if row.closed_at else None,
            self.timeline(row.appeal_id),
        ]


def xlsx_bytes(data: ReportData, t: Translator) -> bytes:
    with gc_paused():
        return _xlsx(data, t)


#: Where the appeals sheet has its moments (filed, first reply, resolved, closed): date cells.
_D = Style.DATE
_APPEAL_STYLES = (None, None, None, None, None, None, _D, _D, None, None, _D, None, None, _D)
#: Column widths (characters) of the big sheets: names and the timeline wide enough to read.
_APPEAL_WIDTHS = (8, 18, 10, 12, 12, 12, 17, 17, 9, 9, 17, 9, 9, 17, 7, 7, 7, 7, 90)
_HEAD_WIDTHS = (18, 12, 24, 8)
#: The heads sheet's three rates (after name, role, places, points, filed, open, overdue): percent cells.
_P = Style.PERCENT
_HEAD_STYLES = (None, None, None, None, None, None, None, _P, _P, _P)


def _xlsx(data: ReportData, t: Translator) -> bytes:
    book = Workbook(_DATE_FORMATS.get(t.lang, _DATE_FORMATS["en"]))
    figures = data.figures
    total = figures.total
    summary = book.sheet(t("stats.sheet.summary"), widths=(40, 16, 12, 12, 12))
    summary.heading([t("stats.report_title", title=data.title, month=figures.period.month or "")])
    summary.append([t("stats.col.period"), figures.period.month or f"{figures.period.start} – {figures.period.end}"])
    for label, value in zip(_figure_headings(t), _figure_cells(total), strict=True):
        summary.append([label, value])
    for category, count in sorted(total.filed.by_category.items()):
        summary.append([f"{t('stats.col.filed')}: {t(f'category.{category.value}')}", count])
    for level, count in sorted(total.filed.by_level.items()):
        summary.append([f"{t('stats.col.filed')}: {t(f'level.{level.name.lower()}')}", count])
    summary.append([])
    summary.heading(
        [
            t("stats.col.month"),
            t("stats.col.filed"),
            t("stats.col.response"),
            t("stats.col.resolution"),
            t("stats.col.satisfaction"),
        ]
    )
    for point in data.trend:
        summary.append(
            [
                point.month,
                point.filed,
                _percent(point.response),
                _percent(point.resolution),
                _percent(point.satisfaction),
            ]
        )
    summary.append([])
    summary.append([t("stats.definitions_note")])

    buildings = book.sheet(t("stats.sheet.buildings"), widths=(18,))
    buildings.heading([t("stats.col.building"), *_figure_headings(t)])
    for b in data.buildings:
        buildings.append([b.name, *_figure_cells(b.figures)])

    heads = book.sheet(t("stats.sheet.heads"), widths=_HEAD_WIDTHS)
    heads.heading(
        [t("stats.col.head"), t("stats.col.role"), t("stats.col.places"), t("stats.col.points"), *_head_headings(t)]
    )
    roles = {role: t(f"level.{role.value}") for role in HeadRole}
    for h in figures.heads:
        if h.figures.filed.total or h.figures.open_now.total or h.points:  # a quiet head is no row
            heads.append([h.name, roles[h.role], ", ".join(h.places), h.points, *_head_cells(h.figures)], _HEAD_STYLES)

    appeals = book.sheet(t("stats.sheet.appeals"), widths=_APPEAL_WIDTHS)
    appeals.heading(appeal_columns(t))
    rows = _Rows(t, data)
    serial = rows.clock.serial

    def moment(_: int, ts: int | None) -> float | None:
        return None if ts is None else serial(ts)

    for row in data.appeals:
        appeals.append(rows.values(row, moment), _APPEAL_STYLES)
    care_sheet(book, data, t)
    return book.to_bytes()


def csv_bytes(data: ReportData, t: Translator) -> bytes:
    """The month's appeals (one row each, with the timeline), UTF-8 with a byte-order mark so that
    spreadsheet programs read Chinese and Russian right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(appeal_columns(t))
    rows = _Rows(t, data)
    short = rows.clock.short

    def moment(_: int, ts: int | None) -> str | None:
        return None if ts is None else short(ts)

    for row in data.appeals:
        writer.writerow(["" if v is None else v for v in rows.values(row, moment)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- the care list and wishes (issue 12): a sheet of their own -------------------------------------
def _care_rows(care: CareWishFigures) -> list[tuple[str, object]]:
    """(label key, cell) of the summary's care and wish figures, in order (counts only)."""
    c, w = care.care, care.wishes
    return [
        ("stats.care.col.households", c.households),
        ("stats.care.col.visits", c.visits),
        ("stats.care.col.well", c.well),
        ("stats.care.col.help", c.help),
        ("stats.care.col.away", c.away),
        ("stats.care.col.due", c.due),
        ("stats.care.col.on_time", c.on_time),
        ("stats.care.col.missed", c.missed),
        ("stats.care.col.pending", c.pending),
        ("stats.care.col.on_time_rate", _percent(c.on_time_rate)),
        ("stats.care.col.rounds", c.rounds),
        ("stats.care.col.rounds_completed", c.rounds_completed),
        ("stats.care.col.round_visited", c.round_visited),
        ("stats.care.col.round_households", c.round_households),
        ("stats.care.col.round_completion", _percent(c.round_completion)),
        ("stats.wish.col.posted", w.posted),
        ("stats.wish.col.claimed", w.claimed),
        ("stats.wish.col.fulfilled", w.fulfilled),
        ("stats.wish.col.expired", w.expired),
        ("stats.wish.col.cancelled", w.cancelled),
        ("stats.wish.col.pending", w.pending),
        ("stats.wish.col.open_now", w.open_now),
        ("stats.wish.col.claimed_now", w.claimed_now),
        ("stats.wish.col.fulfilment", _percent(w.fulfilment)),
        ("stats.wish.col.claim_median", _hours(w.time_to_claim.median_hours)),
    ]


_CARE_BUILDING_KEYS = (
    "stats.care.col.households",
    "stats.care.col.visits",
    "stats.care.col.due",
    "stats.care.col.on_time",
    "stats.care.col.missed",
    "stats.care.col.on_time_rate",
    "stats.care.col.rounds",
    "stats.care.col.rounds_completed",
    "stats.wish.col.posted",
    "stats.wish.col.fulfilled",
    "stats.wish.col.fulfilment",
    "stats.wish.col.open_now",
)


def care_sheet(book: Workbook, data: ReportData, t: Translator) -> None:
    """The "care and wishes" sheet: the scope's figures, then a row per building. Only when the scope
    uses the care list or wishes; counts only, never a household's label or note."""
    care = data.care
    if care is None or not care.in_use:
        return
    sheet = book.sheet(t("stats.sheet.care"), widths=(40, 12, 12, 12, 12))
    sheet.heading([t("stats.care.report_title", title=data.title, month=care.period.month or "")])
    sheet.append([t("stats.col.period"), care.period.month or f"{care.period.start} – {care.period.end}"])
    for key, value in _care_rows(care):
        sheet.append([t(key), value])
    sheet.append([])
    sheet.heading([t("stats.col.building"), *(t(k) for k in _CARE_BUILDING_KEYS)])
    for row in care.buildings:
        c, w = row.care, row.wishes
        cells: list[object] = [
            c.households,
            c.visits,
            c.due,
            c.on_time,
            c.missed,
            _percent(c.on_time_rate),
            c.rounds,
            c.rounds_completed,
            w.posted,
            w.fulfilled,
            _percent(w.fulfilment),
            w.open_now,
        ]
        sheet.append([row.name, *cells])
    sheet.append([])
    sheet.append([t("stats.care.definitions_note")])
