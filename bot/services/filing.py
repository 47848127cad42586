"""Filing an appeal (resident side): building and unit, category, description, anti-spam, receipt.

The conversation lives in ``drafts`` so a restart in the middle loses nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.calendar import WorkCalendar
from bot.errors import Conflict, InvalidInput, NotConfigured, NotFound, PermissionDenied, RateLimited
from bot.i18n import plural
from bot.models import (
    Appeal,
    Building,
    Category,
    Content,
    DeadlineKind,
    Level,
    Notice,
    Status,
    Unit,
    UserInfo,
)
from bot.services.base import ServiceBase
from bot.services.routing import action_buttons, card_params, fmt_local, route
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.conversations import ConversationsRepo, Draft, PendingAction
from storage.db import Tx
from storage.registry import RegistryRepo


@dataclass(frozen=True)
class FilingStep:
    """What the resident must do next."""

    step: str  # "choose_building" | "choose_unit" | "choose_category" | "describe"
    building: Building | None = None
    buildings: tuple[Building, ...] = ()
    units: tuple[Unit, ...] = ()


@dataclass(frozen=True)
class Conversation:
    """Where a user's private conversation stands: an action waiting for their next message, and
    the appeal they are filing."""

    action: PendingAction | None
    draft: Draft | None


@dataclass(frozen=True)
class Receipt:
    appeal: Appeal
    first_reply_due: str
    due: str
    level_key: str


def body_hash(content: Content) -> str:
    basis = content.file_unique_id or " ".join(content.text.lower().split())
    return hashlib.sha256(f"{content.kind}:{basis}".encode()).hexdigest()[:32]


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

    async def start(self, actor: UserInfo, building_id: int | None, *, chat_member: bool = False) -> FilingStep:
        """``/appeal`` in private (building_id None) or through the group's deep link: then the
        person lives in that building already, or ``chat_member`` (Telegram says they are a member
        of the building's chat, see :meth:`link_chat`)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = RegistryRepo(tx)
            await repo.upsert_user(actor, now, started=True)
            if building_id is None:
                buildings = await repo.buildings_of_resident(actor.id)
                if not buildings:
                    raise NotConfigured("error.no_building")
                if len(buildings) > 1:
                    return FilingStep("choose_building", buildings=tuple(buildings))
                building = buildings[0]
            else:
                found = await repo.get_building(building_id)
                if found is None or not found.active:
                    raise NotFound("error.building_unknown")
                resident_here = found.id in {b.id for b in await repo.buildings_of_resident(actor.id)}
                if not (resident_here or chat_member):
                    raise PermissionDenied("security.not_in_building_chat", title=found.title)
                building = found
            return await self._after_building(tx, actor, building, now)

    async def _after_building(self, tx: Tx, actor: UserInfo, building: Building, now: datetime) -> FilingStep:
        repo = RegistryRepo(tx)
        conv = ConversationsRepo(tx)
        old = await conv.get_draft(actor.id)
        inbox_id = old.inbox_id if old else None
        unit = await repo.resident_unit(actor.id, building.id)
        units = await repo.units_of(building.id)
        if unit is None and units:
            await conv.put_draft(actor.id, building.id, None, None, inbox_id, now)
            return FilingStep("choose_unit", building=building, units=tuple(units))
        await conv.put_draft(actor.id, building.id, unit.id if unit else None, None, inbox_id, now)
        return FilingStep("choose_category", building=building)

    async def choose_building(self, actor: UserInfo, building_id: int) -> FilingStep:
        now = self.clock.now()
        async with self.db.write() as tx:
            building = await RegistryRepo(tx).get_building(building_id)
            buildings = await RegistryRepo(tx).buildings_of_resident(actor.id)
            if building is None or building.id not in {b.id for b in buildings}:
                raise NotFound("error.building_unknown")
            return await self._after_building(tx, actor, building, now)

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
            filing_here = draft is not None and draft.building_id == building.id
            if not filing_here and building.id not in {b.id for b in await repo.buildings_of_resident(actor.id)}:
                raise PermissionDenied("security.other_building")
            await repo.upsert_user(actor, now)
            await repo.set_resident(actor.id, building.id, unit.id, now)
            if draft is None or draft.building_id != building.id:
                return FilingStep("unit_saved", building=building, units=(unit,))
            await conv.put_draft(actor.id, building.id, unit.id, None, draft.inbox_id, now)
            return FilingStep("choose_category", building=building)

    async def choose_category(self, actor: UserInfo, category: str) -> tuple[FilingStep, Receipt | None]:
        """Returns the next step, or a receipt when a held message already describes the appeal."""
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
            if draft.inbox_id is not None:
                held = await conv.held(draft.inbox_id, actor.id)
                if held is not None:
                    content = Content(held.kind, held.chat_id, held.message_id, held.text or "", held.file_id)
                    await conv.put_draft(actor.id, draft.building_id, draft.unit_id, cat, None, now)
                    await conv.use_held(held.id, now)
                    receipt = await self._file(tx, actor, content, now)
                    return FilingStep("filed"), receipt
            await conv.put_draft(actor.id, draft.building_id, draft.unit_id, cat, None, now)
        return FilingStep("describe"), None

    async def hold_for_draft(self, actor: UserInfo, content: Content) -> FilingStep | None:
        """A description typed before the category was chosen: keep it with the draft."""
        now = self.clock.now()
        async with self.db.write() as tx:
            conv = ConversationsRepo(tx)
            draft = await conv.get_draft(actor.id)
            if draft is None or draft.category is not None:
                return None
            held = await conv.hold(
                actor.id, content.chat_id, content.message_id, content.kind, content.text, content.file_id, now
            )
            await conv.put_draft(actor.id, draft.building_id, draft.unit_id, None, held, now)
            if draft.unit_id is None:
                units = await RegistryRepo(tx).units_of(draft.building_id)
                if units:
                    building = await RegistryRepo(tx).get_building(draft.building_id)
                    return FilingStep("choose_unit", building=building, units=tuple(units))
            return FilingStep("choose_category")

    async def conversation(self, user_id: int) -> Conversation:
        async with self.db.read() as tx:
            conv = ConversationsRepo(tx)
            return Conversation(await conv.get_action(user_id), await conv.get_draft(user_id))

    async def has_draft_waiting_text(self, user_id: int) -> bool:
        async with self.db.read() as tx:
            draft = await ConversationsRepo(tx).get_draft(user_id)
        return draft is not None and draft.category is not None

    async def describe(self, actor: UserInfo, content: Content) -> Receipt:
        now = self.clock.now()
        try:
            async with self.db.write() as tx:
                return await self._file(tx, actor, content, now)
        except RateLimited:
            # the refusal rolled the filing back: keep the text (inbox) in a transaction of its own
            async with self.db.write() as tx:
                await self._keep(tx, actor.id, content, now)
            raise

    async def receipt_again(self, actor: UserInfo, content: Content) -> Receipt | None:
        """The receipt of the appeal this very message filed, if it did: a description handled a
        second time (an update replayed after a crash between the filing and its receipt) gets
        its receipt again instead of being taken for a new message."""
        async with self.db.read() as tx:
            appeals = AppealsRepo(tx)
            appeal_id = await appeals.appeal_of_message(content.chat_id, content.message_id)
            appeal = await appeals.get(appeal_id) if appeal_id is not None else None
            if appeal is None or appeal.resident_id != actor.id or appeal.body != content.text.strip():
                return None
            community = await RegistryRepo(tx).get_community(appeal.community_id)
        assert community is not None
        return Receipt(
            appeal=appeal,
            first_reply_due=fmt_local(appeal.first_reply_due_at, community),
            due=fmt_local(appeal.due_at, community),
            level_key=f"level.{appeal.level.name.lower()}",
        )

    async def cancel(self, actor: UserInfo) -> bool:
        async with self.db.write() as tx:
            existed = await ConversationsRepo(tx).get_draft(actor.id) is not None
            await ConversationsRepo(tx).drop_draft(actor.id)
            await ConversationsRepo(tx).drop_action(actor.id)
        return existed

    async def _file(self, tx: Tx, actor: UserInfo, content: Content, now: datetime) -> Receipt:
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
        )
        if content.is_media and content.file_id:
            await appeals.add_media(appeal_id, content.kind, content.file_id, text or None, actor.id, now)
        for more in content.more:  # the further photos of an album
            if more.file_id:
                await appeals.add_media(appeal_id, more.kind, more.file_id, more.text or None, actor.id, now)
        await appeals.add_event(
            appeal_id, now, actor.id, "filed", target.level, {"category": draft.category.value, "kind": content.kind}
        )
        appeal = await appeals.get(appeal_id)
        assert appeal is not None
        await schedule_level_deadlines(tx, appeal, sla, cal, now, first_reply=True)
        await conv.drop_draft(actor.id)
        await appeals.link_message(content.chat_id, content.message_id, appeal_id)

        card = await card_params(tx, appeal, community)
        card["resident"] = actor.display
        await self.queue(
            tx,
            Notice(
                target.chat_id,
                "appeal.assigned",
                card,
                buttons=action_buttons(appeal.id, Status.NEW),
                user_id=target.user_id,
                appeal_id=appeal.id,
                dedupe_key=f"assign:{appeal.id}",
                urgent=False,
            ),
            community,
            now,
        )
        if content.is_media:
            await self.queue(
                tx,
                Notice(
                    target.chat_id,
                    "appeal.media",
                    {"id": appeal.id},
                    user_id=target.user_id,
                    appeal_id=appeal.id,
                    copy_from=(content.chat_id, content.message_id),
                    dedupe_key=f"assign-media:{appeal.id}",
                ),
                community,
                now,
            )
        for n, more in enumerate(content.more, start=1):
            await self.queue(
                tx,
                Notice(
                    target.chat_id,
                    "appeal.media",
                    {"id": appeal.id},
                    user_id=target.user_id,
                    appeal_id=appeal.id,
                    copy_from=(more.chat_id, more.message_id),
                    dedupe_key=f"assign-media:{appeal.id}:{n}",
                ),
                community,
                now,
            )
        return Receipt(
            appeal=appeal,
            first_reply_due=fmt_local(first_due, community),
            due=fmt_local(due, community),
            level_key=f"level.{target.level.name.lower()}",
        )

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

    async def _keep(self, tx: Tx, user_id: int, content: Content, now: datetime) -> None:
        """A refused description is still kept (inbox), never silently dropped."""
        await ConversationsRepo(tx).hold(
            user_id, content.chat_id, content.message_id, content.kind, content.text, content.file_id, now
        )

    async def hold_message(self, actor: UserInfo, content: Content) -> tuple[int, Appeal | None]:
        """A private message that belongs to no conversation: keep it, and say which open appeal it
        could be added to."""
        now = self.clock.now()
        async with self.db.write() as tx:
            await RegistryRepo(tx).upsert_user(actor, now, started=True)
            held = await ConversationsRepo(tx).hold(
                actor.id, content.chat_id, content.message_id, content.kind, content.text, content.file_id, now
            )
            latest = await AppealsRepo(tx).latest_open_of(actor.id)
        return held, latest

    async def new_from_held(self, actor: UserInfo, held_id: int) -> FilingStep:
        now = self.clock.now()
        async with self.db.write() as tx:
            conv = ConversationsRepo(tx)
            if await conv.held(held_id, actor.id) is None:
                raise Conflict("error.stale_button")
            buildings = await RegistryRepo(tx).buildings_of_resident(actor.id)
            if not buildings:
                raise NotConfigured("error.no_building")
            await conv.put_draft(actor.id, buildings[0].id, None, None, held_id, now)
            step = await self._after_building(tx, actor, buildings[0], now)
        return step


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
