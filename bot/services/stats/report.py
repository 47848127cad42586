"""The monthly report as files: an XLSX workbook (sheets: summary, buildings, heads, the month's
appeals with their timelines) and a CSV of the appeals, headings in the reader's language.

Pure building from :class:`ReportData` (no Telegram, no SQL). Moments are real spreadsheet date
cells in the community's time zone, shown the way the language writes dates; rates are percent
cells next to their numerator and denominator (docs/stats.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from bot.i18n import Translator
from bot.models import Level
from bot.services.stats.care import CareWishFigures
from bot.services.stats.figures import BuildingRow, Figures, GroupFigures, Rate, TrendPoint
from storage.stats import ReportRow

#: Telegram's limit for a file a bot sends (sendDocument): 50 MB.
TELEGRAM_FILE_LIMIT = 50 * 1024 * 1024
_DATE_FORMATS = {"zh": 'yyyy"年"m"月"d"日" hh:mm', "ru": "dd.mm.yyyy hh:mm", "en": "d mmm yyyy hh:mm"}
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


def short_moment(ts: int, tz: ZoneInfo, lang: str) -> str:
    """A history moment inside a timeline cell: '11月3日 10:00', '03.11 10:00', '3 Nov 10:00'."""
    local = datetime.fromtimestamp(ts, UTC).astimezone(tz)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if lang == "zh":
        return f"{local.month}月{local.day}日 {clock}"
    if lang == "ru":
        return f"{local.day:02d}.{local.month:02d} {clock}"
    return f"{local.day} {_EN_MONTHS[local.month - 1]} {clock}"


def _pct(rate: Rate) -> float | None:
    return None if rate.value is None else round(rate.value, 4)


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class _Sheet:
    """A write-only sheet with a bold heading row, percent and date cells."""

    def __init__(self, book: Workbook, title: str, lang: str) -> None:
        self.ws = book.create_sheet(title[:31])
        self.date_format = _DATE_FORMATS.get(lang, _DATE_FORMATS["en"])

    def heading(self, labels: Sequence[str]) -> None:
        row = []
        for label in labels:
            cell = WriteOnlyCell(self.ws, value=label)
            cell.font = Font(bold=True)
            row.append(cell)
        self.ws.append(row)

    def percent(self, value: float | None) -> object:
        if value is None:
            return None
        cell = WriteOnlyCell(self.ws, value=value)
        cell.number_format = "0.0%"
        return cell

    def moment(self, ts: int | None, tz: ZoneInfo) -> object:
        if ts is None:
            return None
        cell = WriteOnlyCell(self.ws, value=datetime.fromtimestamp(ts, UTC).astimezone(tz).replace(tzinfo=None))
        cell.number_format = self.date_format
        return cell


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


def _figure_cells(sheet: _Sheet, g: GroupFigures) -> list[object]:
    return [
        g.filed.total,
        g.open_now.total,
        g.overdue_now.total,
        sheet.percent(_pct(g.response)),
        g.response.hits,
        g.response.base,
        sheet.percent(_pct(g.resolution)),
        g.resolution.hits,
        g.resolution.base,
        sheet.percent(_pct(g.satisfaction)),
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


def _head_cells(sheet: _Sheet, g: GroupFigures) -> list[object]:
    return [
        g.filed.total,
        g.open_now.total,
        g.overdue_now.total,
        sheet.percent(_pct(g.response)),
        sheet.percent(_pct(g.resolution)),
        sheet.percent(_pct(g.satisfaction)),
        g.reopened,
        g.escalations,
        _hours(g.first_reply.median_hours),
        _hours(g.resolution_time.median_hours),
    ]


def _yes_no(t: Translator, value: bool | None) -> str:
    return "" if value is None else t("stats.yes") if value else t("stats.no")


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


def _timeline(t: Translator, events: list[tuple[int, str]], tz: ZoneInfo, names: dict[str, str]) -> str:
    return " → ".join(f"{short_moment(at, tz, t.lang)} {names[kind]}" for at, kind in events)


def _appeal_values(
    t: Translator,
    data: ReportData,
    row: ReportRow,
    tz: ZoneInfo,
    names: dict[str, str],
    moment: Callable[[int | None], object],
) -> list[object]:
    now = int(data.figures.computed_at.timestamp())
    # as the rates count them (docs/stats.md): late once the deadline passed without it; blank while pending
    replied: bool | None = None
    if row.first_reply_at is not None:
        replied = row.first_reply_at <= row.first_reply_due_at
    elif row.first_reply_due_at <= now:
        replied = False
    resolved: bool | None = None
    if row.resolved_on_time is not None:
        resolved = bool(row.resolved_on_time)
    elif row.resolve_due_at is not None and row.resolve_due_at <= now:
        resolved = False
    return [
        row.appeal_id,
        data.building_names.get(row.building_id, str(row.building_id)),
        "" if row.unit_id is None else data.unit_names.get(row.unit_id, str(row.unit_id)),
        t(f"category.{row.category}"),
        t(f"level.{Level(row.level).name.lower()}"),
        t(f"status.{row.status}"),
        moment(row.created_at),
        moment(row.first_reply_at),
        None if row.first_reply_s is None else round(row.first_reply_s / 3600, 1),
        _yes_no(t, replied),
        moment(row.resolved_at),
        None if row.resolve_s is None else round(row.resolve_s / 3600, 1),
        _yes_no(t, resolved),
        moment(row.closed_at),
        row.rating,
        row.reopens,
        row.escalations,
        _yes_no(t, bool(row.auto_closed)) if row.closed_at else "",
        _timeline(t, data.timelines.get(row.appeal_id, []), tz, names),
    ]


class _EventNames(dict[str, str]):
    """History kinds in the reader's language (the timeline's own ``event.*`` texts), looked up once."""

    def __init__(self, t: Translator) -> None:
        super().__init__()
        self.t = t

    def __missing__(self, kind: str) -> str:
        self[kind] = self.t(f"event.{kind}")
        return self[kind]


def event_names(t: Translator) -> dict[str, str]:
    return _EventNames(t)


def xlsx_bytes(data: ReportData, t: Translator) -> bytes:
    tz = ZoneInfo(data.timezone)
    book = Workbook(write_only=True)
    figures = data.figures
    total = figures.total
    summary = _Sheet(book, t("stats.sheet.summary"), t.lang)
    summary.heading([t("stats.report_title", title=data.title, month=figures.period.month or "")])
    summary.ws.append([t("stats.col.period"), figures.period.month or f"{figures.period.start} – {figures.period.end}"])
    for label, value in zip(_figure_headings(t), _figure_cells(summary, total), strict=True):
        summary.ws.append([label, value])
    for category, count in sorted(total.filed.by_category.items()):
        summary.ws.append([f"{t('stats.col.filed')}: {t(f'category.{category.value}')}", count])
    for level, count in sorted(total.filed.by_level.items()):
        summary.ws.append([f"{t('stats.col.filed')}: {t(f'level.{level.name.lower()}')}", count])
    summary.ws.append([])
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
        summary.ws.append(
            [
                point.month,
                point.filed,
                summary.percent(_pct(point.response)),
                summary.percent(_pct(point.resolution)),
                summary.percent(_pct(point.satisfaction)),
            ]
        )
    summary.ws.append([])
    summary.ws.append([t("stats.definitions_note")])

    buildings = _Sheet(book, t("stats.sheet.buildings"), t.lang)
    buildings.heading([t("stats.col.building"), *_figure_headings(t)])
    for b in data.buildings:
        buildings.ws.append([b.name, *_figure_cells(buildings, b.figures)])

    heads = _Sheet(book, t("stats.sheet.heads"), t.lang)
    heads.heading(
        [t("stats.col.head"), t("stats.col.role"), t("stats.col.places"), t("stats.col.points"), *_head_headings(t)]
    )
    for h in figures.heads:
        if h.figures.filed.total or h.figures.open_now.total or h.points:  # a quiet head is no row
            cells = _head_cells(heads, h.figures)
            heads.ws.append([h.name, t(f"level.{h.role.value}"), ", ".join(h.places), h.points, *cells])

    appeals = _Sheet(book, t("stats.sheet.appeals"), t.lang)
    appeals.heading(appeal_columns(t))
    names = event_names(t)
    for row in data.appeals:
        appeals.ws.append(_appeal_values(t, data, row, tz, names, lambda ts: appeals.moment(ts, tz)))
    care_sheet(book, data, t)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def csv_bytes(data: ReportData, t: Translator) -> bytes:
    """The month's appeals (one row each, with the timeline), UTF-8 with a byte-order mark so that
    spreadsheet programs read Chinese and Russian right."""
    tz = ZoneInfo(data.timezone)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(appeal_columns(t))
    names = event_names(t)

    def moment(ts: int | None) -> str:
        return "" if ts is None else short_moment(ts, tz, t.lang)

    for row in data.appeals:
        writer.writerow(["" if v is None else v for v in _appeal_values(t, data, row, tz, names, moment)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- the care list and wishes (issue 12): a sheet of their own -------------------------------------
def _care_rows(sheet: _Sheet, care: CareWishFigures) -> list[tuple[str, object]]:
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
        ("stats.care.col.on_time_rate", sheet.percent(_pct(c.on_time_rate))),
        ("stats.care.col.rounds", c.rounds),
        ("stats.care.col.rounds_completed", c.rounds_completed),
        ("stats.care.col.round_visited", c.round_visited),
        ("stats.care.col.round_households", c.round_households),
        ("stats.care.col.round_completion", sheet.percent(_pct(c.round_completion))),
        ("stats.wish.col.posted", w.posted),
        ("stats.wish.col.claimed", w.claimed),
        ("stats.wish.col.fulfilled", w.fulfilled),
        ("stats.wish.col.expired", w.expired),
        ("stats.wish.col.cancelled", w.cancelled),
        ("stats.wish.col.pending", w.pending),
        ("stats.wish.col.open_now", w.open_now),
        ("stats.wish.col.claimed_now", w.claimed_now),
        ("stats.wish.col.fulfilment", sheet.percent(_pct(w.fulfilment))),
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
    sheet = _Sheet(book, t("stats.sheet.care"), t.lang)
    sheet.heading([t("stats.care.report_title", title=data.title, month=care.period.month or "")])
    sheet.ws.append([t("stats.col.period"), care.period.month or f"{care.period.start} – {care.period.end}"])
    for key, value in _care_rows(sheet, care):
        sheet.ws.append([t(key), value])
    sheet.ws.append([])
    sheet.heading([t("stats.col.building"), *(t(k) for k in _CARE_BUILDING_KEYS)])
    for row in care.buildings:
        c, w = row.care, row.wishes
        cells: list[object] = [
            c.households,
            c.visits,
            c.due,
            c.on_time,
            c.missed,
            sheet.percent(_pct(c.on_time_rate)),
            c.rounds,
            c.rounds_completed,
            w.posted,
            w.fulfilled,
            sheet.percent(_pct(w.fulfilment)),
            w.open_now,
        ]
        sheet.ws.append([row.name, *cells])
    sheet.ws.append([])
    sheet.ws.append([t("stats.care.definitions_note")])
