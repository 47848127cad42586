"""The staff dashboard's domain side: every request names the signed-in person; their scope is
resolved from the registry for that request (bot.services.dashboard.scope) and every id they send
(an appeal, a building filter) is checked against it. Actions go through the same services and
permission checks as the Telegram commands (WorkflowService, ReassignService), so the resident is
told exactly as today, through the outbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.errors import InvalidInput, NotFound, PermissionDenied
from bot.i18n import normalize
from bot.models import Appeal, Community, Level, Role, UserInfo
from bot.services.base import Calendars, ServiceBase
from bot.services.dashboard.scope import Reach, Scope, resolve_scope
from bot.services.dashboard.views import (
    PAGE,
    AppealPage,
    AppealRow,
    BuildingLine,
    HeadLine,
    Holder,
    Timeline,
    TurnoutLine,
    Viewer,
    list_sources,
    pauses_of,
)
from bot.services.district.reassign import Reassigned, ReassignService
from bot.services.routing import can_act
from bot.services.stats import BuildingRow, Figures, Period, ScopeKind, StatsService, TrendPoint
from bot.services.stats import Scope as StatsScope
from bot.services.stats.care import CareWishFigures
from bot.services.stats.report import ReportData
from bot.services.workflow import Outcome, WorkflowService
from storage.appeals import AppealsRepo
from storage.dashboard import AppealFilter, BuildingCounts, DashboardRepo
from storage.db import Database, Tx
from storage.elections import ElectionsRepo
from storage.electorate import ElectorateRepo
from storage.registry import RegistryRepo


class DashboardService(ServiceBase):
    def __init__(
        self,
        db: Database,
        clock: Clock,
        calendars: Calendars,
        workflow: WorkflowService,
        reassign: ReassignService,
        stats: StatsService,
        default_language: str,
    ) -> None:
        super().__init__(db, clock, calendars)
        self.workflow = workflow
        self.reassigning = reassign
        self.stats = stats
        self.default_language = default_language

    async def viewer(self, user: UserInfo) -> Viewer:
        """Who this is and what they may see, resolved now (PermissionDenied without any post)."""
        async with self.db.read() as tx:
            scope = await resolve_scope(tx, user.id)
            override, known = await RegistryRepo(tx).user_language(user.id)
        community_language = scope.communities[0].language if scope.communities else self.default_language
        lang = normalize(override) or normalize(user.language_code) or normalize(known) or community_language
        return Viewer(user, scope, lang)

    async def language_of(self, user: UserInfo) -> str:
        """The person's language even when they have no post (for the refusal)."""
        async with self.db.read() as tx:
            override, known = await RegistryRepo(tx).user_language(user.id)
        return normalize(override) or normalize(user.language_code) or normalize(known) or self.default_language

    # --- pages -----------------------------------------------------------------------------------
    async def appeals(self, viewer: Viewer, wanted: AppealFilter) -> AppealPage:
        scope = viewer.scope
        if wanted.building_id is not None and scope.building(wanted.building_id) is None:
            raise PermissionDenied("dash.error.not_your_building", id=wanted.building_id)
        now = self.clock.now()
        async with self.db.read() as tx:
            communities, buildings, units = list_sources(scope)
            found = await DashboardRepo(tx).appeals(
                community_ids=communities,
                building_ids=buildings,
                unit_ids=units,
                wanted=wanted,
                now=now,
                limit=PAGE,
            )
        rows = [self._row(scope, a, now) for a in found if scope.sees(a)]
        return AppealPage(rows, wanted, rows[-1].appeal.id if len(found) == PAGE and rows else None)

    def _row(self, scope: Scope, appeal: Appeal, now: datetime) -> AppealRow:
        building = scope.building(appeal.building_id)
        unit = next((u for u in scope.unit_rows if u.id == appeal.unit_id), None)
        community = scope.community(appeal.community_id)
        return AppealRow(
            appeal,
            building.title if building else "?",
            unit.name if unit else "",
            bool(appeal.status.is_open and appeal.due_at and appeal.due_at < now),
            community.timezone if community else "UTC",
        )

    async def timeline(self, viewer: Viewer, appeal_id: int) -> Timeline:
        scope = viewer.scope
        now = self.clock.now()
        async with self.db.read() as tx:
            appeal = await AppealsRepo(tx).get(appeal_id)
            if appeal is None:
                raise NotFound("error.appeal_unknown", id=appeal_id)
            if not scope.sees(appeal):
                raise PermissionDenied("dash.error.not_your_appeal", id=appeal_id)
            community = scope.community(appeal.community_id) or await RegistryRepo(tx).get_community(
                appeal.community_id
            )
            assert community is not None
            reg = RegistryRepo(tx)
            unit = await reg.get_unit(appeal.unit_id) if appeal.unit_id else None
            tz = ZoneInfo(community.timezone)
            events = [replace(e, at=e.at.astimezone(tz)) for e in await AppealsRepo(tx).events(appeal.id)]
            deadlines = await DashboardRepo(tx).deadlines(appeal.id)
            may_act = appeal.status.is_open and await can_act(tx, appeal, community, viewer.user.id)
            staff_reader = appeal.community_id in scope.staff_of
            names: dict[int, str] = {}
            wanted = {e.actor_id for e in events if e.actor_id is not None}
            for e in events:
                for key in ("from_user", "to_user", "held_by"):
                    if isinstance(e.detail.get(key), int):
                        wanted.add(e.detail[key])
            if appeal.assignee_user_id is not None:
                wanted.add(appeal.assignee_user_id)
            for user_id in sorted(wanted):
                if user_id == appeal.resident_id and appeal.anonymous and not staff_reader:
                    continue  # an anonymous resident stays anonymous to heads
                person = await reg.get_user(user_id)
                if person is not None:
                    names[user_id] = person.display
        row = self._row(scope, appeal, now)
        if unit is not None:
            row = replace(row, unit=unit.name)
        holder = names.get(appeal.assignee_user_id or 0) or (community.name if appeal.level <= Level.COMMUNITY else "")
        holders = await self.holders(viewer, appeal.id) if staff_reader else []
        return Timeline(
            row=row,
            events=events,
            deadlines=deadlines,
            pauses=pauses_of(events, appeal),
            names=names,
            holder=holder,
            may_act=may_act,
            may_escalate=may_act and appeal.level < max(Level),
            holders=holders,
        )

    # --- figures (the statistics service; no rate is computed here) --------------------------------
    def stats_scope(self, viewer: Viewer) -> StatsScope:
        """The statistics scope of the person's widest post: the street office's communities, the
        staff's community, the buildings they head, else the units they head."""
        scope = viewer.scope
        if scope.staff_of:
            kind = ScopeKind.STREET if scope.reach == Reach.STREET else ScopeKind.COMMUNITY
            return StatsScope(kind, tuple(sorted(scope.staff_of)))
        headed = sorted(
            b.id for b in scope.buildings if b.id in scope.whole_buildings and b.head_user_id == viewer.user.id
        )
        if headed:
            communities = sorted({b.community_id for b in scope.buildings if b.id in headed})
            return StatsScope(ScopeKind.BUILDING, tuple(communities), building_ids=tuple(headed))
        communities = sorted({b.community_id for b in scope.buildings})
        return StatsScope(ScopeKind.UNIT, tuple(communities), unit_ids=tuple(sorted(scope.units)))

    def month(self, viewer: Viewer, text: str | None = None) -> Period:
        """This month in the person's (first) community's time zone, or the month asked for (not
        one in the future)."""
        timezone = viewer.scope.communities[0].timezone if viewer.scope.communities else "UTC"
        current = Period.containing(self.clock.now(), timezone)
        if not text:
            return current
        try:
            asked = Period.parse_month(text)
        except ValueError:
            raise InvalidInput("dash.error.bad_month") from None
        if asked.start > current.start:
            raise InvalidInput("dash.error.future_month")
        return asked

    async def overview(
        self, viewer: Viewer, period: Period, months: int = 6
    ) -> tuple[Figures, list[BuildingRow], list[TrendPoint]]:
        scope = self.stats_scope(viewer)
        figures, buildings = await self.stats.overview(scope, period)
        trend = await self.stats.trend(scope, months, period)
        return figures, buildings, trend

    async def care_wishes(self, viewer: Viewer, period: Period) -> CareWishFigures:
        """The care list's and wishes' counts of the person's statistics scope (never a name or a note)."""
        return await self.stats.care_wishes(self.stats_scope(viewer), period)

    async def report(self, viewer: Viewer, period: Period) -> ReportData:
        """The monthly report's data (the statistics service's, as /report builds it), for the chat
        the person reads figures in: their community's staff chat (or street office chat), else, for a
        building head, their private chat. The statistics service checks that role itself."""
        user_id = viewer.user.id
        chat: tuple[int, bool] | None = None
        async with self.db.read() as tx:
            for community in viewer.scope.communities:
                if community.id in viewer.scope.staff_of:
                    found = await self._staff_chat_of(tx, community, user_id)
                    if found is not None:
                        chat = (found, False)
                        break
        if chat is None and any(b.head_user_id == user_id for b in viewer.scope.buildings):
            chat = (user_id, True)
        if chat is None:
            raise PermissionDenied("dash.error.reports_staff")
        stats_viewer = await self.stats.viewer(user_id, chat[0], private=chat[1])
        return await self.stats.report(stats_viewer, period)

    async def head_figures(self, viewer: Viewer, period: Period) -> Figures:
        return await self.stats.figures(self.stats_scope(viewer), period)

    async def open_by_building(self, viewer: Viewer) -> list[BuildingLine]:
        scope = viewer.scope
        now = self.clock.now()
        ids = [b.id for b in scope.buildings if b.id in scope.whole_buildings and b.active]
        async with self.db.read() as tx:
            counts: dict[int, BuildingCounts] = {
                c.building_id: c for c in await DashboardRepo(tx).open_by_building(ids, now)
            }
        names = {c.id: c.name for c in scope.communities}
        return [
            BuildingLine(
                b.id,
                b.title,
                names.get(b.community_id, ""),
                counts[b.id].open if b.id in counts else 0,
                counts[b.id].overdue if b.id in counts else 0,
            )
            for b in scope.buildings
            if b.id in ids
        ]

    async def heads(self, viewer: Viewer) -> list[HeadLine]:
        """Building and unit heads of what the person sees whole, with what each holds now."""
        scope = viewer.scope
        now = self.clock.now()
        whole = [b for b in scope.buildings if b.id in scope.whole_buildings and b.active]
        async with self.db.read() as tx:
            repo = DashboardRepo(tx)
            reg = RegistryRepo(tx)
            units = await repo.units_of_buildings([b.id for b in whole])
            titles = {b.id: b.title for b in whole}
            posts: list[tuple[int, str, str, Level]] = [
                (b.head_user_id, b.title, "", Level.BUILDING) for b in whole if b.head_user_id
            ]
            posts += [(u.head_user_id, titles[u.building_id], u.name, Level.UNIT) for u in units if u.head_user_id]
            loads = {h.user_id: h for h in await repo.load_of_heads(sorted({p[0] for p in posts}), now)}
            lines = []
            for user_id, building, unit, level in posts:
                person = await reg.get_user(user_id)
                load = loads.get(user_id)
                lines.append(
                    HeadLine(
                        user_id,
                        person.display if person else str(user_id),
                        building,
                        unit,
                        level,
                        load.open if load else 0,
                        load.overdue if load else 0,
                    )
                )
        return lines

    async def turnout(self, viewer: Viewer, limit: int = 3) -> list[TurnoutLine]:
        """Turnout by building of the latest elections of each community the person sees whole
        (heads: of their buildings)."""
        scope = viewer.scope
        lines: list[TurnoutLine] = []
        async with self.db.read() as tx:
            elections = ElectionsRepo(tx)
            electorate = ElectorateRepo(tx)
            for community in scope.communities:
                buildings = [
                    b for b in scope.buildings if b.community_id == community.id and b.id in scope.whole_buildings
                ]
                if not buildings:
                    continue
                held = await elections.of_community(community.id, ("open", "closed"))
                held = sorted(held, key=lambda e: e.period, reverse=True)[:limit]
                for election in held:
                    if election.state == "closed":
                        stored = await elections.stored_turnout(election.id)
                    else:
                        voters = await elections.voters_by_building(election.id)
                        eligible = await electorate.eligible_by_building(community.id)
                        stored = {b: (voters.get(b, 0), eligible.get(b, 0)) for b in eligible}
                    for b in buildings:
                        voters_n, eligible_n = stored.get(b.id, (0, 0))
                        lines.append(
                            TurnoutLine(community.name, election.period, election.state, b.title, voters_n, eligible_n)
                        )
        return lines

    # --- actions (the same services and checks as the Telegram buttons) ---------------------------
    async def _visible(self, viewer: Viewer, appeal_id: int) -> None:
        async with self.db.read() as tx:
            appeal = await AppealsRepo(tx).get(appeal_id)
        if appeal is None:
            raise NotFound("error.appeal_unknown", id=appeal_id)
        if not viewer.scope.sees(appeal):
            raise PermissionDenied("dash.error.not_your_appeal", id=appeal_id)

    async def escalate(self, viewer: Viewer, appeal_id: int) -> Outcome:
        await self._visible(viewer, appeal_id)
        return await self.workflow.escalate_now(viewer.user, appeal_id)

    async def reply(self, viewer: Viewer, appeal_id: int, text: str, request_id: str) -> Outcome:
        await self._visible(viewer, appeal_id)
        key = "".join(c for c in request_id if c.isalnum() or c in "-_")[:40]
        if len(key) < 8:
            raise InvalidInput("dash.error.bad_request")
        return await self.workflow.reply_written(viewer.user, appeal_id, text, request_id=f"{viewer.user.id}:{key}")

    async def holders(self, viewer: Viewer, appeal_id: int) -> list[Holder]:
        """Where the person may move the open appeal ([] unless they are staff or street office of its
        community): its unit's head, another unit head of its building (by @username, as the
        /reassign command names them), the building head, the staff, the street office."""
        async with self.db.read() as tx:
            appeal = await AppealsRepo(tx).get(appeal_id)
            if appeal is None or not appeal.status.is_open:
                return []
            reg = RegistryRepo(tx)
            community = await reg.get_community(appeal.community_id)
            if community is None or await self._staff_chat_of(tx, community, viewer.user.id) is None:
                return []
            found: list[Holder] = []
            for unit in await reg.units_of(appeal.building_id):
                if unit.head_user_id is None:
                    continue
                person = await reg.get_user(unit.head_user_id)
                name = person.display if person else str(unit.head_user_id)
                if unit.id == appeal.unit_id:
                    found.append(Holder(Level.UNIT, unit.head_user_id, name, unit.name, "unit"))
                elif person is not None and person.username and unit.head_user_id not in {h.user_id for h in found}:
                    found.append(Holder(Level.UNIT, unit.head_user_id, name, unit.name, "@" + person.username))
            building = await reg.get_building(appeal.building_id)
            if building is not None and building.head_user_id is not None:
                person = await reg.get_user(building.head_user_id)
                name = person.display if person else str(building.head_user_id)
                found.append(Holder(Level.BUILDING, building.head_user_id, name, "", "building"))
            found.append(Holder(Level.COMMUNITY, None, community.name, "", "staff"))
            if community.street_chat_id is not None:
                found.append(Holder(Level.STREET, None, "", "", "street"))
        current = (appeal.level, appeal.assignee_user_id if appeal.level < Level.COMMUNITY else None)
        return [h for h in found if (h.level, h.user_id) != current]

    async def _staff_chat_of(self, tx: Tx, community: Community, user_id: int) -> int | None:
        """The chat through which the person acts as staff of ``community``: its staff chat, else its
        street office chat (the reassignment service checks the role of that chat again)."""
        reg = RegistryRepo(tx)
        if await reg.has_role(community.id, user_id, Role.STAFF):
            return community.staff_chat_id
        if community.street_chat_id is not None and await reg.has_role(community.id, user_id, Role.STREET):
            return community.street_chat_id
        return None

    async def reassign(self, viewer: Viewer, appeal_id: int, target: str) -> Outcome:
        """Through the /reassign command's service, as staff (or street office) of the appeal's
        community; the target is one the page offered (bot.services.district.reassign parses it)."""
        await self._visible(viewer, appeal_id)
        async with self.db.read() as tx:
            appeal = await AppealsRepo(tx).get(appeal_id)
            assert appeal is not None
            community = await RegistryRepo(tx).get_community(appeal.community_id)
            assert community is not None
            chat_id = await self._staff_chat_of(tx, community, viewer.user.id)
        if chat_id is None:
            raise PermissionDenied("error.staff_only")
        done: Reassigned = await self.reassigning.reassign(viewer.user, chat_id, appeal_id, target[:40])
        params = {"id": appeal_id, "level_key": f"level.{done.level.name.lower()}", "name": done.to_name}
        key = "district.reassigned_to_person" if done.to_name else "district.reassigned_to_level"
        return Outcome(key, done.appeal, params)  # the same answer as the /reassign command
