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
from bot.errors import InvalidInput, PermissionDenied
from bot.models import Button, Content, Notice, Reply, Role, UserInfo
from bot.services.access import Place, require_private
from bot.services.point_rules import PointsSettings, Reason, post_entry
from bot.services.wishes.posting import WishPosting
from bot.services.wishes.rules import (
    NotYourWish,
    WishClosed,
    WishTaken,
    WishUnknown,
    clean_body,
    name_buttons,
    resident_buttons,
    volunteer_buttons,
    when_buttons,
)
from storage.conversations import ConversationsRepo
from storage.db import Tx
from storage.ledger import RolesRepo
from storage.registry import RegistryRepo
from storage.wishes import WishesRepo

DOUBLE_TAP = timedelta(minutes=2)  # the same button again this soon: the same action


WRITE_WINDOW = timedelta(hours=1)  # "✉️ Write" pressed longer ago than this no longer takes a message
DRAFT_WINDOW = timedelta(days=1)  # an abandoned draft no longer takes the person's messages


class WishService(WishPosting):
    """The whole flow: :class:`WishPosting` (writing, posting, lists) and, here, the helper and the
    resident."""

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
            if writing is not None and now - writing[1] > WRITE_WINDOW:
                await repo.stop_writing(actor.id)  # pressed long ago: this message is not that one
                writing = None
            if writing is not None and (after is None or writing[1] >= after):
                return await self._relay(tx, actor, writing[0], content, now)
            draft = await repo.draft_of(actor.id)
            stale = draft is not None and now - draft.created_at > DRAFT_WINDOW
            if draft is None or stale or (after is not None and draft.created_at < after):
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
