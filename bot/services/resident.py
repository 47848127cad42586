"""The appeal as its resident acts on it: confirm or reopen a resolved appeal, rate a closed one, and
write to an open one (the answer to a question resumes the clock; anything else, a message kept
earlier included, is passed to whoever handles it now). Every change is one transaction with its
history row and the notices it causes. It shares loading and relaying with
:class:`bot.services.workflow.WorkflowService`, which it holds."""

from __future__ import annotations

from datetime import datetime

from bot.dates import moment
from bot.errors import Conflict, InvalidInput, PermissionDenied
from bot.models import Appeal, Community, Content, Notice, Status, UserInfo
from bot.services.base import ServiceBase
from bot.services.escalation import ping_target
from bot.services.filing import schedule_level_deadlines
from bot.services.point_rules import apply_appeal_rules
from bot.services.routing import appeal_buttons, card_params, fmt_local
from bot.services.satisfaction import SCORE_WORDS, schedule_after_close
from bot.services.workflow import Outcome, WorkflowService
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.conversations import ConversationsRepo
from storage.db import Tx


class QueuedOutcome(Outcome):
    """An outcome whose message to the acting person is already in the outbox (the handler sends
    nothing itself; it only kicks the outbox)."""


class ResidentService(ServiceBase):
    def __init__(self, workflow: WorkflowService) -> None:
        super().__init__(workflow.db, workflow.clock, workflow.calendars)
        self.workflow = workflow

    async def _as_resident(self, tx: Tx, appeal_id: int, actor: UserInfo) -> tuple[Appeal, Community]:
        appeal, community = await self.workflow._load(tx, appeal_id)
        if appeal.resident_id != actor.id:
            raise PermissionDenied("error.not_your_appeal", id=appeal_id)
        return appeal, community

    async def confirm(self, actor: UserInfo, appeal_id: int) -> Outcome:
        now = self.clock.now()
        async with self.db.write() as tx:
            appeal, community = await self._as_resident(tx, appeal_id, actor)
            if appeal.status != Status.RESOLVED:
                raise Conflict("error.not_resolved", id=appeal_id, status_key=f"status.{appeal.status.value}")
            repo = AppealsRepo(tx)
            await repo.update(appeal, now, status=Status.CLOSED, closed_at=now)
            await repo.cancel_deadlines(appeal.id, now, "confirmed")
            await repo.add_event(appeal.id, now, actor.id, "confirmed", appeal.level)
            await apply_appeal_rules(tx, appeal.id, now)
            fresh = await repo.get(appeal.id)
            assert fresh is not None
            sla = SlaSettings.from_settings(community.settings)
            await schedule_after_close(tx, fresh, sla, await self.calendars.for_community(tx, community), now)
        return Outcome("done.confirmed", fresh, {"id": appeal_id})

    async def reopen(self, actor: UserInfo, appeal_id: int) -> Outcome:
        now = self.clock.now()
        async with self.db.write() as tx:
            appeal, community = await self._as_resident(tx, appeal_id, actor)
            if appeal.status != Status.RESOLVED:
                raise Conflict("error.not_resolved", id=appeal_id, status_key=f"status.{appeal.status.value}")
            sla = SlaSettings.from_settings(community.settings)
            cal = await self.calendars.for_community(tx, community)
            due = sla.level_deadline(cal, now, appeal.level, appeal.category)
            repo = AppealsRepo(tx)
            await repo.update(appeal, now, status=Status.IN_PROGRESS, resolved_at=None, due_at=due)
            await repo.cancel_deadlines(appeal.id, now, "reopened")
            await repo.add_event(appeal.id, now, actor.id, "reopened", appeal.level)
            await apply_appeal_rules(tx, appeal.id, now)
            fresh = await repo.get(appeal.id)
            assert fresh is not None
            await schedule_level_deadlines(tx, fresh, sla, cal, now)
            target_chat, person = ping_target(fresh, community)
            card = await card_params(tx, fresh, community)
            await self.queue(
                tx,
                Notice(
                    target_chat,
                    "appeal.reopened",
                    card,
                    buttons=appeal_buttons(fresh),
                    user_id=person,
                    appeal_id=fresh.id,
                    dedupe_key=f"reopen:{fresh.id}:{fresh.stage}",
                ),
                community,
                now,
            )
        return Outcome("done.reopened", fresh, {"id": appeal_id, "due": moment(fresh.due_at, community.timezone)})

    async def rate(self, actor: UserInfo, appeal_id: int, stars: int) -> Outcome:
        if not 1 <= stars <= 5:
            raise InvalidInput("error.rating")
        now = self.clock.now()
        async with self.db.write() as tx:
            appeal, community = await self._as_resident(tx, appeal_id, actor)
            if appeal.status != Status.CLOSED:
                raise Conflict("error.not_closed", id=appeal_id)
            if appeal.rating is not None:
                raise Conflict("error.already_rated", id=appeal_id, stars=appeal.rating)
            repo = AppealsRepo(tx)
            await repo.update(appeal, now, rating=stars)
            await repo.add_event(appeal.id, now, actor.id, "rated", appeal.level, {"stars": stars})
            await apply_appeal_rules(tx, appeal.id, now)
            if appeal.assignee_user_id:
                await self.queue(
                    tx,
                    Notice(
                        appeal.assignee_user_id,
                        "appeal.rated",
                        {"id": appeal.id, "stars": stars},
                        user_id=appeal.assignee_user_id,
                        dedupe_key=f"rated:{appeal.id}",
                    ),
                    community,
                    now,
                )
            fresh = await repo.get(appeal.id)
        assert fresh is not None
        if stars in SCORE_WORDS:  # answered in words: said back in words
            return Outcome("heads.rated_words", fresh, {"id": appeal_id, "answer_key": SCORE_WORDS[stars]})
        return Outcome("done.rated", fresh, {"id": appeal_id, "stars": stars})

    async def resident_message(self, actor: UserInfo, appeal_id: int, content: Content) -> Outcome:
        """A resident writes to one of their appeals: the answer to a question resumes the clock;
        anything else is passed to whoever handles it now."""
        now = self.clock.now()
        async with self.db.write() as tx:
            return await self._resident_message(tx, actor, appeal_id, content, now)

    async def add_held(self, actor: UserInfo, held_id: int, appeal_id: int) -> Outcome:
        """ "Add to appeal #N" for a message kept earlier: it is marked used only if it was added."""
        now = self.clock.now()
        async with self.db.write() as tx:
            conv = ConversationsRepo(tx)
            held = await conv.held(held_id, actor.id)
            if held is None:
                raise Conflict("error.stale_button")
            content = Content(held.kind, held.chat_id, held.message_id, held.text or "", held.file_id)
            outcome = await self._resident_message(tx, actor, appeal_id, content, now)
            await conv.use_held(held.id, now)
        return outcome

    async def appeal_of_reply(self, chat_id: int, message_id: int) -> int | None:
        """The appeal a replied-to bot message belongs to (stored links, never forward metadata)."""
        async with self.db.read() as tx:
            return await AppealsRepo(tx).appeal_of_message(chat_id, message_id)

    async def waiting_for(self, resident_id: int) -> int | None:
        """The most recent appeal waiting for this resident's answer."""
        async with self.db.read() as tx:
            waiting = await AppealsRepo(tx).open_waiting_for(resident_id)
        return waiting[0].id if waiting else None

    async def _resident_message(
        self, tx: Tx, actor: UserInfo, appeal_id: int, content: Content, now: datetime
    ) -> Outcome:
        appeal, community = await self._as_resident(tx, appeal_id, actor)
        if not appeal.status.is_open:
            raise Conflict("error.appeal_not_open", id=appeal_id, status_key=f"status.{appeal.status.value}")
        repo = AppealsRepo(tx)
        kind = "answer" if appeal.status == Status.WAITING else "added"
        if content.is_media and content.file_id:
            await repo.add_media(appeal.id, content.kind, content.file_id, content.text or None, actor.id, now)
        if appeal.status == Status.WAITING:
            sla = SlaSettings.from_settings(community.settings)
            cal = await self.calendars.for_community(tx, community)
            due = cal.add_working_seconds(now, appeal.remaining_seconds or 0)
            await repo.update(appeal, now, status=Status.IN_PROGRESS, due_at=due, remaining_seconds=None)
            fresh = await repo.get(appeal.id)
            assert fresh is not None
            await schedule_level_deadlines(tx, fresh, sla, cal, now)
            appeal = fresh
        await repo.add_event(appeal.id, now, actor.id, kind, appeal.level, {"text": content.text[:500]})
        target, person = ping_target(appeal, community)
        await self.workflow._relay(
            tx,
            community,
            appeal,
            target,
            f"appeal.resident_{kind}",
            content,
            now,
            {"id": appeal.id, "text": content.text.strip() or "-", "due": fmt_local(appeal.due_at, community, now)},
            buttons=appeal_buttons(appeal),
            user_id=person,
        )
        # the resident's "passed on" is implied by the change: queued with it, never lost in a crash
        ack = f"done.{kind}"
        await self.queue(
            tx,
            Notice(
                actor.id,
                ack,
                {"id": appeal.id},
                user_id=actor.id,
                appeal_id=appeal.id,
                urgent=True,
                dedupe_key=f"ack:{content.chat_id}:{content.message_id}",
            ),
            community,
            now,
        )
        return QueuedOutcome(ack, appeal, {"id": appeal.id})

    async def message_to_appeal(self, actor: UserInfo, appeal_id: int, content: Content) -> Outcome:
        """A private reply to a bot message of this appeal: from the resident it goes to the handler,
        from a handler it goes to the resident."""
        async with self.db.read() as tx:
            appeal, _ = await self.workflow._load(tx, appeal_id)
        if appeal.resident_id == actor.id:
            return await self.resident_message(actor, appeal_id, content)
        now = self.clock.now()
        async with self.db.write() as tx:
            appeal, community = await self.workflow._as_handler(tx, appeal_id, actor)
            return await self.workflow._relay_to_resident(tx, appeal, community, actor, content, now, "reply")
