"""The statistics service: figures for any scope and period, per building, per head, by month.

Reads the per-appeal summary (``appeal_stats``), which :meth:`StatsService.refresh` brings up to date
from the append-only history before every read (cost ~ the history written since the last read).
Open and overdue-now counts come from the live appeals (partial indexes on what is open)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import Clock, to_ts
from bot.errors import NotConfigured
from bot.models import Building, Community, Unit
from bot.services.base import Calendars, ServiceBase
from bot.services.stats.access import Viewer, month_of, viewer_of
from bot.services.stats.care import CareWishFigures, care_wish_figures
from bot.services.stats.figures import (
    BuildingRow,
    Figures,
    GroupFigures,
    HeadRole,
    HeadRow,
    Period,
    Rate,
    Scope,
    TrendPoint,
)
from bot.services.stats.report import ReportData, gc_paused
from bot.services.stats.rules import appeal_facts
from bot.services.stats.tally import Sums, Tally
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.db import Database, Tx
from storage.registry import RegistryRepo
from storage.stats import (
    AppealFacts,
    CohortRow,
    DurationRow,
    OpenRow,
    ReportRepo,
    ScopeFilter,
    StatsRepo,
    SumRow,
)

REFRESH_BATCH = 1000  # history rows per refresh transaction: each holds the write lock ~0.1 s at most
TREND_MONTHS = 6  # months on the chart's rates panel


@dataclass(frozen=True)
class StatsView:
    """What /stats shows: the figures, a row per building and the rates of the last months."""

    viewer: Viewer
    figures: Figures
    buildings: list[BuildingRow]
    trend: list[TrendPoint]
    care: CareWishFigures | None = None  # the care list and wishes (shown when the scope uses them)


@dataclass(frozen=True)
class _Place:
    community: Community
    buildings: list[Building]
    units: list[Unit]


@dataclass(frozen=True)
class _Loaded:
    places: list[_Place]
    cohort: list[CohortRow]
    open_rows: list[OpenRow]
    now: datetime
    sums: list[SumRow] = field(default_factory=list)  # instead of the cohort's rows: the overview
    durations: list[DurationRow] = field(default_factory=list)


class StatsService(ServiceBase):
    def __init__(self, db: Database, clock: Clock, calendars: Calendars) -> None:
        super().__init__(db, clock, calendars)

    # --- who asks, for what -------------------------------------------------------------------------
    async def viewer(self, actor_id: int, chat_id: int, *, private: bool) -> Viewer:
        """The scope ``actor_id`` may see from ``chat_id`` (refuses with a DomainError otherwise)."""
        async with self.db.read() as tx:
            return await viewer_of(tx, actor_id, chat_id, private=private)

    def month(self, viewer: Viewer, text: str | None) -> Period:
        return month_of(text, viewer.community, self.clock.now())

    async def view(self, viewer: Viewer, period: Period, *, heads: bool = False) -> StatsView:
        figures, buildings = await self.overview(viewer.scope, period, heads=heads)
        if not buildings:
            raise NotConfigured("stats.error_no_buildings")
        trend = await self.trend(viewer.scope, TREND_MONTHS, period)
        care = await self.care_wishes(viewer.scope, period)
        return StatsView(viewer, figures, buildings, trend, care)

    async def report(self, viewer: Viewer, period: Period) -> ReportData:
        """Everything the monthly report's files hold."""
        with gc_paused():
            return await self._report(viewer, period)

    async def _report(self, viewer: Viewer, period: Period) -> ReportData:
        view = await self.view(viewer, period, heads=True)
        rows = []
        timelines: dict[int, list[tuple[int, str]]] = {}
        building_names: dict[int, str] = {}
        unit_names: dict[int, str] = {}
        async with self.db.read() as tx:
            registry = RegistryRepo(tx)
            repo = ReportRepo(tx)
            for where in await self._filters(tx, viewer.scope):
                community = await registry.get_community(where.community_id)
                if community is None:
                    continue
                start, end = period.bounds(community.timezone)
                rows.extend(await repo.report_rows(where, start, end))
                timelines.update(await repo.timelines(where, start, end))
                buildings, units = await repo.names(community.id)
                building_names.update(buildings)
                unit_names.update(units)
        return ReportData(
            title=viewer.title,
            timezone=viewer.community.timezone,
            figures=view.figures,
            buildings=view.buildings,
            trend=view.trend,
            appeals=rows,
            timelines=timelines,
            building_names=building_names,
            unit_names=unit_names,
            care=view.care,
        )

    # --- the summary ----------------------------------------------------------------------------
    async def refresh(self, batch: int = REFRESH_BATCH, *, max_batches: int | None = None) -> int:
        """Recompute the summary row of every appeal whose history grew since the watermark; returns
        how many appeals were recomputed. Idempotent, and safe with several processes: each batch
        moves the watermark in the transaction that writes its rows. ``max_batches`` bounds the work
        (the sweep's share; a read always catches up fully)."""
        done = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            batches += 1
            now = self.clock.now()
            async with self.db.write() as tx:
                repo = StatsRepo(tx)
                mark = await repo.watermark()
                rows = await repo.events_after(mark, batch)
                if not rows:
                    return done
                ids = list(dict.fromkeys(int(r["appeal_id"]) for r in rows))
                await repo.save(await self._facts(tx, ids), now)
                await repo.set_watermark(int(rows[-1]["id"]), now)
                done += len(ids)
            if len(rows) < batch:
                return done
        return done

    async def _facts(self, tx: Tx, appeal_ids: Sequence[int]) -> list[AppealFacts]:
        appeals = AppealsRepo(tx)
        registry = RegistryRepo(tx)
        first_due = await StatsRepo(tx).latest_first_reply_due(appeal_ids)
        communities: dict[int, Community] = {}
        out: list[AppealFacts] = []
        for appeal_id in appeal_ids:
            appeal = await appeals.get(appeal_id)
            if appeal is None:
                continue
            community = communities.get(appeal.community_id)
            if community is None:
                community = await registry.get_community(appeal.community_id)
                if community is None:
                    continue
                communities[community.id] = community
            cal = await self.calendars.for_community(tx, community)
            sla = SlaSettings.from_settings(community.settings)
            events = await appeals.events(appeal_id)
            out.append(appeal_facts(appeal, events, first_due.get(appeal_id), cal, sla, community.timezone))
        return out

    # --- figures --------------------------------------------------------------------------------
    async def figures(self, scope: Scope, period: Period) -> Figures:
        """The scope's figures for the appeals filed in ``period``, with a row per unit and building
        head of the scope (see docs/stats.md)."""
        loaded = await self._load(scope, period)
        now_ts = to_ts(loaded.now)
        total = Tally(loaded.cohort, loaded.open_rows).figures(now_ts)
        heads = await self._heads(loaded, period, now_ts)
        return Figures(scope, period, loaded.now, total, tuple(heads))

    async def by_building(self, scope: Scope, period: Period) -> list[BuildingRow]:
        """One row per building of the scope (active ones, and any other with appeals in the period),
        in name order."""
        loaded = await self._load(scope, period, with_units=False)
        return self._buildings(loaded, to_ts(loaded.now))

    async def overview(self, scope: Scope, period: Period, *, heads: bool = False) -> tuple[Figures, list[BuildingRow]]:
        """Figures and a row per building at once (one read): what /stats and the dashboard's overview
        show; the per-head rows (thousands in a district) only when asked for (the report)."""
        if not heads:
            with gc_paused():  # some 10^4 small objects: one collection after, not seventy during
                return await self._summed(scope, period)
        loaded = await self._load(scope, period, with_units=heads)
        now_ts = to_ts(loaded.now)
        total = Tally(loaded.cohort, loaded.open_rows).figures(now_ts)
        rows = await self._heads(loaded, period, now_ts) if heads else []
        return Figures(scope, period, loaded.now, total, tuple(rows)), self._buildings(loaded, now_ts)

    async def _summed(self, scope: Scope, period: Period) -> tuple[Figures, list[BuildingRow]]:
        """The overview from counts the database adds up per building, category and level, and the
        measured times (for the medians): some hundred rows and two numbers per appeal instead of a
        row per appeal; the same figures as a :class:`Tally` of the rows."""
        loaded = await self._load(scope, period, with_units=False, rows=False)
        total = Sums(open_rows=loaded.open_rows)
        sums: dict[int, Sums] = defaultdict(Sums)
        for row in loaded.sums:
            total.sums.append(row)
            sums[row.building_id].sums.append(row)
        for building_id, first_reply, resolve in loaded.durations:
            group = sums[building_id]
            if first_reply is not None:
                total.first_reply.append(first_reply)
                group.first_reply.append(first_reply)
            if resolve is not None:
                total.resolution_time.append(resolve)
                group.resolution_time.append(resolve)
        for open_row in loaded.open_rows:
            sums[open_row.building_id].open_rows.append(open_row)
        out: list[BuildingRow] = []
        for place in loaded.places:
            for building in place.buildings:
                if building.active or building.id in sums:
                    group = sums.get(building.id) or Sums()
                    out.append(BuildingRow(building.id, place.community.id, building.title, group.figures()))
        out.sort(key=lambda b: (b.name.casefold(), b.building_id))
        return Figures(scope, period, loaded.now, total.figures()), out

    async def trend(self, scope: Scope, months: int, until: Period) -> list[TrendPoint]:
        """The three rates for each of the ``months`` calendar months ending with ``until``'s month,
        oldest first (a month without appeals has empty rates)."""
        await self.refresh()
        labels = [until.previous(i).month or "" for i in range(months - 1, -1, -1)]
        now = self.clock.now()
        sums: dict[str, list[int]] = {m: [0] * 7 for m in labels}
        async with self.db.read() as tx:
            for where in await self._filters(tx, scope):
                for row in await StatsRepo(tx).months(where, labels, now):
                    acc = sums[row.month]
                    values = (
                        row.filed,
                        row.response_hits,
                        row.response_base,
                        row.resolution_hits,
                        row.resolution_base,
                        row.satisfaction_hits,
                        row.satisfaction_base,
                    )
                    for i, value in enumerate(values):
                        acc[i] += value
        return [TrendPoint(m, s[0], Rate(s[1], s[2]), Rate(s[3], s[4]), Rate(s[5], s[6])) for m, s in sums.items()]

    async def care_wishes(self, scope: Scope, period: Period) -> CareWishFigures:
        """The care list's and micro-wishes' counts of the scope for ``period`` (bot.services.stats.care)."""
        async with self.db.read() as tx:
            filters = await self._filters(tx, scope)
            return await care_wish_figures(tx, self.calendars, filters, period, self.clock.now())

    # --- helpers ----------------------------------------------------------------------------------
    async def _filters(self, tx: Tx, scope: Scope) -> list[ScopeFilter]:
        return [ScopeFilter(cid, scope.building_ids, scope.unit_ids) for cid in scope.community_ids]

    async def _load(self, scope: Scope, period: Period, *, with_units: bool = True, rows: bool = True) -> _Loaded:
        """The scope's places, open appeals and the period's appeals: their rows, or (``rows=False``)
        the database's sums of them and their measured times."""
        await self.refresh()
        now = self.clock.now()
        places: list[_Place] = []
        cohort: list[CohortRow] = []
        sums: list[SumRow] = []
        durations: list[DurationRow] = []
        open_rows: list[OpenRow] = []
        async with self.db.read() as tx:
            registry = RegistryRepo(tx)
            repo = StatsRepo(tx)
            for where in await self._filters(tx, scope):
                community = await registry.get_community(where.community_id)
                if community is None:
                    continue
                start, end = period.bounds(community.timezone)
                if rows:
                    cohort.extend(await repo.cohort(where, start, end))
                else:
                    sums.extend(await repo.cohort_sums(where, start, end, now))
                    durations.extend(await repo.cohort_durations(where, start, end))
                open_rows.extend(await repo.open_now(where, now))
                buildings = [
                    b
                    for b in await registry.buildings_of(community.id)
                    if not scope.building_ids or b.id in scope.building_ids
                ]
                units = []
                if with_units or scope.unit_ids:  # the heads' rows need them (10,000 in a district)
                    units = [
                        u
                        for b in buildings
                        for u in await registry.units_of(b.id)
                        if not scope.unit_ids or u.id in scope.unit_ids
                    ]
                if scope.unit_ids:
                    kept = {u.building_id for u in units}
                    buildings = [b for b in buildings if b.id in kept]
                places.append(_Place(community, buildings, units))
        return _Loaded(places, cohort, open_rows, now, sums, durations)

    def _buildings(self, loaded: _Loaded, now_ts: int) -> list[BuildingRow]:
        tallies: dict[int, Tally] = defaultdict(Tally)
        for row in loaded.cohort:
            tallies[row.building_id].cohort.append(row)
        for open_row in loaded.open_rows:
            tallies[open_row.building_id].open_rows.append(open_row)
        out: list[BuildingRow] = []
        for place in loaded.places:
            for building in place.buildings:
                if building.active or building.id in tallies:
                    tally = tallies.get(building.id, Tally())
                    out.append(BuildingRow(building.id, place.community.id, building.title, tally.figures(now_ts)))
        out.sort(key=lambda b: (b.name.casefold(), b.building_id))
        return out

    async def _heads(self, loaded: _Loaded, period: Period, now_ts: int) -> list[HeadRow]:
        """Unit and building heads of the scope, by the units (buildings) they head now."""
        rows: list[HeadRow] = []
        async with self.db.read() as tx:
            repo = StatsRepo(tx)
            for place in loaded.places:
                by_unit: dict[int | None, Tally] = defaultdict(Tally)
                by_building: dict[int, Tally] = defaultdict(Tally)
                for row in loaded.cohort:
                    if row.community_id == place.community.id:
                        by_unit[row.unit_id].cohort.append(row)
                        by_building[row.building_id].cohort.append(row)
                for open_row in loaded.open_rows:
                    if open_row.community_id == place.community.id:
                        by_unit[open_row.unit_id].open_rows.append(open_row)
                        by_building[open_row.building_id].open_rows.append(open_row)
                groups: dict[tuple[HeadRole, int], tuple[list[str], Tally]] = {}
                quiet = Tally()
                for unit in place.units:
                    if unit.head_user_id is not None:
                        key = (HeadRole.UNIT, unit.head_user_id)
                        _add_place(groups, key, unit.name, by_unit.get(unit.id, quiet))
                for building in place.buildings:
                    if building.head_user_id is not None:
                        key = (HeadRole.BUILDING, building.head_user_id)
                        _add_place(groups, key, building.title, by_building.get(building.id, quiet))
                people = sorted({uid for _, uid in groups})
                points = await repo.points(place.community.id, period.months(), people)
                names = await repo.people(people)
                empty: GroupFigures | None = None
                for (role, user_id), (places, tally) in groups.items():
                    if tally.cohort or tally.open_rows:
                        figures = tally.figures(now_ts)
                    else:  # most heads of a big district in a quiet month: computed once
                        empty = empty or Tally().figures(now_ts)
                        figures = empty
                    person = names.get(user_id)
                    rows.append(
                        HeadRow(
                            user_id=user_id,
                            name=person.display if person else str(user_id),
                            role=role,
                            places=tuple(places),
                            figures=figures,
                            points=points.get(user_id, 0),
                        )
                    )
        rows.sort(key=lambda h: (h.role != HeadRole.BUILDING, h.name.casefold(), h.user_id))
        return rows


def _add_place(
    groups: dict[tuple[HeadRole, int], tuple[list[str], Tally]], key: tuple[HeadRole, int], label: str, own: Tally
) -> None:
    """A head's place (a unit or a building) and its rows, into the head's group."""
    group = groups.get(key)
    if group is None:
        group = groups[key] = ([], Tally())
    group[0].append(label)
    group[1].cohort.extend(own.cohort)
    group[1].open_rows.extend(own.open_rows)
