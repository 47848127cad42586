"""Micro-wishes (微心愿): a resident writes a small wish in private, it is posted in their building
chat (without their name unless they choose), a volunteer takes it on with **I'll help**, the two
write to each other through the bot (no phone numbers), the resident confirms it was fulfilled and
the volunteer earns points by the community's rule (``PointsSettings.wish_fulfilled``).

Who may do what (checked here, against the chat a button was pressed in):

* write a wish: a registered resident (who chose their unit in a building); in private only;
* **I'll help**: pressed in the wish's own building chat, by a registered resident of the community,
  a unit or building head of it, or its staff; not by the wish's resident. The claim is a guarded
  update: of two volunteers at once one wins, the other is told it is taken;
* write / done / give up: the volunteer; write / fulfilled / not yet / cancel: the resident; all
  in their private chat.

Every message a change implies is queued in the outbox in the change's transaction. The due moments
(re-show, the unit head, expiry) are rows swept by :mod:`bot.services.wishes.sweep`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.dates import moment
from bot.errors import InvalidInput, NotConfigured, PermissionDenied
from bot.models import Button, Community, Content, Notice, Reply, Role, UserInfo
from bot.services.access import Place, require_private
from bot.services.base import ServiceBase
from bot.services.point_rules import PointsSettings, Reason, post_entry
from bot.services.wishes.rules import (
    NotWishResident,
    NotYourWish,
    WishClosed,
    WishSettings,
    WishTaken,
    WishUnknown,
    clean_body,
    help_button,
    name_buttons,
    resident_buttons,
    volunteer_buttons,
    wanted_by,
    when_buttons,
)
from storage.conversations import ConversationsRepo
from storage.db import Tx
from storage.ledger import RolesRepo
from storage.registry import RegistryRepo
from storage.wishes import Wish, WishCounts, WishesRepo

DOUBLE_TAP = timedelta(minutes=2)  # the same button again this soon: the same action


class WishService(ServiceBase):
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

    async def take_private(self, actor: UserInfo, content: Content, after: datetime | None = None) -> Reply | None:
        """A private message that belongs to a wish: the words of a draft, or a message to pass on
        to the other side of a wish; None when it is not about a wish (the appeal router goes on).
        ``after``: when the appeal the person is filing was last touched (a wish begun before it
        waits: the message is the appeal's)."""
        now = self.clock.now()
        async with self.db.read() as tx:  # most private messages are not about a wish: a read only
            repo = WishesRepo(tx)
            if await repo.writing(actor.id) is None and await repo.draft_of(actor.id) is None:
                return None
        async with self.db.write() as tx:
            repo = WishesRepo(tx)
            writing = await repo.writing(actor.id)
            if writing is not None and (after is None or writing[1] >= after):
                return await self._relay(tx, actor, writing[0], content, now)
            draft = await repo.draft_of(actor.id)
            if draft is None or (after is not None and draft.created_at < after):
                return None
            if draft.step != "what":  # the buttons are waiting: show them again
                buttons = when_buttons() if draft.step == "when" else name_buttons()
                return Reply("wish.ask_when" if draft.step == "when" else "wish.ask_name", {}, buttons)
            if content.kind not in ("text", "photo", "voice"):
                raise InvalidInput("wish.kind")
            body = clean_body(content.text, content.is_media)
            media = (content.kind, content.chat_id, content.message_id) if content.is_media else (None, None, None)
            await repo.set_content(draft.id, body, *media)
        return Reply("wish.ask_when", {}, when_buttons())

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

    # --- the volunteer ------------------------------------------------------------------------
    async def claim(self, actor: UserInfo, wish_id: int, place: Place) -> Reply:
        """**I'll help**, pressed under the wish in its building chat."""
        now = self.clock.now()
        async with self.db.write() as tx:
            wish, community = await self._load(tx, wish_id)
            reg = RegistryRepo(tx)
            building = await reg.get_building(wish.building_id)
            if building is None or place.kind != "group" or place.chat_id != building.chat_id:
                raise WishUnknown()  # pressed anywhere else: a forged button (nothing is said about it)
            if wish.resident_id == actor.id:
                raise InvalidInput("wish.own")
            if wish.state == "claimed" and wish.volunteer_id == actor.id:
                return Reply("wish.thanks", {"id": wish.id})  # a double tap: already theirs, nothing sent again
            if wish.state != "open":
                raise WishTaken() if wish.state == "claimed" else WishClosed()
            may = (
                await WishesRepo(tx).lives_in_community(actor.id, community.id)
                or await RolesRepo(tx).heads_here(actor.id, community.id)
                or await reg.has_role(community.id, actor.id, Role.STAFF)
            )
            if not may:
                raise PermissionDenied("wish.volunteer_only")
            if not await WishesRepo(tx).claim(wish.id, actor.id, now):
                raise WishTaken()
            await reg.upsert_user(actor, now)
            base = {"id": wish.id, "body": wish.body or "-", "by": moment(wish.wanted_by, community.timezone)}
            buttons = volunteer_buttons(wish.id)  # the presser waits for it; the others' messages keep quiet hours
            await self._tell(tx, community, now, actor.id, "wish.you_help", base, buttons, "claim", urgent=True)
            if wish.media_chat is not None and wish.media_message is not None:
                copy = Notice(
                    actor.id,
                    "wish.media",
                    {"id": wish.id},
                    user_id=actor.id,
                    copy_from=(wish.media_chat, wish.media_message),
                    urgent=True,
                    dedupe_key=f"wish:{wish.id}:claim:{actor.id}:{int(now.timestamp())}:media",
                )
                await self.queue(tx, copy, community, now)
            params = {**base, "name": actor.first_name or "-"}
            await self._tell(
                tx, community, now, wish.resident_id, "wish.claimed", params, resident_buttons(wish.id), "c"
            )
            chat = Notice(
                building.chat_id,
                "wish.chat_claimed",
                {"id": wish.id},
                dedupe_key=f"wish:{wish.id}:cc:{int(now.timestamp())}",
            )
            await self.queue(tx, chat, community, now)
        return Reply("wish.thanks", {"id": wish.id})

    async def begin_writing(self, actor: UserInfo, wish_id: int, place: Place) -> Reply:
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            wish, _ = await self._load(tx, wish_id)
            self._party(wish, actor.id)
            if wish.state != "claimed":
                raise WishClosed()
            await WishesRepo(tx).start_writing(actor.id, wish.id, now)
            await ConversationsRepo(tx).drop_action(actor.id)  # the latest intent wins: this message
        return Reply("wish.write_now", {"id": wish.id}, ((Button("wish.btn.stop_writing", data=f"wi:s:{wish.id}"),),))

    async def stop_writing(self, actor: UserInfo, wish_id: int, place: Place) -> Reply:
        require_private(place)
        async with self.db.write() as tx:
            wish, _ = await self._load(tx, wish_id)
            self._party(wish, actor.id)
            await WishesRepo(tx).stop_writing(actor.id)
        return Reply("wish.write_stopped", {"id": wish_id})

    async def _relay(self, tx: Tx, actor: UserInfo, wish_id: int, content: Content, now: datetime) -> Reply:
        repo = WishesRepo(tx)
        await repo.stop_writing(actor.id)
        wish, community = await self._load(tx, wish_id)
        if wish.state != "claimed" or wish.volunteer_id is None:
            raise WishClosed()
        to_volunteer = actor.id == wish.resident_id
        other = wish.volunteer_id if to_volunteer else wish.resident_id
        if actor.id not in (wish.resident_id, wish.volunteer_id):
            raise NotYourWish()
        key = f"wrelay:{content.chat_id}:{content.message_id}"
        template = "wish.relay_from_resident" if to_volunteer else "wish.relay_from_volunteer"
        params = {"id": wish.id, "text": content.text or "-", "from_chat": content.chat_id}
        answer = ((Button("wish.btn.answer", data=f"wi:w:{wish.id}"),),)
        await self.queue(
            tx,
            Notice(other, template, params, buttons=answer, user_id=other, urgent=True, dedupe_key=key),
            community,
            now,
        )
        if content.is_media:
            copy = Notice(
                other,
                "wish.media",
                {"id": wish.id},
                user_id=other,
                copy_from=(content.chat_id, content.message_id),
                urgent=True,
                dedupe_key=key + ":media",
            )
            await self.queue(tx, copy, community, now)
        return Reply("wish.relayed", {"id": wish.id})

    async def volunteer_done(self, actor: UserInfo, wish_id: int, place: Place) -> Reply:
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            wish, community = await self._load(tx, wish_id)
            if wish.volunteer_id != actor.id:
                raise NotYourWish()
            if wish.state != "claimed":
                raise WishClosed()
            ask = (
                (
                    Button("wish.btn.fulfilled", data=f"wi:ok:{wish.id}"),
                    Button("wish.btn.not_yet", data=f"wi:no:{wish.id}"),
                ),
            )
            claimed = int(wish.claimed_at.timestamp()) if wish.claimed_at else 0
            notice = Notice(
                wish.resident_id,
                "wish.done_asked",
                {"id": wish.id, "body": wish.body or "-"},
                buttons=ask,
                user_id=wish.resident_id,
                dedupe_key=f"wish:{wish.id}:done:{claimed}",  # once per claim, however often pressed
            )
            await self.queue(tx, notice, community, now)
        return Reply("wish.done_sent", {"id": wish.id})

    async def give_up(self, actor: UserInfo, wish_id: int, place: Place) -> Reply:
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            wish, community = await self._load(tx, wish_id)
            if wish.volunteer_id != actor.id:
                raise NotYourWish()
            if not await WishesRepo(tx).release(wish.id, actor.id):
                raise WishClosed()
            await WishesRepo(tx).stop_writing(actor.id)
            await self._tell(tx, community, now, wish.resident_id, "wish.given_up", {"id": wish.id}, (), "q")
            fresh, _ = await self._load(tx, wish.id)
            await self.post_in_building(tx, fresh, community, now, "again")
        return Reply("wish.you_gave_up", {"id": wish.id})

    # --- the resident ---------------------------------------------------------------------------
    async def confirm(self, actor: UserInfo, wish_id: int, place: Place) -> Reply:
        """Fulfilled: the wish closes and the volunteer earns the community's points (once)."""
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            wish, community = await self._load(tx, wish_id)
            if wish.resident_id != actor.id:
                raise NotYourWish()
            if wish.state == "fulfilled":
                return Reply("wish.already_fulfilled", {"id": wish.id})
            if wish.state == "open":
                raise InvalidInput("wish.no_volunteer")
            repo = WishesRepo(tx)
            if wish.volunteer_id is None or not await repo.close(wish.id, "fulfilled", now, from_states=("claimed",)):
                raise WishClosed()
            await repo.finish_deadlines_of(wish.id, now, "fulfilled")
            amount = PointsSettings.from_settings(community.settings).wish_fulfilled
            entry = None
            if amount > 0:
                entry = await post_entry(
                    tx,
                    community,
                    wish.volunteer_id,
                    amount,
                    Reason.WISH_FULFILLED,
                    f"wish:{wish.id}:fulfilled",
                    now,
                    ref_type="wish",
                    ref_id=wish.id,
                    actor_id=actor.id,
                )
            points = entry.amount if entry else 0
            params: dict[str, object] = {"id": wish.id, "points": points}
            await self._tell(tx, community, now, wish.volunteer_id, "wish.fulfilled_volunteer", params, (), "ok")
            building = await RegistryRepo(tx).get_building(wish.building_id)
            if building is not None and building.active:
                chat = Notice(building.chat_id, "wish.chat_fulfilled", {"id": wish.id}, dedupe_key=f"wish:{wish.id}:cf")
                await self.queue(tx, chat, community, now)
        return Reply("wish.fulfilled_resident", {"id": wish.id})

    async def not_yet(self, actor: UserInfo, wish_id: int, place: Place) -> Reply:
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            wish, community = await self._load(tx, wish_id)
            if wish.resident_id != actor.id:
                raise NotYourWish()
            if wish.state != "claimed" or wish.volunteer_id is None:
                raise WishClosed()
            key = f"no:{int(now.timestamp())}"
            await self._tell(tx, community, now, wish.volunteer_id, "wish.not_yet_volunteer", {"id": wish.id}, (), key)
        return Reply("wish.not_yet_resident", {"id": wish.id})

    async def cancel(self, actor: UserInfo, wish_id: int, place: Place) -> Reply:
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            wish, community = await self._load(tx, wish_id)
            if wish.resident_id != actor.id:
                raise NotYourWish()
            repo = WishesRepo(tx)
            if not await repo.close(wish.id, "cancelled", now, from_states=("open", "claimed")):
                if wish.state == "cancelled":
                    return Reply("wish.cancelled", {"id": wish.id})
                raise WishClosed()
            await repo.finish_deadlines_of(wish.id, now, "cancelled")
            if wish.volunteer_id is not None and wish.state == "claimed":
                await self._tell(
                    tx, community, now, wish.volunteer_id, "wish.cancelled_volunteer", {"id": wish.id}, (), "x"
                )
        return Reply("wish.cancelled", {"id": wish.id})

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
