"""Bringing a whole district in (issue 11): staff import the registry of buildings, units and heads
from a sheet (:mod:`bot.services.district.sheet`), all or nothing; every head not yet linked to a
Telegram account gets a personal invite link (``/start hi_<token>``) that links their account to
their post.

A building of the registry is matched by name with the community's building chats: at once when the
chat is registered already, else when a chat of that name is registered (``/register CODE NAME``,
:func:`attach_registered`). Then its units are added and every linked head is set on their post.
Re-importing updates: the same building name, unit and person change nothing; a different person on a
post unlinks it and gets a new link; nothing is deleted.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import Conflict, NotFound, PermissionDenied, WrongChat
from bot.models import Building, Community, Notice, Role, UserInfo
from bot.services.base import ServiceBase
from bot.services.district.sheet import MAX_UNITS, Problem, RegistryRejected, SheetBuilding, name_key
from storage.db import Tx
from storage.district import DistrictRepo, Post, RegistryBuilding
from storage.registry import RegistryRepo

INVITE_TTL = timedelta(days=30)
TOKEN_BYTES = 18  # 24 URL-safe characters: "hi_" + token is 27, within Telegram's 64 for /start


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class HeadLink:
    """A head's personal invite, for staff to send or print."""

    person: str
    building: str
    unit: str  # "" for the building head
    token: str

    @property
    def payload(self) -> str:
        return f"hi_{self.token}"


@dataclass(frozen=True)
class ImportReport:
    buildings_added: int
    buildings_updated: int
    units_added: int
    heads_added: int
    heads_changed: int
    linked_by_username: int
    attached: int  # registry buildings matched with a registered building chat
    links: tuple[HeadLink, ...]  # new links (new or changed heads, expired links)
    still_pending: int  # unlinked heads whose earlier link still works


@dataclass(frozen=True)
class Linked:
    community: Community
    building: str
    unit: str  # "" for the building head
    attached: bool  # the building chat is registered: the post is in force now


class DistrictService(ServiceBase):
    async def _staff_community(self, tx: Tx, chat_id: int, actor_id: int) -> Community:
        community = await RegistryRepo(tx).community_by_staff_chat(chat_id)
        if community is None:
            raise WrongChat("error.staff_chat_only")
        if not await RegistryRepo(tx).has_role(community.id, actor_id, Role.STAFF):
            raise PermissionDenied("error.staff_only")
        return community

    async def check_staff(self, actor: UserInfo, chat_id: int) -> Community:
        async with self.db.read() as tx:
            return await self._staff_community(tx, chat_id, actor.id)

    async def import_registry(self, actor: UserInfo, chat_id: int, sheet: list[SheetBuilding]) -> ImportReport:
        """Store the parsed sheet (one transaction: all or nothing)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            community = await self._staff_community(tx, chat_id, actor.id)
            repo, registry = DistrictRepo(tx), RegistryRepo(tx)
            chats = {name_key(b.title): b for b in await registry.buildings_of(community.id)}
            problems = [
                Problem(item.line, "unit", "too_many_units")
                for item in sheet
                if (found := chats.get(name_key(item.name))) is not None
                and len(
                    {u.name.casefold() for u in await registry.units_of(found.id)} | {u.casefold() for u in item.units}
                )
                > MAX_UNITS
            ]
            if problems:
                raise RegistryRejected(problems)
            counts = {"b_added": 0, "b_updated": 0, "units": 0, "added": 0, "changed": 0, "by_name": 0, "attached": 0}
            links: list[HeadLink] = []
            pending = 0
            for item in sheet:
                rb, new = await repo.upsert_building(community.id, item.name, name_key(item.name), item.units, now)
                counts["b_added" if new else "b_updated"] += 1
                posts: list[tuple[str, str, str | None]] = [
                    (unit, person.name, person.username) for unit, person in item.unit_heads.items()
                ]
                if item.head is not None:
                    posts.append(("", item.head.name, item.head.username))
                for unit, person_name, username in posts:
                    post, what = await repo.upsert_post(community.id, rb.id, unit, person_name, username, now)
                    if what != "same":
                        counts["added" if what == "added" else "changed"] += 1
                    if post.user_id is None and username:
                        known = await registry.find_user_by_username(username)
                        if known is not None:
                            await repo.link_post(post.id, known.id, now)
                            counts["by_name"] += 1
                            continue
                    if post.user_id is not None:
                        continue
                    if what == "same" and await self._has_live_invite(tx, post, now):
                        pending += 1
                        continue
                    links.append(await self._new_link(tx, post, rb, now))
                building = chats.get(name_key(item.name))
                if building is not None and rb.building_id in (None, building.id):
                    if rb.building_id is None:
                        counts["attached"] += 1
                    counts["units"] += await apply_registry(tx, rb.id, building, now)
        return ImportReport(
            buildings_added=counts["b_added"],
            buildings_updated=counts["b_updated"],
            units_added=counts["units"],
            heads_added=counts["added"],
            heads_changed=counts["changed"],
            linked_by_username=counts["by_name"],
            attached=counts["attached"],
            links=tuple(links),
            still_pending=pending,
        )

    async def reissue_links(self, actor: UserInfo, chat_id: int, building: str | None = None) -> list[HeadLink]:
        """``/headlinks [BUILDING]``: a new link for every head of the community (of that building) not
        linked yet; their earlier links stop working."""
        now = self.clock.now()
        async with self.db.write() as tx:
            community = await self._staff_community(tx, chat_id, actor.id)
            repo = DistrictRepo(tx)
            links = []
            only = None
            if building is not None:
                found = await repo.building_by_key(community.id, name_key(building))
                if found is None:
                    raise NotFound("district.building_unknown", name=building[:60])
                only = found.id
            for post in await repo.unlinked_posts(community.id):
                if only is not None and post.registry_building_id != only:
                    continue
                rb = await repo.get_building(post.registry_building_id)
                assert rb is not None
                links.append(await self._new_link(tx, post, rb, now))
        return links

    async def _has_live_invite(self, tx: Tx, post: Post, now: datetime) -> bool:
        return await DistrictRepo(tx).has_live_invite(post.id, now)

    async def _new_link(self, tx: Tx, post: Post, rb: RegistryBuilding, now: datetime) -> HeadLink:
        repo = DistrictRepo(tx)
        await repo.replace_invites(post.id, now)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        await repo.add_invite(token_hash(token), post, now, now + INVITE_TTL)
        return HeadLink(post.person_name, rb.name, post.unit_name, token)

    async def link(self, actor: UserInfo, token: str) -> Linked:
        """``/start hi_<token>``: the head's Telegram account takes their post."""
        now = self.clock.now()
        digest = token_hash(token)
        async with self.db.write() as tx:
            repo = DistrictRepo(tx)
            invite = await repo.get_invite(digest)
            if invite is None:
                raise NotFound("district.invite_unknown")
            if invite.used_by == actor.id:
                raise Conflict("district.invite_yours")
            if invite.used_at is not None:
                raise Conflict("district.invite_used")
            if invite.replaced_at is not None:
                raise Conflict("district.invite_replaced")
            post = await repo.get_post(invite.post_id)
            assert post is not None
            if post.user_id is not None and post.user_id != actor.id:
                raise Conflict("district.invite_used")
            if not await repo.use_invite(digest, actor.id, now):
                raise Conflict("district.invite_expired")
            registry = RegistryRepo(tx)
            await registry.upsert_user(actor, now, started=True)
            await repo.link_post(post.id, actor.id, now)
            rb = await repo.get_building(post.registry_building_id)
            community = await registry.get_community(post.community_id)
            assert rb is not None and community is not None
            building = await registry.get_building(rb.building_id) if rb.building_id is not None else None
            if building is not None:
                await apply_registry(tx, rb.id, building, now)
            key = "district.staff_head_linked_unit" if post.unit_name else "district.staff_head_linked_building"
            await self.queue(
                tx,
                Notice(
                    community.staff_chat_id,
                    key,
                    {"name": post.person_name, "building": rb.name, "unit": post.unit_name, "who": actor.display},
                    dedupe_key=f"head-linked:{digest[:32]}",
                ),
                community,
                now,
            )
        return Linked(community, rb.name, post.unit_name, building is not None)


async def apply_registry(tx: Tx, registry_building_id: int, building: Building, now: datetime) -> int:
    """The registry's units and linked heads on the registered building (its chat exists); returns
    the units added."""
    repo, registry = DistrictRepo(tx), RegistryRepo(tx)
    rb = await repo.get_building(registry_building_id)
    assert rb is not None
    if rb.building_id is None:
        await repo.attach(rb.id, building.id)
    units = {u.name.casefold(): u for u in await registry.units_of(building.id)}
    position = await registry.max_unit_position(building.id)
    added = 0
    for name in rb.units:
        if name.casefold() not in units and len(units) < MAX_UNITS:
            position += 1
            if await registry.add_unit(building.id, name, position):
                added += 1
            fresh = await registry.unit_by_name(building.id, name)
            if fresh is not None:
                units[name.casefold()] = fresh
    for post in await repo.posts_of(rb.id):
        if post.user_id is None:
            continue
        if not post.unit_name:
            current = await registry.get_building(building.id)
            if current is not None and current.head_user_id != post.user_id:
                await registry.set_building_head(building.id, post.user_id)
            continue
        unit = units.get(post.unit_name.casefold())
        if unit is not None and unit.head_user_id != post.user_id:
            await registry.set_unit_head(unit.id, post.user_id)
    return added


async def attach_registered(tx: Tx, building: Building, now: datetime) -> None:
    """A building chat was registered: the registry building of the same name (if any) takes effect."""
    rb = await DistrictRepo(tx).building_by_key(building.community_id, name_key(building.title))
    if rb is not None and rb.building_id is None:
        await apply_registry(tx, rb.id, building, now)
