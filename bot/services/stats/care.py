"""The care list's and micro-wishes' figures (issue 12) for a scope and period: counts only, never a
household's label or note, never a wish's words (docs/stats.md, "Care list and wishes").

Care: households on the list now; visits recorded in the period by outcome; the visits due in the
period (up to now) and how each ended by the care sweep's own rule (:func:`missed_at`: a visit not
recorded by due + 1 working day is missed); door-knocking rounds started in the period.
Wishes: those posted in the period and what became of them, the ones open now, the fulfilment
rate and the time to claim."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime

from bot.calendar import WorkCalendar
from bot.clock import from_ts, to_ts
from bot.services.base import Calendars
from bot.services.care.visits import missed_at
from bot.services.stats.figures import Durations, Period, Rate
from storage.care_stats import CareStatsRepo, DueRow, RoundRow, WishRow
from storage.db import Tx
from storage.registry import RegistryRepo
from storage.stats import ScopeFilter

#: The outcomes that end a due visit's chain without a visit (household removed, building gone).
_ENDED = ("removed", "skipped", "gone")


@dataclass(frozen=True)
class CareStats:
    households: int = 0  # on the care list now
    well: int = 0  # visits recorded in the period, by outcome
    help: int = 0
    away: int = 0
    due: int = 0  # visits due in the period, up to now
    on_time: int = 0  # of those: a visit recorded by due + 1 working day
    missed: int = 0  # none by due + 1 working day, which has passed
    pending: int = 0  # not visited yet, and due + 1 working day not reached
    rounds: int = 0  # door-knocking rounds started in the period
    rounds_completed: int = 0  # every household of the round visited
    round_visited: int = 0  # households visited in those rounds (at most the round's households)
    round_households: int = 0  # households the rounds asked for

    @property
    def visits(self) -> int:
        return self.well + self.help + self.away

    @property
    def on_time_rate(self) -> Rate:
        """On time / (on time + missed): a visit still pending is not counted yet."""
        return Rate(self.on_time, self.on_time + self.missed)

    @property
    def round_completion(self) -> Rate:
        return Rate(self.round_visited, self.round_households)

    @property
    def in_use(self) -> bool:
        return bool(self.households or self.visits or self.due or self.rounds)


@dataclass(frozen=True)
class WishStats:
    posted: int = 0  # posted in the period; of those, now:
    claimed: int = 0  # a volunteer took it (and kept it: claimed, fulfilled, or expired while claimed)
    fulfilled: int = 0
    expired: int = 0
    cancelled: int = 0  # withdrawn by the resident: outside the fulfilment rate
    pending: int = 0  # still open or claimed: outside the fulfilment rate until they end
    open_now: int = 0  # the whole scope now, whenever posted: waiting for a volunteer
    claimed_now: int = 0  # taken, not fulfilled yet
    time_to_claim: Durations = field(default_factory=Durations)  # clock hours, posting -> the claim that stands

    @property
    def fulfilment(self) -> Rate:
        """Fulfilled / (fulfilled + expired): of the period's wishes whose outcome is known, as districts
        say "98% fulfilled" and as the staff chat's /wishes counts it; one still open or claimed is
        not counted yet, one the resident withdrew is no outcome of the volunteers' work."""
        return Rate(self.fulfilled, self.fulfilled + self.expired)

    @property
    def in_use(self) -> bool:
        return bool(self.posted or self.open_now or self.claimed_now)


@dataclass(frozen=True)
class CareBuildingRow:
    building_id: int
    community_id: int
    name: str
    care: CareStats
    wishes: WishStats


@dataclass(frozen=True)
class CareWishFigures:
    period: Period
    computed_at: datetime
    care: CareStats
    wishes: WishStats
    buildings: tuple[CareBuildingRow, ...] = ()  # those with any care or wish figure, by name

    @property
    def in_use(self) -> bool:
        return self.care.in_use or self.wishes.in_use


class _Acc:
    """Mutable counters of one building (CareStats' and WishStats' integer fields by name)."""

    def __init__(self) -> None:
        self.care: dict[str, int] = defaultdict(int)
        self.wishes: dict[str, int] = defaultdict(int)
        self.claim_seconds: list[float] = []

    def care_stats(self) -> CareStats:
        return CareStats(**self.care)

    def wish_stats(self) -> WishStats:
        return WishStats(**self.wishes, time_to_claim=Durations.of_seconds(self.claim_seconds))


def due_outcome(rows: Sequence[DueRow], cal: WorkCalendar, now_ts: int) -> str | None:
    """How one due visit (the rows of its chain) ended: on_time, missed, pending, or None when it does
    not count (not due yet, or the household left the list before the visit was missed)."""
    due_for = rows[0].due_for
    if due_for > now_ts:
        return None
    deadline = to_ts(missed_at(cal, from_ts(due_for)))
    visited = [r.done_at for r in rows if r.done_at is not None and (r.outcome or "").startswith("visited:")]
    if visited:
        return "on_time" if min(visited) <= deadline else "missed"
    ended = [r.done_at for r in rows if r.done_at is not None and r.outcome in _ENDED]
    if ended and min(ended) < deadline:
        return None
    return "missed" if deadline <= now_ts else "pending"


def _dues(acc: dict[int, _Acc], rows: Iterable[DueRow], cal: WorkCalendar, now_ts: int) -> None:
    chains: dict[tuple[int, int], list[DueRow]] = defaultdict(list)
    for row in rows:
        chains[(row.household_id, row.due_for)].append(row)
    for chain in chains.values():
        outcome = due_outcome(chain, cal, now_ts)
        if outcome is not None:
            counts = acc[chain[0].building_id].care
            counts["due"] += 1
            counts[outcome] += 1


def _rounds(acc: dict[int, _Acc], rows: Iterable[RoundRow]) -> None:
    for row in rows:
        counts = acc[row.building_id].care
        counts["rounds"] += 1
        counts["rounds_completed"] += int(row.visited >= row.households)
        counts["round_visited"] += min(row.visited, row.households)
        counts["round_households"] += row.households


def _wishes(acc: dict[int, _Acc], rows: Iterable[WishRow]) -> None:
    for row in rows:
        b = acc[row.building_id]
        b.wishes["posted"] += 1
        if row.state in ("fulfilled", "expired", "cancelled"):
            b.wishes[row.state] += 1
        else:
            b.wishes["pending"] += 1
        if row.claimed_at is not None:
            b.wishes["claimed"] += 1
            b.claim_seconds.append(float(row.claimed_at - row.posted_at))


def _sum_care(items: Iterable[CareStats]) -> CareStats:
    names = [f.name for f in fields(CareStats)]
    totals = dict.fromkeys(names, 0)
    for item in items:
        for name in names:
            totals[name] += getattr(item, name)
    return CareStats(**totals)


async def care_wish_figures(
    tx: Tx, calendars: Calendars, filters: Sequence[ScopeFilter], period: Period, now: datetime
) -> CareWishFigures:
    registry = RegistryRepo(tx)
    repo = CareStatsRepo(tx)
    now_ts = to_ts(now)
    rows: list[CareBuildingRow] = []
    claim_seconds: list[float] = []
    for where in filters:
        community = await registry.get_community(where.community_id)
        if community is None:
            continue
        start, end = period.bounds(community.timezone)
        cal = await calendars.for_community(tx, community)
        acc: dict[int, _Acc] = defaultdict(_Acc)
        for building_id, count in (await repo.households_now(where)).items():
            acc[building_id].care["households"] = count
        for (building_id, outcome), count in (await repo.visits(where, start, end)).items():
            if outcome in ("well", "help", "away"):
                acc[building_id].care[outcome] += count
        _dues(acc, await repo.dues(where, start, end), cal, now_ts)
        _rounds(acc, await repo.rounds(where, start, end))
        _wishes(acc, await repo.wishes_posted(where, start, end))
        for (building_id, state), count in (await repo.wishes_now(where)).items():
            acc[building_id].wishes["open_now" if state == "open" else "claimed_now"] += count
        names = {b.id: b.title for b in await registry.buildings_of(community.id)}
        for building_id, counters in acc.items():
            claim_seconds.extend(counters.claim_seconds)
            name = names.get(building_id, str(building_id))
            rows.append(CareBuildingRow(building_id, community.id, name, counters.care_stats(), counters.wish_stats()))
    rows.sort(key=lambda r: (r.name.casefold(), r.building_id))
    total_wishes: dict[str, int] = defaultdict(int)
    for row in rows:
        for f in fields(WishStats):
            if f.name != "time_to_claim":
                total_wishes[f.name] += getattr(row.wishes, f.name)
    wishes = WishStats(**total_wishes, time_to_claim=Durations.of_seconds(claim_seconds))
    return CareWishFigures(period, now, _sum_care(r.care for r in rows), wishes, tuple(rows))
