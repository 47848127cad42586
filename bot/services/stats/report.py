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

from bot.i18n import Translator
from bot.services.stats.appeals_sheet import APPEAL_WIDTHS, AppealRows, appeal_columns, write_appeals_sheet
from bot.services.stats.care import CareWishFigures
from bot.services.stats.figures import BuildingRow, Figures, GroupFigures, HeadRole, Rate, TrendPoint
from bot.services.stats.xlsx import Sheet, Style, Styled, Workbook
from storage.stats import ReportRow

#: Telegram's limit for a file a bot sends (sendDocument): 50 MB.
TELEGRAM_FILE_LIMIT = 50 * 1024 * 1024
_DATE_FORMATS = {"zh": 'yyyy"年"m"月"d"日" hh:mm', "ru": "dd.mm.yyyy hh:mm", "en": "d mmm yyyy hh:mm"}


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


def xlsx_bytes(data: ReportData, t: Translator) -> bytes:
    with gc_paused():
        return _xlsx(data, t)


_HEAD_WIDTHS = (18, 12, 24, 8)
#: The heads sheet's three rates (after name, role, places, points, filed, open, overdue): percent cells.
_P = Style.PERCENT
_HEAD_STYLES = (None, None, None, None, None, None, None, _P, _P, _P)


def _xlsx(data: ReportData, t: Translator) -> bytes:
    book = Workbook(_DATE_FORMATS.get(t.lang, _DATE_FORMATS["en"]))
    try:
        # the tabs in this order; the appeals sheet (most of the file) is written first and
        # compressed while the others are written (Workbook.finish)
        summary = book.sheet(t("stats.sheet.summary"), widths=(40, 16, 12, 12, 12))
        buildings = book.sheet(t("stats.sheet.buildings"), widths=(18,))
        heads = book.sheet(t("stats.sheet.heads"), widths=_HEAD_WIDTHS)
        appeals = book.sheet(t("stats.sheet.appeals"), widths=APPEAL_WIDTHS)
        care = care_sheet(book, data, t)
        write_appeals_sheet(appeals, data, t)
        book.finish(appeals)
        _heads_sheet(heads, data, t)
        _buildings_sheet(buildings, data, t)
        _summary_sheet(summary, data, t)
        if care is not None:
            fill_care_sheet(care, data, t)
        return book.to_bytes()
    finally:
        book.close()


def _summary_sheet(summary: Sheet, data: ReportData, t: Translator) -> None:
    figures = data.figures
    total = figures.total
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


def _buildings_sheet(buildings: Sheet, data: ReportData, t: Translator) -> None:
    buildings.heading([t("stats.col.building"), *_figure_headings(t)])
    for b in data.buildings:
        buildings.append([b.name, *_figure_cells(b.figures)])


def _heads_sheet(heads: Sheet, data: ReportData, t: Translator) -> None:
    heads.heading(
        [t("stats.col.head"), t("stats.col.role"), t("stats.col.places"), t("stats.col.points"), *_head_headings(t)]
    )
    roles = {role: t(f"level.{role.value}") for role in HeadRole}
    for h in data.figures.heads:
        if h.figures.filed.total or h.figures.open_now.total or h.points:  # a quiet head is no row
            heads.append([h.name, roles[h.role], ", ".join(h.places), h.points, *_head_cells(h.figures)], _HEAD_STYLES)


def csv_bytes(data: ReportData, t: Translator) -> bytes:
    """The month's appeals (one row each, with the timeline), UTF-8 with a byte-order mark so that
    spreadsheet programs read Chinese and Russian right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(appeal_columns(t))
    rows = AppealRows(t, data)
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


def care_sheet(book: Workbook, data: ReportData, t: Translator) -> Sheet | None:
    """The "care and wishes" tab, only when the scope uses the care list or wishes (filled by
    :func:`fill_care_sheet`)."""
    care = data.care
    if care is None or not care.in_use:
        return None
    return book.sheet(t("stats.sheet.care"), widths=(40, 12, 12, 12, 12))


def fill_care_sheet(sheet: Sheet, data: ReportData, t: Translator) -> None:
    """The scope's care and wish figures, then a row per building; counts only, never a household's
    label or note."""
    care = data.care
    assert care is not None  # care_sheet made the tab for it
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
