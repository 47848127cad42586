"""The dashboard's plain types (what each page shows) and the pure rules behind them: the list's
filters from a query string, which indexes the list reads, when the clock stood still."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.errors import InvalidInput
from bot.models import Appeal, AppealEvent, Category, Level, Status, UserInfo
from bot.services.dashboard.scope import Scope
from storage.dashboard import AppealFilter, DeadlineRow

PAGE = 50  # appeals per page of the list
PAUSE_ENDS = frozenset({"answer", "resolved", "escalated", "reassigned", "auto_closed", "confirmed", "taken"})


@dataclass(frozen=True)
class Holder:
    """Where staff may move an appeal: a level, and the head at it (None: the staff / street chat).
    ``target`` is what the reassignment service takes (bot.services.district.reassign)."""

    level: Level
    user_id: int | None
    name: str
    unit: str
    target: str


@dataclass(frozen=True)
class Viewer:
    user: UserInfo
    scope: Scope
    lang: str


@dataclass(frozen=True)
class AppealRow:
    appeal: Appeal
    building: str
    unit: str
    overdue: bool
    timezone: str


@dataclass(frozen=True)
class AppealPage:
    rows: list[AppealRow]
    filters: AppealFilter
    next_before: int | None  # the "older" link: the last id shown, when the page was full


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None  # None: still waiting for the resident


@dataclass(frozen=True)
class Timeline:
    row: AppealRow
    events: list[AppealEvent]
    deadlines: list[DeadlineRow]
    pauses: list[Pause]
    names: dict[int, str]
    holder: str
    may_act: bool  # reply and escalate (the same check as the appeal's buttons)
    may_escalate: bool
    holders: list[Holder] = field(default_factory=list)  # where staff may move it ([]: they may not)


@dataclass(frozen=True)
class BuildingLine:
    building_id: int
    title: str
    community: str
    open: int
    overdue: int


@dataclass(frozen=True)
class HeadLine:
    user_id: int
    name: str
    building: str  # the building they head, or of the unit they head
    unit: str  # the unit they head ("" for a building head)
    level: Level
    open: int
    overdue: int


@dataclass(frozen=True)
class TurnoutLine:
    community: str
    period: str
    state: str
    building: str
    voters: int
    eligible: int


def parse_filter(query: dict[str, str]) -> AppealFilter:
    """The list's query string -> filters; anything unknown or out of bounds is refused politely."""

    def pick(name: str) -> str | None:
        value = query.get(name, "").strip()
        return value or None

    status = pick("status")
    if status is not None and status != "open" and status not in {s.value for s in Status}:
        raise InvalidInput("dash.error.bad_filter")
    category = pick("category")
    if category is not None and category not in {c.value for c in Category}:
        raise InvalidInput("dash.error.bad_filter")
    level_name = pick("level")
    levels = {lv.name.lower(): lv for lv in Level}
    if level_name is not None and level_name not in levels:
        raise InvalidInput("dash.error.bad_filter")
    return AppealFilter(
        status=status,
        category=category,
        level=levels[level_name] if level_name else None,
        building_id=bounded_id(pick("building")),
        overdue=pick("overdue") in ("1", "true", "on"),
        before_id=bounded_id(pick("before")),
    )


def bounded_id(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 18 or int(value) <= 0:
        raise InvalidInput("dash.error.bad_filter")
    return int(value)


def list_sources(scope: Scope) -> tuple[list[int], list[int], list[int]]:
    """The communities, buildings and units whose appeals the list reads, each appeal through one
    index range: a building or unit inside a community seen whole is not asked for again."""
    communities = sorted(scope.staff_of)
    inside = {b.id for b in scope.buildings if b.community_id in scope.staff_of}
    buildings = sorted(scope.whole_buildings - inside)
    units = sorted(u.id for u in scope.unit_rows if u.building_id not in inside and u.building_id not in buildings)
    return communities, buildings, units


def pauses_of(events: list[AppealEvent], appeal: Appeal) -> list[Pause]:
    """When the clock stood still: from each question to the resident until the next step that
    ends the wait (their answer, a resolution, a move); still running while the appeal waits."""
    pauses: list[Pause] = []
    start: datetime | None = None
    for event in events:
        if event.kind == "asked":
            if start is None:
                start = event.at
        elif start is not None and event.kind in PAUSE_ENDS:
            pauses.append(Pause(start, event.at))
            start = None
    if start is not None:
        pauses.append(Pause(start, None if appeal.status == Status.WAITING else start))
    return pauses
