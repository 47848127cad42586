"""Community set-up and roles: communities, street office, buildings, units, heads, residents.

Permissions are checked here for every action, against the actor's role in that building or
community. Telegram-only facts (who the chat admins are) are passed in by the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from bot import codes
from bot.clock import Clock
from bot.errors import Conflict, InvalidInput, NotConfigured, NotFound, PermissionDenied, WrongChat
from bot.models import Building, Community, Notice, Role, Unit, UserInfo
from bot.services.access import Place
from bot.services.base import Calendars, Defaults, ServiceBase
from bot.services.building_codes import shown
from bot.services.buildings import clean_name, ensure_code, name_from_title
from bot.services.district.registry import attach_registered
from bot.sla import EDITABLE, SlaSettings
from storage.db import Database, Tx
from storage.registry import RegistryRepo

INVITE_TTL = timedelta(days=7)
LANGUAGES = ("zh", "en", "ru")
MAX_UNITS = 60
UNIT_NAME_MAX = 24


@dataclass(frozen=True)
class ChatContext:
    kind: Literal["staff", "street", "building"]
    community: Community
    building: Building | None = None


LANGUAGE_TTL = timedelta(seconds=60)


class RegistryService(ServiceBase):
    defaults: Defaults
    # user id -> (language, valid until): every update needs the user's language; a changed choice
    # is seen at once in this process and within LANGUAGE_TTL in others sharing the database
    _languages: dict[int, tuple[str | None, datetime]]

    def __init__(self, db: Database, clock: Clock, calendars: Calendars) -> None:
        super().__init__(db, clock, calendars)
        self._languages = {}

    # --- users and languages ---------------------------------------------------------------
    async def touch(self, user: UserInfo, *, private: bool = False) -> None:
        now = self.clock.now()
        async with self.db.write() as tx:
            lang = await RegistryRepo(tx).upsert_user(user, now, started=private)
        self._remember_language(user.id, lang, now)  # the answer that follows needs it: no second read

    async def language_of(self, user_id: int) -> str | None:
        now = self.clock.now()
        cached = self._languages.get(user_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self.db.read() as tx:
            override, code = await RegistryRepo(tx).user_language(user_id)
        self._remember_language(user_id, override or code, now)
        return override or code

    def _remember_language(self, user_id: int, lang: str | None, now: datetime) -> None:
        if len(self._languages) > 50_000:
            self._languages.clear()
        self._languages[user_id] = (lang, now + LANGUAGE_TTL)

    async def set_language(self, actor: UserInfo, lang: str) -> None:
        if lang not in LANGUAGES:
            raise InvalidInput("error.language", choices=", ".join(LANGUAGES))
        async with self.db.write() as tx:
            repo = RegistryRepo(tx)
            await repo.upsert_user(actor, self.clock.now())
            await repo.set_language(actor.id, lang)
        self._remember_language(actor.id, lang, self.clock.now())  # what they chose, at once

    async def mark_started(self, user: UserInfo) -> None:
        await self.touch(user, private=True)

    async def private_chat_changed(self, user: UserInfo, blocked: bool) -> None:
        """The user blocked (or unblocked) the bot in their private chat."""
        async with self.db.write() as tx:
            repo = RegistryRepo(tx)
            await repo.upsert_user(user, self.clock.now(), started=not blocked)
            if blocked:
                await repo.mark_unreachable(user.id, self.clock.now())

    # --- where are we? --------------------------------------------------------------------------
    async def chat_context(self, chat_id: int) -> ChatContext | None:
        async with self.db.read() as tx:
            return await self._chat_context(tx, chat_id)

    async def _chat_context(self, tx: Tx, chat_id: int) -> ChatContext | None:
        repo = RegistryRepo(tx)
        building = await repo.building_by_chat(chat_id)
        if building is not None:
            community = await repo.get_community(building.community_id)
            assert community is not None
            return ChatContext("building", community, building)
        community = await repo.community_by_staff_chat(chat_id)
        if community is not None:
            return ChatContext("staff", community)
        community = await repo.community_by_street_chat(chat_id)
        if community is not None:
            return ChatContext("street", community)
        return None

    async def _building_ctx(self, tx: Tx, chat_id: int) -> tuple[Community, Building]:
        ctx = await self._chat_context(tx, chat_id)
        if ctx is None:
            raise NotConfigured("error.chat_not_registered")
        if ctx.kind != "building" or ctx.building is None:
            raise WrongChat("error.building_chat_only")
        return ctx.community, ctx.building

    async def _staff_ctx(self, tx: Tx, chat_id: int, actor_id: int) -> Community:
        community = await RegistryRepo(tx).community_by_staff_chat(chat_id)
        if community is None:
            raise WrongChat("error.staff_chat_only")
        if not await RegistryRepo(tx).has_role(community.id, actor_id, Role.STAFF):
            raise PermissionDenied("error.staff_only")
        return community

    async def staff_chat_ids(self, limit: int) -> list[int]:
        """The staff chats of active communities (their command menus), oldest first."""
        async with self.db.read() as tx:
            return await RegistryRepo(tx).staff_chat_ids(limit)

    async def is_staff(self, community_id: int, user_id: int) -> bool:
        async with self.db.read() as tx:
            return await RegistryRepo(tx).has_role(community_id, user_id, Role.STAFF)

    # --- communities --------------------------------------------------------------------------
    async def create_community(
        self, actor: UserInfo, chat_id: int, name: str, admin_ids: list[int], *, group: bool
    ) -> Community:
        if not group:
            raise WrongChat("error.group_only")
        if actor.id not in admin_ids:
            raise PermissionDenied("error.chat_admin_only")
        name = " ".join(name.split())[:80]
        if not name:
            raise InvalidInput("error.community_name")
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = RegistryRepo(tx)
            await repo.upsert_user(actor, now)
            if await self._chat_context(tx, chat_id) is not None:
                raise Conflict("error.chat_already_registered")
            cid = await repo.create_community(
                name=name,
                staff_chat_id=chat_id,
                timezone=self.defaults.timezone,
                country=self.defaults.country,
                language=self.defaults.language,
                created_by=actor.id,
                now=now,
            )
            await repo.replace_staff(cid, Role.STAFF, admin_ids, now)
            community = await repo.get_community(cid)
        assert community is not None
        return community

    async def sync_admins(self, chat_id: int, admin_ids: list[int]) -> ChatContext | None:
        """Staff (street) roles follow the admins of the staff (street) chat. Every staff command
        refreshes them, so the write is made only when the admins changed (a read otherwise)."""
        async with self.db.read() as tx:
            ctx = await self._chat_context(tx, chat_id)
            if ctx is None or ctx.kind not in ("staff", "street"):
                return ctx
            role = Role.STAFF if ctx.kind == "staff" else Role.STREET
            if await RegistryRepo(tx).staff_ids(ctx.community.id, role) == sorted(set(admin_ids)):
                return ctx
        async with self.db.write() as tx:
            ctx = await self._chat_context(tx, chat_id)
            if ctx is not None and ctx.kind in ("staff", "street"):
                role = Role.STAFF if ctx.kind == "staff" else Role.STREET
                await RegistryRepo(tx).replace_staff(ctx.community.id, role, admin_ids, self.clock.now())
            return ctx

    async def issue_invite(self, actor: UserInfo, chat_id: int, kind: Literal["building", "street"]) -> str:
        now = self.clock.now()
        async with self.db.write() as tx:
            community = await self._staff_ctx(tx, chat_id, actor.id)
            code = codes.new_code()  # short, no look-alikes: people read it aloud and copy it
            await RegistryRepo(tx).create_invite(code, community.id, kind, actor.id, now, now + INVITE_TTL)
        return codes.show(code)

    async def _use_invite(self, tx: Tx, code: str, chat_id: int, kind: str) -> Community:
        repo = RegistryRepo(tx)
        invite = None
        # typed in any case, with spaces or full-width punctuation, or copied with the text around it;
        # codes issued before the short ones still work as they were given
        for candidate in [*codes.find_codes(code[:500]), code.strip()[:64]]:
            invite = await repo.get_invite(candidate)
            if invite is not None and invite["kind"] == kind:
                break
        if invite is None or invite["kind"] != kind:
            raise NotFound("error.invite_unknown")
        if not await repo.use_invite(invite["code"], chat_id, self.clock.now()):
            raise Conflict("error.invite_used")
        community = await repo.get_community(invite["community_id"])
        assert community is not None
        return community

    async def register_building(
        self,
        actor: UserInfo,
        chat_id: int,
        title: str,
        code: str,
        *,
        actor_is_admin: bool,
        group: bool,
        name: str | None = None,
    ) -> tuple[Community, Building]:
        """``name``: the building's own name (``/register CODE NAME``); else taken from the group's title."""
        if not group:
            raise WrongChat("error.group_only")
        if not actor_is_admin:
            raise PermissionDenied("error.chat_admin_only")
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = RegistryRepo(tx)
            await repo.upsert_user(actor, now)
            if await self._chat_context(tx, chat_id) is not None:
                raise Conflict("error.chat_already_registered")
            community = await self._use_invite(tx, code, chat_id, "building")
            own_name = clean_name(name) if name and name.strip() else name_from_title(title[:120] or str(chat_id))
            bid = await repo.create_building(community.id, chat_id, title[:120] or str(chat_id), now, name=own_name)
            building = await repo.get_building(bid)
            assert building is not None
            poster_code = await ensure_code(tx, building)
            building = replace(building, code=poster_code)
            await attach_registered(tx, building, now)  # an imported registry's units and heads
            await self.queue(
                tx,
                Notice(
                    community.staff_chat_id,
                    "staff.building_registered_code",
                    {"title": building.title, "by": actor.display, "code": shown(poster_code)},
                ),
                community,
                now,
            )
        return community, building

    async def link_street(
        self, actor: UserInfo, chat_id: int, code: str, admin_ids: list[int], *, group: bool
    ) -> Community:
        if not group:
            raise WrongChat("error.group_only")
        if actor.id not in admin_ids:
            raise PermissionDenied("error.chat_admin_only")
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = RegistryRepo(tx)
            if await self._chat_context(tx, chat_id) is not None:
                raise Conflict("error.chat_already_registered")
            community = await self._use_invite(tx, code, chat_id, "street")
            await repo.set_street_chat(community.id, chat_id)
            await repo.replace_staff(community.id, Role.STREET, admin_ids, now)
            await self.queue(tx, Notice(community.staff_chat_id, "staff.street_linked", {}), community, now)
        return community

    # --- units and heads --------------------------------------------------------------------------
    async def _may_manage_building(self, tx: Tx, community: Community, building: Building, actor_id: int) -> None:
        if building.head_user_id == actor_id:
            return
        if await RegistryRepo(tx).has_role(community.id, actor_id, Role.STAFF):
            return
        raise PermissionDenied("error.building_manager_only")

    async def add_units(self, actor: UserInfo, chat_id: int, spec: str) -> list[str]:
        names = parse_unit_spec(spec)
        async with self.db.write() as tx:
            community, building = await self._building_ctx(tx, chat_id)
            await self._may_manage_building(tx, community, building, actor.id)
            repo = RegistryRepo(tx)
            existing = await repo.units_of(building.id)
            if len(existing) + len(names) > MAX_UNITS:
                raise InvalidInput("error.too_many_units", max=MAX_UNITS)
            pos = await repo.max_unit_position(building.id)
            added = []
            for name in names:
                pos += 1
                if await repo.add_unit(building.id, name, pos):
                    added.append(name)
        return added

    async def units(self, building_id: int) -> list[Unit]:
        async with self.db.read() as tx:
            return await RegistryRepo(tx).units_of(building_id)

    async def building_units(self, chat_id: int) -> tuple[Building, list[Unit]]:
        async with self.db.read() as tx:
            _, building = await self._building_ctx(tx, chat_id)
            return building, await RegistryRepo(tx).units_of(building.id)

    async def set_building_head(self, actor: UserInfo, chat_id: int, target: UserInfo) -> Building:
        now = self.clock.now()
        async with self.db.write() as tx:
            community, building = await self._building_ctx(tx, chat_id)
            repo = RegistryRepo(tx)
            if not await repo.has_role(community.id, actor.id, Role.STAFF):
                raise PermissionDenied("error.staff_only")
            await repo.upsert_user(actor, now)
            if await repo.get_user(target.id) is None:
                await repo.upsert_user(target, now)
            await repo.set_building_head(building.id, target.id)
        return building

    async def set_unit_head(self, actor: UserInfo, chat_id: int, unit_ref: str | int, target: UserInfo) -> Unit:
        """``unit_ref``: the unit's name as typed, or its id (from a button)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            community, building = await self._building_ctx(tx, chat_id)
            await self._may_manage_building(tx, community, building, actor.id)
            repo = RegistryRepo(tx)
            if isinstance(unit_ref, int):
                unit = await repo.get_unit(unit_ref)
                unit = unit if unit is not None and unit.building_id == building.id else None
            else:
                unit = await repo.unit_by_name(building.id, unit_ref.strip())
            if unit is None:
                raise NotFound("error.unit_unknown", unit=str(unit_ref).strip()[:UNIT_NAME_MAX])
            if await repo.get_user(target.id) is None:
                await repo.upsert_user(target, now)
            await repo.set_unit_head(unit.id, target.id)
            unit = await repo.get_unit(unit.id)
        assert unit is not None
        return unit

    async def get_user(self, user_id: int) -> UserInfo | None:
        async with self.db.read() as tx:
            return await RegistryRepo(tx).get_user(user_id)

    async def find_user(self, username: str) -> UserInfo | None:
        async with self.db.read() as tx:
            return await RegistryRepo(tx).find_user_by_username(username)

    async def is_reachable(self, user_id: int) -> bool:
        async with self.db.read() as tx:
            return await RegistryRepo(tx).is_reachable(user_id)

    async def set_resident_unit(self, actor: UserInfo, building_id: int, unit_id: int, place: Place) -> Unit:
        """A unit button of ``/myunit``: pressed in that building's own chat (whoever sees the
        message is a member of it), never on a bot message elsewhere with another building's ids."""
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = RegistryRepo(tx)
            building = await repo.get_building(building_id)
            if building is None or place.kind != "group" or building.chat_id != place.chat_id:
                raise PermissionDenied("security.other_building")
            unit = await repo.get_unit(unit_id)
            if unit is None or unit.building_id != building_id:
                raise NotFound("error.unit_unknown", unit="?")
            await repo.upsert_user(actor, now)
            await repo.set_resident(actor.id, building_id, unit_id, now)
        return unit

    # --- chat lifecycle ----------------------------------------------------------------------------
    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> bool:
        async with self.db.write() as tx:
            return await RegistryRepo(tx).migrate_chat(old_chat_id, new_chat_id) > 0

    async def bot_membership_changed(self, chat_id: int, present: bool) -> ChatContext | None:
        """The bot was removed from (or added back to) a chat: buildings stop (resume) taking appeals
        and the staff chat is told."""
        now = self.clock.now()
        async with self.db.write() as tx:
            ctx = await self._chat_context(tx, chat_id)
            if ctx is None:
                return None
            if ctx.kind == "building" and ctx.building is not None and ctx.building.active != present:
                await RegistryRepo(tx).set_building_active(ctx.building.id, present)
                key = "staff.bot_back_in_building" if present else "staff.bot_removed_from_building"
                await self.queue(
                    tx, Notice(ctx.community.staff_chat_id, key, {"title": ctx.building.title}), ctx.community, now
                )
            elif ctx.kind == "street" and not present:
                await RegistryRepo(tx).set_street_chat(ctx.community.id, None)
                await self.queue(
                    tx, Notice(ctx.community.staff_chat_id, "staff.street_unlinked", {}), ctx.community, now
                )
            return ctx

    # --- community settings -----------------------------------------------------------------------
    async def community_settings(self, actor: UserInfo, chat_id: int) -> tuple[Community, SlaSettings]:
        async with self.db.read() as tx:
            community = await self._staff_ctx(tx, chat_id, actor.id)
        return community, SlaSettings.from_settings(community.settings)

    async def set_sla(self, actor: UserInfo, chat_id: int, key: str, value: str) -> SlaSettings:
        if key not in EDITABLE:
            raise InvalidInput("error.sla_key", keys=", ".join(EDITABLE))
        async with self.db.write() as tx:
            community = await self._staff_ctx(tx, chat_id, actor.id)
            raw: dict[str, Any] = dict(community.settings.get("sla", {}))
            raw[key] = value
            try:
                sla = SlaSettings.model_validate(raw)
            except ValidationError as exc:
                raise InvalidInput("error.sla_value", name=key) from exc
            settings = dict(community.settings)
            settings["sla"] = sla.model_dump()
            await RegistryRepo(tx).set_community_settings(community.id, settings)
        return sla

    async def set_community_option(self, actor: UserInfo, chat_id: int, option: str, value: str) -> Community:
        """timezone / country / language of the community (validated)."""
        async with self.db.write() as tx:
            community = await self._staff_ctx(tx, chat_id, actor.id)
            value = value.strip()
            if option == "language" and value not in LANGUAGES:
                raise InvalidInput("error.language", choices=", ".join(LANGUAGES))
            if option == "timezone":
                from zoneinfo import ZoneInfo

                try:
                    ZoneInfo(value)
                except Exception as exc:
                    raise InvalidInput("error.timezone", value=value[:40]) from exc
            if option == "country":
                import holidays

                value = value.upper()
                if value not in holidays.list_supported_countries():
                    raise InvalidInput("error.country", value=value[:10])
            if option not in ("language", "timezone", "country"):
                raise InvalidInput("error.option")
            await RegistryRepo(tx).set_community_field(community.id, option, value)
            updated = await RegistryRepo(tx).get_community(community.id)
        assert updated is not None
        return updated

    async def set_workday(self, actor: UserInfo, chat_id: int, day: date, working: bool | None) -> None:
        async with self.db.write() as tx:
            community = await self._staff_ctx(tx, chat_id, actor.id)
            await RegistryRepo(tx).set_calendar_override(community.id, day, working, actor.id, self.clock.now())

    async def calendar_status(self, community: Community, day: date) -> tuple[bool, bool]:
        """(is working day, schedule officially announced for that year)"""
        async with self.db.read() as tx:
            cal = await self.calendars.for_community(tx, community)
        return cal.is_working_day(day), cal.is_announced(day)


def parse_unit_spec(spec: str) -> list[str]:
    """``"1-4"`` -> 1,2,3,4; ``"A B C"`` / ``"1, 2, 5"`` -> as listed. Duplicates dropped, order kept."""
    names: list[str] = []
    for token in spec.replace(",", " ").replace("，", " ").split():
        if "-" in token and all(p.isdigit() for p in token.split("-", 1)):
            lo, hi = (int(p) for p in token.split("-", 1))
            if lo > hi or hi - lo >= MAX_UNITS:
                raise InvalidInput("error.unit_range", spec=token[:20])
            names.extend(str(n) for n in range(lo, hi + 1))
        else:
            if len(token) > UNIT_NAME_MAX:
                raise InvalidInput("error.unit_name", max=UNIT_NAME_MAX)
            names.append(token)
    if not names:
        raise InvalidInput("error.units_missing")
    if len(names) > MAX_UNITS:
        raise InvalidInput("error.too_many_units", max=MAX_UNITS)
    return list(dict.fromkeys(names))
