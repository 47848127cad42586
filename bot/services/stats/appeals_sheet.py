"""The monthly report's appeals sheet (one row per appeal of the month, with its timeline) and
what the sheet and the CSV say of an appeal: moments on the community's wall clock, texts in the
reader's language.

:func:`write_appeals_sheet` writes the sheet's cells itself: it is most of a district's report
(16,000 rows of 19 cells), and :meth:`Sheet.append` spends its time finding out, cell by cell,
what each value is, which is known here column by column (~30% of the sheet's time). It writes
exactly what ``Sheet.append`` writes of :meth:`AppealRows.values` (a hypothesis test in
tests/test_stats_report.py compares the two)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.i18n import Translator
from bot.models import Level
from bot.services.stats.xlsx import EXACT_INT, Sheet, Style, text_element
from storage.stats import ReportRow

if TYPE_CHECKING:
    from bot.services.stats.report import ReportData


_EPOCH_DAYS = 25569  # 1970-01-01 as a spreadsheet day (1899-12-30 is day 0)
_ORDINAL_1970 = date(1970, 1, 1).toordinal()
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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


class AppealRows:
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


#: Where the appeals sheet has its moments (filed, first reply, resolved, closed): date cells.
_D = Style.DATE
APPEAL_STYLES = (None, None, None, None, None, None, _D, _D, None, None, _D, None, None, _D)
#: Column widths (characters) of the big sheets: names and the timeline wide enough to read.
APPEAL_WIDTHS = (8, 18, 10, 12, 12, 12, 17, 17, 9, 9, 17, 9, 9, 17, 7, 7, 7, 7, 90)


def write_appeals_sheet(appeals: Sheet, data: ReportData, t: Translator) -> None:
    """The appeals sheet: its heading, then a row per appeal of ``data``: what ``Sheet.append``
    writes of :meth:`AppealRows.values` (with :data:`APPEAL_STYLES`), column by column without
    asking each value its type."""
    appeals.heading(appeal_columns(t))
    rows = AppealRows(t, data)
    serial, timeline, now = rows.clock.serial, rows.timeline, rows.now
    body = appeals.text_body  # a text's cell after its reference, each text escaped once; '' for none
    yes, no = body(rows.yes), body(rows.no)
    date = int(Style.DATE)

    def text(column: str, n: int, value: str) -> str:
        cell = body(value)
        return f'<c r="{column}{n}"{cell}</c>' if cell else ""

    def number(column: str, n: int, value: object) -> str:
        if value is None:
            return ""
        if type(value) is int and -EXACT_INT <= value <= EXACT_INT:
            return f'<c r="{column}{n}"><v>{value}</v></c>'
        cell = appeals.number_body(value)  # a bool, an int past 2^53: as Sheet.append writes them
        return f'<c r="{column}{n}"{cell}</c>' if cell else ""

    def moment(column: str, n: int, ts: int | None) -> str:
        return "" if ts is None else f'<c r="{column}{n}" s="{date}"><v>{serial(ts)!r}</v></c>'

    def hours(column: str, n: int, seconds: int | None) -> str:
        return "" if seconds is None else f'<c r="{column}{n}"><v>{round(seconds / 3600, 1)!r}</v></c>'

    n = appeals.next_row - 1
    for row in data.appeals:
        n += 1
        # replied / resolved on time as AppealRows.values says them
        replied = ""
        if row.first_reply_at is not None:
            replied = yes if row.first_reply_at <= row.first_reply_due_at else no
        elif row.first_reply_due_at <= now:
            replied = no
        resolved = ""
        if row.resolved_on_time is not None:
            resolved = yes if row.resolved_on_time else no
        elif row.resolve_due_at is not None and row.resolve_due_at <= now:
            resolved = no
        auto = (yes if row.auto_closed else no) if row.closed_at else ""
        unit = "" if row.unit_id is None else text("C", n, data.unit_names.get(row.unit_id, str(row.unit_id)))
        timeline_text = text_element(timeline(row.appeal_id))
        appeals.append_cells(
            "".join(
                (
                    number("A", n, row.appeal_id),
                    text("B", n, data.building_names.get(row.building_id, str(row.building_id))),
                    unit,
                    text("D", n, rows.categories[row.category]),
                    text("E", n, rows.levels.get(row.level) or str(row.level)),
                    text("F", n, rows.statuses[row.status]),
                    moment("G", n, row.created_at),
                    moment("H", n, row.first_reply_at),
                    hours("I", n, row.first_reply_s),
                    f'<c r="J{n}"{replied}</c>' if replied else "",
                    moment("K", n, row.resolved_at),
                    hours("L", n, row.resolve_s),
                    f'<c r="M{n}"{resolved}</c>' if resolved else "",
                    moment("N", n, row.closed_at),
                    number("O", n, row.rating),
                    number("P", n, row.reopens),
                    number("Q", n, row.escalations),
                    f'<c r="R{n}"{auto}</c>' if auto else "",
                    "" if timeline_text is None else f'<c r="S{n}" t="inlineStr"><is>{timeline_text}</is></c>',
                )
            )
        )
