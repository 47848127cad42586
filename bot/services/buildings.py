"""A building's own name and its poster code, and the people seen in its chat.

The name is what residents, heads and charts read ("Building 7", "3号楼"), not the group's title
("3号楼业主群"); staff (or the building head) change it with ``/buildingname``. The code lets a
resident who opens the bot directly find their building (:mod:`bot.services.building_codes`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import InvalidInput, NotConfigured, PermissionDenied, WrongChat
from bot.models import Building, Community, Role, UserInfo
from bot.services.base import ServiceBase
from bot.services.building_codes import new_code
from storage.db import Tx
from storage.registry import RegistryRepo

NAME_MAX = 60
# the end of a group's title that is not part of the building's name ("3号楼业主群" -> "3号楼")
_TITLE_TAILS = (
    "业主交流群",
    "业主群",
    "居民群",
    "住户群",
    "邻里群",
    "交流群",
    "群",
    " chat",
    " group",
    " чат",
    " группа",
)


def name_from_title(title: str) -> str:
    """A first name for a building registered without one: its group's title without the tail
    that names the group ("…业主群", "… chat")."""
    name = " ".join(title.split())
    for tail in _TITLE_TAILS:
        if name.casefold().endswith(tail.casefold()) and len(name) > len(tail):
            name = name[: -len(tail)].strip(" -—·|")
            break
    return name[:NAME_MAX] or title[:NAME_MAX]


def clean_name(name: str) -> str:
    cleaned = " ".join(name.split())[:NAME_MAX]
    if not cleaned:
        raise InvalidInput("building.name_usage")
    return cleaned


async def ensure_code(tx: Tx, building: Building) -> str:
    """The building's code, drawn now if it has none yet (buildings registered before codes)."""
    if building.code:
        return building.code
    repo = RegistryRepo(tx)
    for _ in range(20):
        code = new_code()
        if await repo.set_building_code(building.id, code):
            fresh = await repo.get_building(building.id)
            if fresh is not None and fresh.code:
                return fresh.code
    raise RuntimeError("no free building code")  # pragma: no cover - 25^6 codes


@dataclass(frozen=True)
class PosterData:
    """What the building's poster shows: its name and code, its heads by unit (names as the bot
    knows them; None: no head yet), the community's language."""

    building: Building
    code: str
    building_head: str | None
    units: tuple[tuple[str, str | None], ...]
    language: str


class BuildingService(ServiceBase):
    async def seen_in_group(self, user: UserInfo, chat_id: int) -> None:
        """Someone wrote in (or joined) a group chat: remember them, and, for a building chat, that
        they belong to that building (so they can file from a private chat without a code)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = RegistryRepo(tx)
            await repo.upsert_user(user, now)
            building = await repo.building_by_chat(chat_id)
            if building is not None and building.active:
                await repo.add_building_member(user.id, building.id, now)

    async def _manageable(self, tx: Tx, chat_id: int, actor_id: int) -> tuple[Community, Building]:
        repo = RegistryRepo(tx)
        building = await repo.building_by_chat(chat_id)
        if building is None:
            if await repo.community_by_staff_chat(chat_id) or await repo.community_by_street_chat(chat_id):
                raise WrongChat("error.building_chat_only")
            raise NotConfigured("error.chat_not_registered")
        community = await repo.get_community(building.community_id)
        assert community is not None
        if building.head_user_id != actor_id and not await repo.has_role(community.id, actor_id, Role.STAFF):
            raise PermissionDenied("error.building_manager_only")
        return community, building

    async def rename(self, actor: UserInfo, chat_id: int, name: str) -> Building:
        """``/buildingname NAME`` in the building chat, by staff or the building head."""
        cleaned = clean_name(name)
        async with self.db.write() as tx:
            _, building = await self._manageable(tx, chat_id, actor.id)
            repo = RegistryRepo(tx)
            await repo.set_building_name(building.id, cleaned)
            fresh = await repo.get_building(building.id)
        assert fresh is not None
        return fresh

    async def poster_data(self, actor: UserInfo, chat_id: int) -> PosterData:
        """``/poster``: the building, its code and its heads (staff and the building head)."""
        async with self.db.write() as tx:
            community, building = await self._manageable(tx, chat_id, actor.id)
            code = await ensure_code(tx, building)
            repo = RegistryRepo(tx)

            async def name_of(user_id: int | None) -> str | None:
                person = await repo.get_user(user_id) if user_id is not None else None
                return None if user_id is None else (person.display if person else str(user_id))

            units = tuple([(u.name, await name_of(u.head_user_id)) for u in await repo.units_of(building.id)])
            head = await name_of(building.head_user_id)
        return PosterData(building, code, head, units, community.language)

    async def code_for_chat(self, chat_id: int) -> str | None:
        """The code of the building whose chat this is (drawn now if needed); None elsewhere."""
        async with self.db.write() as tx:
            building = await RegistryRepo(tx).building_by_chat(chat_id)
            return None if building is None else await ensure_code(tx, building)
