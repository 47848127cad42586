"""Micro-wishes: writing a wish (a draft kept in the database: what, by when, with the name or
not), posting it in the building chat, the lists and figures, and what the rest of the flow shares
(loading a wish, private messages about it). The helper's and the resident's part of the flow is
:mod:`bot.services.wishes.board`."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.dates import moment
from bot.errors import NotConfigured, PermissionDenied
from bot.models import Button, Community, Notice, Reply, Role, UserInfo
from bot.services.access import Place, require_private
from bot.services.base import ServiceBase
from bot.services.wishes.rules import (
    NotWishResident,
    NotYourWish,
    WishClosed,
    WishSettings,
    WishUnknown,
    help_button,
    name_buttons,
    wanted_by,
)
from storage.db import Tx
from storage.registry import RegistryRepo
from storage.wishes import Wish, WishCounts, WishesRepo

DOUBLE_TAP = timedelta(minutes=2)  # the same button again this soon: the same action


class WishPosting(ServiceBase):
    # --- writing a wish -------------------------------------------------------------------------
    async def start(self, actor: UserInfo, place: Place) -> Reply:
        """/wish (or the keyboard button): a resident's draft, or the building to write it for."""
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            reg = RegistryRepo(tx)
            await reg.upsert_user(actor, now, started=True)
            buildings = await reg.buildings_of_resident(actor.id)
            if not buildings:
                raise NotWishResident()
            if len(buildings) > 1:
                rows = tuple(
                    (Button("wish.btn.building", data=f"wi:b:{b.id}", params={"name": b.title}),) for b in buildings
                )
                return Reply("wish.pick_building", {}, rows)
            return await self._draft(tx, actor, buildings[0].id, now)

    async def choose_building(self, actor: UserInfo, building_id: int, place: Place) -> Reply:
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            if building_id not in {b.id for b in await RegistryRepo(tx).buildings_of_resident(actor.id)}:
                raise NotWishResident()
            return await self._draft(tx, actor, building_id, now)

    async def _draft(self, tx: Tx, actor: UserInfo, building_id: int, now: datetime) -> Reply:
        reg = RegistryRepo(tx)
        building = await reg.get_building(building_id)
        unit = await reg.resident_unit(actor.id, building_id)
        if building is None or not building.active or unit is None:
            raise NotWishResident()
        await WishesRepo(tx).start_draft(
            community_id=building.community_id, building_id=building.id, unit_id=unit.id, resident_id=actor.id, now=now
        )
        return Reply("wish.ask_what", {"building": building.title}, ((Button("wish.btn.cancel", data="wi:c:0"),),))

    async def choose_when(self, actor: UserInfo, days: int, place: Place) -> Reply:
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = WishesRepo(tx)
            draft = await repo.draft_of(actor.id)
            if draft is None or draft.step == "what":
                raise WishClosed()
            if draft.step == "when":
                await repo.set_wanted_by(draft.id, wanted_by(now, days))
        return Reply("wish.ask_name", {}, name_buttons())

    async def publish(self, actor: UserInfo, show_name: bool, place: Place) -> Reply:
        """The last button of the draft: the wish goes up in the building chat."""
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = WishesRepo(tx)
            draft = await repo.draft_of(actor.id)
            if draft is None:  # a double tap on the last button: the wish went up a moment ago
                posted = await repo.recently_posted(actor.id, now - DOUBLE_TAP)
                if posted is None:
                    raise WishClosed()
                _, community = await self._load(tx, posted.id)
                expires = WishSettings.from_settings(community.settings).expires_at(
                    posted.posted_at or now, posted.wanted_by
                )
                return Reply("wish.posted_private", {"id": posted.id, "by": moment(expires, community.timezone)})
            if draft.step != "name" or not await repo.publish(draft.id, show_name, now):
                raise WishClosed()
            wish, community = await self._load(tx, draft.id)
            rules = WishSettings.from_settings(community.settings)
            assert wish.posted_at is not None
            await repo.add_deadline(wish.id, "reshow", now + timedelta(days=rules.reshow_days))
            await repo.add_deadline(wish.id, "unit_head", now + timedelta(days=rules.unit_head_days))
            expires = rules.expires_at(now, wish.wanted_by)
            await repo.add_deadline(wish.id, "expire", expires)
            await self.post_in_building(tx, wish, community, now, "posted")
        return Reply("wish.posted_private", {"id": wish.id, "by": moment(expires, community.timezone)})

    async def cancel_draft(self, actor: UserInfo, place: Place) -> bool:
        require_private(place)
        async with self.db.write() as tx:
            return await WishesRepo(tx).drop_draft(actor.id)

    async def post_in_building(self, tx: Tx, wish: Wish, community: Community, now: datetime, why: str) -> None:
        """The wish in its building chat, with **I'll help** (``why``: posted, reshow, again)."""
        reg = RegistryRepo(tx)
        building = await reg.get_building(wish.building_id)
        if building is None or not building.active:
            return
        who = await reg.get_user(wish.resident_id) if wish.show_name else None
        params: dict[str, object] = {
            "id": wish.id,
            "body": wish.body or "-",
            "by": moment(wish.wanted_by, community.timezone),
        }
        if who is not None:
            params["who"] = who.first_name or "-"
        else:
            params["who_key"] = "wish.from_anonymous"
        key = f"wish:{wish.id}:{why}:{int(now.timestamp())}"
        template = f"wish.chat_{why}"
        notice = Notice(building.chat_id, template, params, buttons=help_button(wish.id), dedupe_key=key)
        await self.queue(tx, notice, community, now)
        if wish.media_chat is not None and wish.media_message is not None:
            copy = Notice(
                building.chat_id,
                "wish.media",
                {"id": wish.id},
                copy_from=(wish.media_chat, wish.media_message),
                dedupe_key=key + ":media",
            )
            await self.queue(tx, copy, community, now)

    # --- lists and figures ----------------------------------------------------------------------
    async def open_in_chat(self, chat_id: int, limit: int) -> tuple[str, list[Wish], Community]:
        """/wishes in a building chat: its open wishes (no names)."""
        async with self.db.read() as tx:
            reg = RegistryRepo(tx)
            building = await reg.building_by_chat(chat_id)
            if building is None or not building.active:
                raise NotConfigured("error.chat_not_registered")
            community = await reg.get_community(building.community_id)
            assert community is not None
            return building.title, await WishesRepo(tx).open_in_building(building.id, limit), community

    async def figures(self, actor: UserInfo, chat_id: int) -> WishCounts:
        """/wishes in the staff chat (staff only): how many wishes, and how many were fulfilled."""
        async with self.db.read() as tx:
            reg = RegistryRepo(tx)
            community = await reg.community_by_staff_chat(chat_id)
            if community is None:
                raise NotConfigured("error.chat_not_registered")
            if not await reg.has_role(community.id, actor.id, Role.STAFF):
                raise PermissionDenied("error.staff_only")
            return await WishesRepo(tx).counts(community.id)

    # --- helpers --------------------------------------------------------------------------------
    async def _load(self, tx: Tx, wish_id: int) -> tuple[Wish, Community]:
        wish = await WishesRepo(tx).get(wish_id)
        if wish is None or wish.state == "draft":
            raise WishUnknown()
        community = await RegistryRepo(tx).get_community(wish.community_id)
        if community is None:
            raise WishUnknown()
        return wish, community

    @staticmethod
    def _party(wish: Wish, user_id: int) -> None:
        if user_id not in (wish.resident_id, wish.volunteer_id):
            raise NotYourWish()

    async def _tell(
        self,
        tx: Tx,
        community: Community,
        now: datetime,
        user_id: int,
        template: str,
        params: dict[str, object],
        buttons: tuple[tuple[Button, ...], ...],
        tag: str,
        *,
        urgent: bool = False,
    ) -> None:
        """A private message about the wish; it waits for the community's working hours unless
        ``urgent`` (the person who just pressed a button is waiting for it)."""
        key = f"wish:{params.get('id')}:{tag}:{user_id}:{int(now.timestamp())}"
        notice = Notice(user_id, template, params, buttons=buttons, user_id=user_id, urgent=urgent, dedupe_key=key)
        await self.queue(tx, notice, community, now)
