"""Statistics storage: the per-appeal summary rows (``appeal_stats``), its watermark over the
history, and the reads the figures are made of. See docs/stats.md for what every column means."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from bot.clock import from_ts, to_ts
from bot.models import OPEN_STATUSES, UserInfo
from storage.db import Row, Tx

WATERMARK = "appeal_stats"
_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
_COLUMNS = (
    "appeal_id, community_id, building_id, unit_id, category, level, month, created_at, first_reply_at,"
    " first_reply_due_at, first_reply_s, resolved_at, resolve_s, resolved_on_time, resolve_due_at, closed,"
    " auto_closed, rating, reopens, escalations, refreshed_at"
)


@dataclass(frozen=True)
class AppealFacts:
    """What the statistics keep of one appeal (bot.services.stats.rules derives it)."""

    appeal_id: int
    community_id: int
    building_id: int
    unit_id: int | None
    category: str
    level: int
    month: str  # 'YYYY-MM' of filing, in the community's time zone
    created_at: datetime
    first_reply_at: datetime | None
    first_reply_due_at: datetime
    first_reply_seconds: int | None  # working seconds from filing to the first reply
    resolved_at: datetime | None  # the resolution that stands (None: open, or reopened since)
    resolve_seconds: int | None  # clock (working, pauses excluded) seconds to that resolution
    resolved_on_time: bool | None
    resolve_due_at: datetime | None  # open and not waiting: when the allowance runs out
    closed: bool
    auto_closed: bool
    rating: int | None
    reopens: int
    escalations: int


class CohortRow(NamedTuple):
    """One appeal of a period, as the figures need it."""

    community_id: int
    building_id: int
    unit_id: int | None
    category: str
    level: int
    first_reply_at: int | None
    first_reply_due_at: int
    first_reply_s: int | None
    resolved_at: int | None
    resolve_s: int | None
    resolved_on_time: int | None
    resolve_due_at: int | None
    closed: int
    auto_closed: int
    rating: int | None
    reopens: int
    escalations: int


class OpenRow(NamedTuple):
    """An appeal open now (new, in progress or waiting)."""

    community_id: int
    building_id: int
    unit_id: int | None
    category: str
    level: int
    overdue: bool


class SumRow(NamedTuple):
    """The counts behind a group's figures, for one building, category and level of a period's
    appeals (the same counts :class:`bot.services.stats.tally.Tally` makes of their rows)."""

    community_id: int
    building_id: int
    category: str
    level: int
    filed: int
    response_hits: int
    response_base: int
    resolution_hits: int
    resolution_base: int
    satisfied: int
    rated: int
    unrated: int
    auto_closed: int
    reopened: int
    reopen_events: int
    escalated: int
    escalations: int


class DurationRow(NamedTuple):
    """An appeal's measured working seconds: to its first reply, to the resolution that stands."""

    building_id: int
    first_reply_s: int | None
    resolve_s: int | None


@dataclass(frozen=True)
class MonthRow:
    month: str
    filed: int
    response_hits: int
    response_base: int
    resolution_hits: int
    resolution_base: int
    satisfaction_hits: int
    satisfaction_base: int


@dataclass(frozen=True)
class ScopeFilter:
    """WHERE terms for one community: optionally some buildings or units."""

    community_id: int
    building_ids: tuple[int, ...] = ()
    unit_ids: tuple[int, ...] = ()

    def sql(self, alias: str = "") -> tuple[str, list[int]]:
        prefix = f"{alias}." if alias else ""
        terms = [f"{prefix}community_id = ?"]
        values: list[int] = [self.community_id]
        if self.building_ids:
            terms.append(f"{prefix}building_id IN ({', '.join('?' for _ in self.building_ids)})")
            values.extend(self.building_ids)
        if self.unit_ids:
            terms.append(f"{prefix}unit_id IN ({', '.join('?' for _ in self.unit_ids)})")
            values.extend(self.unit_ids)
        return " AND ".join(terms), values


def _case(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


class StatsRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    # --- the summary and its watermark ---------------------------------------------------------
    async def watermark(self) -> int:
        value = await self.tx.fetchval("SELECT event_id FROM stats_watermark WHERE name = ?", (WATERMARK,))
        return int(value or 0)

    async def set_watermark(self, event_id: int, now: datetime) -> None:
        await self.tx.execute(
            "INSERT INTO stats_watermark (name, event_id, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET event_id = excluded.event_id, updated_at = excluded.updated_at",
            (WATERMARK, event_id, to_ts(now)),
        )

    async def events_after(self, event_id: int, limit: int) -> list[Row]:
        """The next ``limit`` history rows after ``event_id`` (primary key range: cost ~ ``limit``)."""
        return await self.tx.fetchall(
            "SELECT id, appeal_id FROM appeal_events WHERE id > ? ORDER BY id LIMIT ?", (event_id, limit)
        )

    async def latest_first_reply_due(self, appeal_ids: Sequence[int]) -> dict[int, datetime]:
        if not appeal_ids:
            return {}
        marks = ", ".join("?" for _ in appeal_ids)
        rows = await self.tx.fetchall(
            f"SELECT appeal_id, MAX(due_at) AS due FROM deadlines WHERE appeal_id IN ({marks})"  # noqa: S608
            " AND kind = 'first_reply' GROUP BY appeal_id",
            tuple(appeal_ids),
        )
        return {int(r["appeal_id"]): from_ts(int(r["due"])) for r in rows}

    async def save(self, facts: Sequence[AppealFacts], now: datetime) -> None:
        updates = ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in _COLUMNS.split(",")[1:])
        await self.tx.executemany(
            f"INSERT INTO appeal_stats ({_COLUMNS}) VALUES ({', '.join('?' for _ in _COLUMNS.split(','))})"  # noqa: S608
            f" ON CONFLICT (appeal_id) DO UPDATE SET {updates}",
            [_facts_row(f, now) for f in facts],
        )

    # --- reads ---------------------------------------------------------------------------------
    async def cohort(self, where: ScopeFilter, start: datetime, end: datetime) -> list[CohortRow]:
        """The summary rows of the appeals filed in ``[start, end)`` (index appeal_stats_community_created)."""
        terms, values = where.sql()
        rows = await self.tx.fetchall(
            "SELECT community_id, building_id, unit_id, category, level, first_reply_at, first_reply_due_at,"  # noqa: S608
            " first_reply_s, resolved_at, resolve_s, resolved_on_time, resolve_due_at, closed, auto_closed,"
            f" rating, reopens, escalations FROM appeal_stats WHERE {terms} AND created_at >= ? AND created_at < ?",
            (*values, to_ts(start), to_ts(end)),
        )
        return [CohortRow._make(r) for r in rows]

    async def cohort_sums(self, where: ScopeFilter, start: datetime, end: datetime, now: datetime) -> list[SumRow]:
        """The counts of the appeals filed in ``[start, end)`` per building, category and level (one
        index range of appeal_stats_community_created, added up by the database: the overview reads
        some hundred rows instead of one per appeal)."""
        terms, values = where.sql()
        now_ts = to_ts(now)
        rows = await self.tx.fetchall(
            "SELECT community_id, building_id, category, level, COUNT(*),"  # noqa: S608
            f" {_case('first_reply_at IS NOT NULL AND first_reply_at <= first_reply_due_at')},"
            f" {_case('first_reply_at IS NOT NULL OR first_reply_due_at <= ?')},"
            f" {_case('resolved_at IS NOT NULL AND resolved_on_time = 1')},"
            f" {_case('resolved_at IS NOT NULL OR resolve_due_at <= ?')},"
            f" {_case('closed <> 0 AND rating >= 4')},"
            f" {_case('closed <> 0 AND rating IS NOT NULL')},"
            f" {_case('closed <> 0 AND rating IS NULL')},"
            f" {_case('auto_closed <> 0')},"
            f" {_case('reopens > 0')}, SUM(reopens),"
            f" {_case('escalations > 0')}, SUM(escalations)"
            f" FROM appeal_stats WHERE {terms} AND created_at >= ? AND created_at < ?"
            " GROUP BY community_id, building_id, category, level",
            (now_ts, now_ts, *values, to_ts(start), to_ts(end)),
        )
        return [SumRow(int(r[0]), int(r[1]), str(r[2]), int(r[3]), *(int(v or 0) for v in tuple(r)[4:])) for r in rows]

    async def cohort_durations(self, where: ScopeFilter, start: datetime, end: datetime) -> list[DurationRow]:
        """The measured times of the appeals filed in ``[start, end)`` (as the figures count them: a
        first reply's time once replied, a resolution's while it stands); appeals with neither are
        left out."""
        terms, values = where.sql()
        rows = await self.tx.fetchall(
            "SELECT building_id, CASE WHEN first_reply_at IS NOT NULL THEN first_reply_s END,"  # noqa: S608
            " CASE WHEN resolved_at IS NOT NULL THEN resolve_s END"
            f" FROM appeal_stats WHERE {terms} AND created_at >= ? AND created_at < ?"
            " AND ((first_reply_at IS NOT NULL AND first_reply_s IS NOT NULL)"
            " OR (resolved_at IS NOT NULL AND resolve_s IS NOT NULL))",
            (*values, to_ts(start), to_ts(end)),
        )
        return [DurationRow._make(r) for r in rows]

    async def open_now(self, where: ScopeFilter, now: datetime) -> list[OpenRow]:
        """Appeals open now, overdue when their level's deadline passed (as /status counts them);
        index appeals_community_status: the cost grows with what is open, not with the history."""
        terms, values = where.sql()
        rows = await self.tx.fetchall(
            "SELECT community_id, building_id, unit_id, category, level,"  # noqa: S608
            " CASE WHEN status <> 'waiting' AND due_at < ? THEN 1 ELSE 0 END AS overdue"
            f" FROM appeals WHERE {terms} AND status IN ({_OPEN})",
            (to_ts(now), *values),
        )
        return [OpenRow(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    async def months(self, where: ScopeFilter, months: Sequence[str], now: datetime) -> list[MonthRow]:
        """Per filing month: the counts behind the three rates (one index range per month)."""
        if not months:
            return []
        terms, values = where.sql()
        now_ts = to_ts(now)
        marks = ", ".join("?" for _ in months)
        rows = await self.tx.fetchall(
            f"SELECT month, COUNT(*),"  # noqa: S608
            f" {_case('first_reply_at IS NOT NULL AND first_reply_at <= first_reply_due_at')},"
            f" {_case('first_reply_at IS NOT NULL OR first_reply_due_at <= ?')},"
            f" {_case('resolved_on_time = 1')},"
            f" {_case('resolved_at IS NOT NULL OR resolve_due_at <= ?')},"
            f" {_case('closed = 1 AND rating >= 4')},"
            f" {_case('closed = 1 AND rating IS NOT NULL')}"
            f" FROM appeal_stats WHERE {terms} AND month IN ({marks}) GROUP BY month",
            (now_ts, now_ts, *values, *months),
        )
        return [MonthRow(r[0], *(int(v or 0) for v in tuple(r)[1:])) for r in rows]

    async def people(self, user_ids: Sequence[int]) -> dict[int, UserInfo]:
        """Many people at once (the heads of a report), in chunks the database accepts."""
        out: dict[int, UserInfo] = {}
        ids = list(user_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = await self.tx.fetchall(
                f"SELECT id, first_name, last_name, username FROM users WHERE id IN ({marks})",  # noqa: S608
                tuple(chunk),
            )
            for r in rows:
                out[int(r[0])] = UserInfo(int(r[0]), r[1] or "", r[2], r[3])
        return out

    async def points(self, community_id: int, months: Sequence[str], user_ids: Sequence[int]) -> dict[int, int]:
        """Points earned (ranked ledger entries) in those months, per person."""
        if not months or not user_ids:
            return {}
        m_marks = ", ".join("?" for _ in months)
        rows = await self.tx.fetchall(
            f"SELECT user_id, SUM(points) FROM monthly_points WHERE community_id = ? AND month IN ({m_marks})"  # noqa: S608
            " GROUP BY user_id",
            (community_id, *months),
        )  # one index range of the community's months (a row per person with points), filtered here
        wanted = set(user_ids)
        return {int(r[0]): int(r[1] or 0) for r in rows if int(r[0]) in wanted}


def _facts_row(f: AppealFacts, now: datetime) -> tuple[object, ...]:
    return (
        f.appeal_id,
        f.community_id,
        f.building_id,
        f.unit_id,
        f.category,
        f.level,
        f.month,
        to_ts(f.created_at),
        None if f.first_reply_at is None else to_ts(f.first_reply_at),
        to_ts(f.first_reply_due_at),
        f.first_reply_seconds,
        None if f.resolved_at is None else to_ts(f.resolved_at),
        f.resolve_seconds,
        None if f.resolved_on_time is None else int(f.resolved_on_time),
        None if f.resolve_due_at is None else to_ts(f.resolve_due_at),
        int(f.closed),
        int(f.auto_closed),
        f.rating,
        f.reopens,
        f.escalations,
        to_ts(now),
    )


class ReportRow(NamedTuple):
    """One appeal of the month for the report's appeals sheet."""

    appeal_id: int
    building_id: int
    unit_id: int | None
    category: str
    level: int
    status: str
    created_at: int
    first_reply_at: int | None
    first_reply_due_at: int
    first_reply_s: int | None
    resolved_at: int | None
    resolve_s: int | None
    resolved_on_time: int | None
    resolve_due_at: int | None
    closed_at: int | None
    rating: int | None
    reopens: int
    escalations: int
    auto_closed: int


class ReportRepo:
    """The reads of the monthly report's appeals sheet."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def report_rows(self, where: ScopeFilter, start: datetime, end: datetime) -> list[ReportRow]:
        """The appeals filed in ``[start, end)`` with their summary, in filing order."""
        terms, values = where.sql("s")
        rows = await self.tx.fetchall(
            "SELECT s.appeal_id, s.building_id, s.unit_id, s.category, s.level, a.status, s.created_at,"  # noqa: S608
            " s.first_reply_at, s.first_reply_due_at, s.first_reply_s, s.resolved_at, s.resolve_s,"
            " s.resolved_on_time, s.resolve_due_at, a.closed_at, s.rating, s.reopens, s.escalations, s.auto_closed"
            f" FROM appeal_stats s JOIN appeals a ON a.id = s.appeal_id WHERE {terms}"
            " AND s.created_at >= ? AND s.created_at < ? ORDER BY s.created_at, s.appeal_id",
            (*values, to_ts(start), to_ts(end)),
        )
        return [ReportRow._make(r) for r in rows]

    async def timelines(self, where: ScopeFilter, start: datetime, end: datetime) -> dict[int, list[tuple[int, str]]]:
        """(moment, kind) of every history row of the appeals filed in ``[start, end)``, per appeal in
        order (index appeal_events_appeal, one range per appeal)."""
        terms, values = where.sql("s")
        rows = await self.tx.fetchall(
            "SELECT e.appeal_id, e.at, e.kind FROM appeal_stats s JOIN appeal_events e ON e.appeal_id = s.appeal_id"  # noqa: S608
            f" WHERE {terms} AND s.created_at >= ? AND s.created_at < ? ORDER BY e.appeal_id, e.id",
            (*values, to_ts(start), to_ts(end)),
        )
        out: dict[int, list[tuple[int, str]]] = {}
        current: list[tuple[int, str]] = []
        last: object = None
        for appeal_id, at, kind in rows:  # ordered by appeal: a new list when the appeal changes
            if appeal_id != last:
                last = appeal_id
                current = out[int(appeal_id)] = []
            current.append((at, kind))
        return out

    async def names(self, community_id: int) -> tuple[dict[int, str], dict[int, str]]:
        """The community's building titles and unit names by id (two reads, whatever the size)."""
        buildings = await self.tx.fetchall("SELECT id, title FROM buildings WHERE community_id = ?", (community_id,))
        units = await self.tx.fetchall(
            "SELECT u.id, u.name FROM units u JOIN buildings b ON b.id = u.building_id WHERE b.community_id = ?",
            (community_id,),
        )
        return {int(r[0]): str(r[1]) for r in buildings}, {int(r[0]): str(r[1]) for r in units}


@dataclass(frozen=True)
class ScheduledReport:
    community_id: int
    month: str
    due_at: int


class ReportScheduleRepo:
    """The monthly report's due rows (``stats_reports``)."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def active_communities(self) -> list[tuple[int, int]]:
        """(id, created_at) of every active community."""
        rows = await self.tx.fetchall("SELECT id, created_at FROM communities WHERE active = 1 ORDER BY id")
        return [(int(r[0]), int(r[1])) for r in rows]

    async def scheduled(self, months: Sequence[str]) -> set[tuple[int, str]]:
        """(community, month) pairs that have their row already, for the few months asked."""
        if not months:
            return set()
        marks = ", ".join("?" for _ in months)
        rows = await self.tx.fetchall(
            f"SELECT community_id, month FROM stats_reports WHERE month IN ({marks})",  # noqa: S608
            tuple(months),
        )
        return {(int(r[0]), str(r[1])) for r in rows}

    async def schedule(self, community_id: int, month: str, due: datetime, *, done: datetime | None = None) -> bool:
        count = await self.tx.execute(
            "INSERT INTO stats_reports (community_id, month, due_at, done_at, outcome) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (community_id, month) DO NOTHING",
            (community_id, month, to_ts(due), None if done is None else to_ts(done), None if done is None else "off"),
        )
        return count == 1

    async def due(self, now: datetime, limit: int) -> list[ScheduledReport]:
        rows = await self.tx.fetchall(
            "SELECT community_id, month, due_at FROM stats_reports WHERE done_at IS NULL AND due_at <= ?"
            " ORDER BY due_at LIMIT ?",
            (to_ts(now), limit),
        )
        return [ScheduledReport(int(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def finish(self, community_id: int, month: str, now: datetime, outcome: str) -> bool:
        """True for the one caller that marks it done."""
        count = await self.tx.execute(
            "UPDATE stats_reports SET done_at = ?, outcome = ?"
            " WHERE community_id = ? AND month = ? AND done_at IS NULL",
            (to_ts(now), outcome, community_id, month),
        )
        return count == 1
