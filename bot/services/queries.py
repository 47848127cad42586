"""Read-only views: a resident's appeals, a head's open appeals, a chat's anonymous summary, one
appeal with its history. Permission checks live here too."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.errors import NotConfigured, NotFound, PermissionDenied
from bot.models import Appeal, AppealEvent, Community, Level, Role, UserInfo
from bot.services.access import Place, require_appeal_place
from bot.services.base import ServiceBase
from bot.services.routing import can_act, card_params
from storage.appeals import AppealsRepo
from storage.db import Tx
from storage.perks import PerksRepo
from storage.registry import RegistryRepo


@dataclass(frozen=True)
class AppealLine:
    appeal: Appeal
    overdue: bool


@dataclass(frozen=True)
class AppealView:
    appeal: Appeal
    params: dict[str, object]
    history: list[AppealEvent]
    may_act: bool
    is_resident: bool
    names: dict[int, str] = field(default_factory=dict)  # who acted in the history (anonymous residents hidden)
    holder: str = ""  # who has the appeal now: the assignee's name, else the community's (street's) staff
    timezone: str = "UTC"


@dataclass(frozen=True)
class Roles:
    """What a person is, for their start screen, keyboard and command menu."""

    staff: bool = False
    building_head: bool = False
    unit_head: bool = False
    merchant: bool = False
    places: tuple[str, ...] = ()  # "unit 1, Building 7", "Building 7": what they head

    @property
    def head(self) -> bool:
        return self.building_head or self.unit_head

    @property
    def start_key(self) -> str:
        if self.staff:
            return "start.staff"
        if self.building_head:
            return "start.building_head"
        if self.unit_head:
            return "start.unit_head"
        if self.merchant:
            return "start.merchant"
        return "start.resident"


class QueryService(ServiceBase):
    async def _lines(self, appeals: list[Appeal], now: datetime) -> list[AppealLine]:
        """The list's lines: what a list button shows is on the appeal row itself (no read per line)."""
        return [AppealLine(a, bool(a.status.is_open and a.due_at and a.due_at < now)) for a in appeals]

    async def mine(self, actor: UserInfo) -> list[AppealLine]:
        async with self.db.read() as tx:
            appeals = await AppealsRepo(tx).of_resident(actor.id, limit=15)
        return await self._lines(appeals, self.clock.now())

    async def supervised(self, actor: UserInfo) -> list[AppealLine]:
        """Open appeals of the units and buildings the actor heads, and those assigned to them."""
        async with self.db.read() as tx:
            reg = RegistryRepo(tx)
            units = await reg.units_headed_by(actor.id)
            buildings = await reg.buildings_headed_by(actor.id)
            if not units and not buildings:
                assigned = await AppealsRepo(tx).assigned_to(actor.id)
                if not assigned:
                    raise PermissionDenied("error.heads_only")
            repo = AppealsRepo(tx)
            found: dict[int, Appeal] = {}
            for appeal in (
                *await repo.assigned_to(actor.id),
                *await repo.open_in_units([u.id for u in units]),
                *await repo.open_in_buildings([b.id for b in buildings]),
            ):
                found.setdefault(appeal.id, appeal)
        ordered = sorted(found.values(), key=lambda a: (a.due_at is None, a.due_at or a.created_at))
        return await self._lines(ordered[:30], self.clock.now())

    async def chat_open(self, actor: UserInfo, chat_id: int) -> list[AppealLine]:
        """``/open`` in the staff (street) chat: appeals at that level."""
        async with self.db.read() as tx:
            reg = RegistryRepo(tx)
            community = await reg.community_by_staff_chat(chat_id)
            level, role = Level.COMMUNITY, Role.STAFF
            if community is None:
                community = await reg.community_by_street_chat(chat_id)
                level, role = Level.STREET, Role.STREET
            if community is None:
                raise NotConfigured("error.chat_not_registered")
            if not await reg.has_role(community.id, actor.id, role):
                raise PermissionDenied("error.staff_only")
            appeals = await AppealsRepo(tx).open_at_level(community.id, level)
        return await self._lines(appeals, self.clock.now())

    async def building_summary(self, chat_id: int) -> tuple[str, dict[str, int]]:
        now = self.clock.now()
        async with self.db.read() as tx:
            building = await RegistryRepo(tx).building_by_chat(chat_id)
            if building is None:
                raise NotConfigured("error.chat_not_registered")
            community = await RegistryRepo(tx).get_community(building.community_id)
            assert community is not None
            local = self.local_now(community)
            month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            summary = await AppealsRepo(tx).building_summary(building.id, now, month_start)
        return building.title, summary

    async def check_appeal_place(self, appeal_id: int, place: Place) -> None:
        """An appeal's buttons act only in the presser's private chat or a chat of its own chain
        (its community's staff chat or street office chat); the presser's rights are checked by the
        action itself."""
        async with self.db.read() as tx:
            appeal = await AppealsRepo(tx).get(appeal_id)
            if appeal is None:
                raise NotFound("error.appeal_unknown", id=appeal_id)
            community = await RegistryRepo(tx).get_community(appeal.community_id)
            assert community is not None
        require_appeal_place(place, community)

    async def show(self, actor: UserInfo, appeal_id: int, place: Place) -> AppealView:
        """One appeal with its history, for its resident, its handlers and their supervisors, shown
        only in ``place`` of its own chain (see :func:`bot.services.access.require_appeal_place`)."""
        async with self.db.read() as tx:
            appeal = await AppealsRepo(tx).get(appeal_id)
            if appeal is None:
                raise NotFound("error.appeal_unknown", id=appeal_id)
            community = await RegistryRepo(tx).get_community(appeal.community_id)
            assert community is not None
            require_appeal_place(place, community)
            is_resident = appeal.resident_id == actor.id
            may_act = await can_act(tx, appeal, community, actor.id)
            supervises = may_act or await self._supervises(tx, appeal, community, actor.id)
            if not (is_resident or supervises):
                raise PermissionDenied("error.not_your_appeal", id=appeal_id)
            params = await card_params(tx, appeal, community)
            tz = ZoneInfo(community.timezone)  # history times are shown in the community's local time
            history = [replace(e, at=e.at.astimezone(tz)) for e in await AppealsRepo(tx).events(appeal.id)]
            hide_resident = (
                appeal.anonymous and not is_resident and not await self._staff_reader(tx, community, actor.id)
            )
            names = await self._names(tx, appeal, history, hide_resident=hide_resident)
            holder = names.get(appeal.assignee_user_id or 0) or (
                community.name if appeal.level <= Level.COMMUNITY else ""
            )
        return AppealView(
            appeal,
            params,
            history,
            may_act and appeal.status.is_open,
            is_resident,
            names=names,
            holder=holder,
            timezone=community.timezone,
        )

    async def _staff_reader(self, tx: Tx, community: Community, user_id: int) -> bool:
        reg = RegistryRepo(tx)
        return await reg.has_role(community.id, user_id, Role.STAFF) or await reg.has_role(
            community.id, user_id, Role.STREET
        )

    async def _names(
        self, tx: Tx, appeal: Appeal, history: list[AppealEvent], *, hide_resident: bool
    ) -> dict[int, str]:
        """Display names of the people in the history; an anonymous resident stays anonymous to
        heads (the resident and staff see the name)."""
        reg = RegistryRepo(tx)
        names: dict[int, str] = {}
        wanted = {e.actor_id for e in history if e.actor_id is not None}
        if appeal.assignee_user_id is not None:
            wanted.add(appeal.assignee_user_id)
        for user_id in sorted(wanted):
            person = await reg.get_user(user_id)
            if person is not None and not (hide_resident and user_id == appeal.resident_id):
                names[user_id] = person.display
        return names

    async def roles_of(self, user_id: int) -> Roles:
        """Staff of any community, building head, unit head, merchant (for the private chat)."""
        async with self.db.read() as tx:
            reg = RegistryRepo(tx)
            units = await reg.units_headed_by(user_id)
            buildings = await reg.buildings_headed_by(user_id)
            places: list[str] = [b.title for b in buildings if b.active]
            for unit in units:
                building = await reg.get_building(unit.building_id)
                if building is not None and building.active:
                    places.append(f"{unit.name} · {building.title}")
            staff = await reg.is_staff_anywhere(user_id)
            merchant = await PerksRepo(tx).is_merchant(user_id)
        return Roles(
            staff=staff,
            building_head=any(b.active for b in buildings),
            unit_head=bool(units),
            merchant=merchant,
            places=tuple(places[:6]),
        )

    async def _supervises(self, tx: Tx, appeal: Appeal, community: Community, user_id: int) -> bool:
        reg = RegistryRepo(tx)
        building = await reg.get_building(appeal.building_id)
        if building and building.head_user_id == user_id:
            return True
        if appeal.unit_id:
            unit = await reg.get_unit(appeal.unit_id)
            if unit and unit.head_user_id == user_id:
                return True
        return await reg.has_role(community.id, user_id, Role.STAFF) or await reg.has_role(
            community.id, user_id, Role.STREET
        )
