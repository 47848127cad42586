"""Filing an appeal (resident side): building, unit, category, description, anti-spam, receipt.

The conversation lives in the database (``drafts``; ``building_lookups`` while the bot does not
know the resident's building yet), so a restart in the middle loses nothing. A resident who opens
the bot directly and writes their problem first is never turned away: the message is kept and
becomes the description, and the bot asks only for what it does not know (building, unit,
category). The receipt and the head's card are queued in the outbox in the transaction that
creates the appeal: a crash right after it loses neither.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from bot.calendar import WorkCalendar
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited
from bot.i18n import plural
from bot.models import Appeal, Building, Category, Content, DeadlineKind, Level, UserInfo
from bot.services.base import ServiceBase
from bot.services.building_codes import looks_like_building_code, normalize
from bot.services.filing_steps import MAX_OFFERED, Conversation, FilingStep, ask_building, offerable, remember_asked
from bot.services.metoo.offer import offer_after_filing
from bot.services.receipts import queue_card_and_receipt
from bot.services.routing import route
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.conversations import ConversationsRepo, Draft, HeldMessage
from storage.db import Tx
from storage.registry import RegistryRepo

MAX_BODY = 3000
__all__ = ["Conversation", "FilingService", "FilingStep", "body_hash", "schedule_level_deadlines"]


def body_hash(content: Content) -> str:
    basis = content.file_unique_id or " ".join(content.text.lower().split())
    return hashlib.sha256(f"{content.kind}:{basis}".encode()).hexdigest()[:32]


def _held_content(held: HeldMessage) -> Content:
    return Content(held.kind, held.chat_id, held.message_id, held.text or "", held.file_id)


class FilingService(ServiceBase):
    async def link_chat(self, actor: UserInfo, building_id: int) -> int | None:
        """The building chat whose membership must be checked before filing through its deep link
        (``ap_<building>``, whose id anyone can type): None when the person already lives there, or
        when the building is unknown (:meth:`start` refuses it)."""
        async with self.db.read() as tx:
            repo = RegistryRepo(tx)
            building = await repo.get_building(building_id)
            if building is None or building.id in {b.id for b in await repo.buildings_of_resident(actor.id)}:
                return None
            return building.chat_id

    # --- starting ---------------------------------------------------------------------------------
    async def start(self, actor: UserInfo, building_id: int | None, *, chat_member: bool = False) -> FilingStep:
        """``/appeal`` or "📝 Report a problem" in private (building_id None), or the group's deep link:
        then the person lives in that building already, or ``chat_member`` (Telegram says they are a
        member of the building's chat, see :meth:`link_chat`)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = RegistryRepo(tx)
            await repo.upsert_user(actor, now, started=True)
            conv = ConversationsRepo(tx)
            old = await conv.get_draft(actor.id)
            lookup = await conv.get_lookup(actor.id)
            inbox_id = old.inbox_id if old else (lookup.inbox_id if lookup else None)
            if building_id is not None:
                found = await repo.get_building(building_id)
                if found is None or not found.active:
                    raise NotFound("error.building_unknown")
                resident_here = found.id in {b.id for b in await repo.buildings_of_resident(actor.id)}
                if not (resident_here or chat_member):
                    raise PermissionDenied("security.not_in_building_chat", title=found.title)
                if chat_member:  # Telegram says they are in the building's chat: they belong to it
                    await repo.add_building_member(actor.id, found.id, now)
                return await self._after_building(tx, actor, found, inbox_id, now)
            return await self._start_with(tx, actor, inbox_id, now)

    async def _start_with(self, tx: Tx, actor: UserInfo, inbox_id: int | None, now: datetime) -> FilingStep:
        """The buildings the resident belongs to decide the first question."""
        conv = ConversationsRepo(tx)
        known = await RegistryRepo(tx).buildings_known_for(actor.id)
        if len(known) == 1:
            return await self._after_building(tx, actor, known[0], inbox_id, now)
        await conv.drop_draft(actor.id)
        if known:
            await remember_asked(tx, actor.id, inbox_id, "ask", now)
            return FilingStep("choose_building", buildings=tuple(known[:MAX_OFFERED]), kept=inbox_id is not None)
        return await ask_building(tx, actor.id, inbox_id, "ask", now)

    async def new_from_held(self, actor: UserInfo, held_id: int) -> FilingStep:
        """ "📝 New appeal" under a message kept earlier."""
        now = self.clock.now()
        async with self.db.write() as tx:
            if await ConversationsRepo(tx).held(held_id, actor.id) is None:
                raise Conflict("error.stale_button")
            return await self._start_with(tx, actor, held_id, now)

    async def other_building(self, actor: UserInfo) -> FilingStep:
        """ "🏠 Another building": the community's buildings as buttons, and the poster code."""
        now = self.clock.now()
        async with self.db.write() as tx:
            conv = ConversationsRepo(tx)
            lookup = await conv.get_lookup(actor.id)
            draft = await conv.get_draft(actor.id)
            inbox_id = lookup.inbox_id if lookup else (draft.inbox_id if draft else None)
            await conv.drop_draft(actor.id)
            return await ask_building(tx, actor.id, inbox_id, "ask", now)

    async def choose_building(self, actor: UserInfo, building_id: int) -> FilingStep:
        now = self.clock.now()
        async with self.db.write() as tx:
            building = await RegistryRepo(tx).get_building(building_id)
            offered = {b.id for b in await offerable(tx, actor.id)}
            if building is None or not building.active or building.id not in offered:
                raise NotFound("error.building_unknown")
            conv = ConversationsRepo(tx)
            lookup = await conv.get_lookup(actor.id)
            draft = await conv.get_draft(actor.id)
            inbox_id = lookup.inbox_id if lookup else (draft.inbox_id if draft else None)
            return await self._after_building(tx, actor, building, inbox_id, now)

    async def start_with_code(self, actor: UserInfo, typed: str) -> FilingStep:
        """The QR code on a building's poster (``/start pc_<CODE>``): like the code typed, the
        person belongs to that building and goes straight to filing for it."""
        code = normalize(typed)
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = RegistryRepo(tx)
            building = await repo.building_by_code(code) if code else None
            if building is None:
                raise NotFound("error.building_unknown")
            await repo.upsert_user(actor, now, started=True)
            await repo.add_building_member(actor.id, building.id, now)
            conv = ConversationsRepo(tx)
            lookup = await conv.get_lookup(actor.id)
            draft = await conv.get_draft(actor.id)
            inbox_id = lookup.inbox_id if lookup else (draft.inbox_id if draft else None)
            return await self._after_building(tx, actor, building, inbox_id, now)

    async def typed_while_finding(self, actor: UserInfo, content: Content) -> FilingStep:
        """A message while the bot waits for the resident's building: a poster code (any case,
        spaces, full-width punctuation) picks the building; a mistyped code is said so (in words
        that change each time); anything else is kept as well (the first message stays the
        description)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            conv = ConversationsRepo(tx)
            lookup = await conv.get_lookup(actor.id)
            inbox_id = lookup.inbox_id if lookup else None
            if content.kind == "text" and looks_like_building_code(content.text):
                code = normalize(content.text)
                building = await RegistryRepo(tx).building_by_code(code) if code else None
                if building is not None:  # the code on the poster at their door: they belong to it
                    await RegistryRepo(tx).add_building_member(actor.id, building.id, now)
                    return await self._after_building(tx, actor, building, inbox_id, now)
                typed = " ".join(content.text.split())[:20]
                return await ask_building(tx, actor.id, inbox_id, "miss", now, typed)
            held = await self._hold(tx, actor.id, content, now)
            return await ask_building(tx, actor.id, inbox_id if inbox_id is not None else held, "kept", now)

    async def _after_building(
        self, tx: Tx, actor: UserInfo, building: Building, inbox_id: int | None, now: datetime
    ) -> FilingStep:
        repo = RegistryRepo(tx)
        conv = ConversationsRepo(tx)
        await conv.drop_lookup(actor.id)
        old = await conv.get_draft(actor.id)
        anonymous = bool(old and old.anonymous)
        unit = await repo.resident_unit(actor.id, building.id)
        units = await repo.units_of(building.id)
        kept = inbox_id is not None
        if unit is None and units:
            await conv.put_draft(actor.id, building.id, None, None, inbox_id, now, anonymous=anonymous)
            return FilingStep("choose_unit", building=building, units=tuple(units), kept=kept)
        await conv.put_draft(actor.id, building.id, unit.id if unit else None, None, inbox_id, now, anonymous=anonymous)
        return FilingStep("choose_category", building=building, unit=unit, anonymous=anonymous, kept=kept)

    # --- unit, category, anonymity ------------------------------------------------------------------
    async def choose_unit(self, actor: UserInfo, building_id: int, unit_id: int) -> FilingStep:
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = RegistryRepo(tx)
            unit = await repo.get_unit(unit_id)
            building = await repo.get_building(building_id)
            if unit is None or building is None or unit.building_id != building.id:
                raise NotFound("error.unit_unknown", unit="?")
            conv = ConversationsRepo(tx)
            draft = await conv.get_draft(actor.id)
            # the ids are the presser's: only the building being filed for (its chat's membership was
            # checked when filing started) or one the person lives in already
            # only a building they belong to (its chat, its deep link as a member, its poster code)
            known = {b.id for b in await repo.buildings_known_for(actor.id)}
            known |= {b.id for b in await repo.buildings_of_resident(actor.id)}
            if building.id not in known:
                raise PermissionDenied("security.other_building")
            await repo.upsert_user(actor, now)
            await repo.set_resident(actor.id, building.id, unit.id, now)
            if draft is None or draft.building_id != building.id:
                return FilingStep("unit_saved", building=building, units=(unit,), unit=unit)
            await conv.put_draft(actor.id, building.id, unit.id, None, draft.inbox_id, now, anonymous=draft.anonymous)
            return FilingStep(
                "choose_category",
                building=building,
                unit=unit,
                anonymous=draft.anonymous,
                kept=draft.inbox_id is not None,
            )

    async def toggle_anonymous(self, actor: UserInfo) -> FilingStep:
        """ "🙈 Hide my name from the heads" (and back) on the category question."""
        now = self.clock.now()
        async with self.db.write() as tx:
            conv = ConversationsRepo(tx)
            draft = await conv.get_draft(actor.id)
            if draft is None:
                raise Conflict("error.no_draft")
            anonymous = not draft.anonymous
            await conv.put_draft(
                actor.id, draft.building_id, draft.unit_id, draft.category, draft.inbox_id, now, anonymous=anonymous
            )
            return await self._draft_step(tx, draft, anonymous)

    async def _draft_step(self, tx: Tx, draft: Draft, anonymous: bool) -> FilingStep:
        repo = RegistryRepo(tx)
        building = await repo.get_building(draft.building_id)
        unit = await repo.get_unit(draft.unit_id) if draft.unit_id else None
        step = "describe" if draft.category is not None else "choose_category"
        return FilingStep(
            step,
            building=building,
            unit=unit,
            category=draft.category,
            anonymous=anonymous,
            kept=draft.inbox_id is not None,
        )

    async def choose_category(self, actor: UserInfo, category: str) -> FilingStep:
        """The next step ("describe"), or "filed" when a message kept earlier describes the appeal
        (its receipt and card are queued in this transaction)."""
        try:
            cat = Category(category)
        except ValueError as exc:
            raise InvalidInput("error.category") from exc
        now = self.clock.now()
        async with self.db.write() as tx:
            conv = ConversationsRepo(tx)
            draft = await conv.get_draft(actor.id)
            if draft is None:
                raise Conflict("error.no_draft")
            anonymous = draft.anonymous
            if draft.inbox_id is not None:
                held = await conv.held(draft.inbox_id, actor.id)
                if held is not None:
                    await conv.put_draft(
                        actor.id, draft.building_id, draft.unit_id, cat, None, now, anonymous=anonymous
                    )
                    await conv.use_held(held.id, now)
                    appeal_id = await self._file(tx, actor, _held_content(held), now)
                    step = await self._draft_step(tx, draft, anonymous)
                    return FilingStep(
                        "filed",
                        building=step.building,
                        unit=step.unit,
                        category=cat,
                        anonymous=anonymous,
                        appeal_id=appeal_id,
                    )
            await conv.put_draft(actor.id, draft.building_id, draft.unit_id, cat, None, now, anonymous=anonymous)
            step = await self._draft_step(tx, draft, anonymous)
        return FilingStep("describe", building=step.building, unit=step.unit, category=cat, anonymous=anonymous)

    async def hold_for_draft(self, actor: UserInfo, content: Content) -> FilingStep | None:
        """A description sent before the category was chosen: kept with the draft."""
        now = self.clock.now()
        async with self.db.write() as tx:
            conv = ConversationsRepo(tx)
            draft = await conv.get_draft(actor.id)
            if draft is None or draft.category is not None:
                return None
            held = await self._hold(tx, actor.id, content, now)
            if draft.inbox_id is None:  # the first message stays the description
                await conv.put_draft(
                    actor.id, draft.building_id, draft.unit_id, None, held, now, anonymous=draft.anonymous
                )
            fresh = await conv.get_draft(actor.id)
            assert fresh is not None
            if fresh.unit_id is None:
                units = await RegistryRepo(tx).units_of(fresh.building_id)
                if units:
                    building = await RegistryRepo(tx).get_building(fresh.building_id)
                    return FilingStep("choose_unit", building=building, units=tuple(units), kept=True)
            return await self._draft_step(tx, fresh, fresh.anonymous)

    # --- state --------------------------------------------------------------------------------------
    async def conversation(self, user_id: int) -> Conversation:
        async with self.db.read() as tx:
            conv = ConversationsRepo(tx)
            return Conversation(
                await conv.get_action(user_id),
                await conv.get_draft(user_id),
                await conv.get_lookup(user_id) is not None,
            )

    async def has_draft_waiting_text(self, user_id: int) -> bool:
        async with self.db.read() as tx:
            draft = await ConversationsRepo(tx).get_draft(user_id)
        return draft is not None and draft.category is not None

    async def cancel(self, actor: UserInfo) -> bool:
        async with self.db.write() as tx:
            conv = ConversationsRepo(tx)
            existed = await conv.get_draft(actor.id) is not None or await conv.get_lookup(actor.id) is not None
            await conv.drop_draft(actor.id)
            await conv.drop_lookup(actor.id)
            await conv.drop_action(actor.id)
        return existed

    # --- the description files the appeal ------------------------------------------------------------
    async def describe(self, actor: UserInfo, content: Content) -> int:
        """The description: the appeal is filed; its receipt and the head's card are queued."""
        now = self.clock.now()
        try:
            async with self.db.write() as tx:
                return await self._file(tx, actor, content, now)
        except RateLimited:
            # the refusal rolled the filing back: keep the text (inbox) in a transaction of its own
            async with self.db.write() as tx:
                await self._hold(tx, actor.id, content, now)
            raise

    async def filed_by(self, actor: UserInfo, content: Content) -> int | None:
        """The appeal this very message filed, if it did: a description handled a second time (an
        update replayed after a crash between the filing's commit and the update's ``done`` mark)
        is not taken for a new message; its receipt was queued with the filing."""
        async with self.db.read() as tx:
            appeals = AppealsRepo(tx)
            appeal_id = await appeals.appeal_of_message(content.chat_id, content.message_id)
            appeal = await appeals.get(appeal_id) if appeal_id is not None else None
            if appeal is None or appeal.resident_id != actor.id:
                return None
            return appeal.id

    async def _file(self, tx: Tx, actor: UserInfo, content: Content, now: datetime) -> int:
        conv = ConversationsRepo(tx)
        draft = await conv.get_draft(actor.id)
        if draft is None or draft.category is None:
            raise Conflict("error.no_draft")
        repo = RegistryRepo(tx)
        building = await repo.get_building(draft.building_id)
        if building is None or not building.active:
            raise NotFound("error.building_unknown")
        community = await repo.get_community(building.community_id)
        assert community is not None
        sla = SlaSettings.from_settings(community.settings)
        text = content.text.strip()
        if not text and not content.is_media:
            raise InvalidInput("error.empty_appeal")
        await self._check_spam(tx, actor.id, sla, body_hash(content), now)

        target = await route(tx, community, building.id, draft.unit_id, Level.UNIT)
        assert target is not None  # the community level always exists
        cal = await self.calendars.for_community(tx, community)
        due = sla.filing_deadline(cal, now, draft.category)
        first_due = sla.first_reply_deadline(cal, now)
        appeals = AppealsRepo(tx)
        appeal_id = await appeals.create(
            community_id=community.id,
            building_id=building.id,
            unit_id=draft.unit_id,
            resident_id=actor.id,
            category=draft.category,
            level=target.level,
            assignee_user_id=target.user_id,
            body=text,
            body_hash=body_hash(content),
            now=now,
            first_reply_due=first_due,
            due=due,
            anonymous=draft.anonymous,
        )
        if content.is_media:
            media_ref = content.file_id or content.file_unique_id or ""
            await appeals.add_media(appeal_id, content.kind, media_ref, text or None, actor.id, now)
        for more in content.more:  # the further photos of an album
            if more.file_id:
                await appeals.add_media(appeal_id, more.kind, more.file_id, more.text or None, actor.id, now)
        await appeals.add_event(
            appeal_id,
            now,
            actor.id,
            "filed",
            target.level,
            {"category": draft.category.value, "kind": content.kind, "anonymous": draft.anonymous},
        )
        appeal = await appeals.get(appeal_id)
        assert appeal is not None
        await schedule_level_deadlines(tx, appeal, sla, cal, now, first_reply=True)
        await conv.drop_draft(actor.id)
        await appeals.link_message(content.chat_id, content.message_id, appeal_id)
        await queue_card_and_receipt(self, tx, appeal, community, target, actor, content, now)
        await offer_after_filing(self, tx, appeal, community, now)  # marked as shared: agree to its title
        return appeal_id

    async def _check_spam(self, tx: Tx, user_id: int, sla: SlaSettings, digest: str, now: datetime) -> None:
        """Raises RateLimited (which rolls the caller's transaction back: callers keep the text)."""
        appeals = AppealsRepo(tx)
        if sla.duplicate_window_hours:
            dup = await appeals.duplicate_of(user_id, digest, now - timedelta(hours=sla.duplicate_window_hours))
            if dup is not None:
                raise RateLimited("error.duplicate", id=dup)
        for window, limit in ((timedelta(hours=1), sla.max_per_hour), (timedelta(days=1), sla.max_per_day)):
            if await appeals.count_since(user_id, now - window) >= limit:
                oldest = await appeals.oldest_since(user_id, now - window)
                wait = int(((oldest or now) + window - now).total_seconds() // 60) + 1
                raise RateLimited(
                    "error.too_many_appeals",
                    appeals=plural("security.appeals", limit),
                    minutes=plural("security.minutes", wait),
                )

    async def _hold(self, tx: Tx, user_id: int, content: Content, now: datetime) -> int:
        """Keep a message (inbox) until it is used: nothing a resident sends is dropped."""
        return await ConversationsRepo(tx).hold(
            user_id, content.chat_id, content.message_id, content.kind, content.text, content.file_id, now
        )

    async def hold_message(self, actor: UserInfo, content: Content) -> tuple[int, int | None]:
        """A private message that belongs to no conversation: keep it, and say which open appeal it
        could be added to (its id, or None)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            await RegistryRepo(tx).upsert_user(actor, now, started=True)
            held = await self._hold(tx, actor.id, content, now)
            latest = await AppealsRepo(tx).latest_open_of(actor.id)
        return held, latest.id if latest else None


async def schedule_level_deadlines(
    tx: Tx, appeal: Appeal, sla: SlaSettings, cal: WorkCalendar, now: datetime, *, first_reply: bool = False
) -> None:
    """Deadlines for the appeal's current level: the level deadline, a reminder before it, and (on
    filing) the first-reply deadline."""
    appeals = AppealsRepo(tx)
    assert appeal.due_at is not None
    await appeals.add_deadline(appeal.id, DeadlineKind.RESOLVE, appeal.stage, appeal.due_at)
    remind = sla.reminder_time(cal, appeal.due_at)
    if sla.remind_before_hours > 0 and remind > now:
        await appeals.add_deadline(appeal.id, DeadlineKind.REMIND, appeal.stage, remind)
    if first_reply and sla.escalate_on_first_reply_miss and appeal.first_reply_due_at < appeal.due_at:
        await appeals.add_deadline(appeal.id, DeadlineKind.FIRST_REPLY, appeal.stage, appeal.first_reply_due_at)
