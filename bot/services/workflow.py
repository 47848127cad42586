"""The appeal after filing, as whoever handles it works on it: take, reply, ask (pauses the clock),
resolve, escalate (also used by the sweeper and delivery). What the resident does (confirm, reopen,
rate, answer or add to their appeal) is in :mod:`bot.services.resident`. Every change is one
transaction with its history row and the notices it causes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.logging import set_appeal
from bot.models import (
    ActionKind,
    Appeal,
    Button,
    Community,
    Content,
    DeadlineKind,
    Level,
    Notice,
    Status,
    UserInfo,
)
from bot.services.base import ServiceBase
from bot.services.escalation import escalate, level_chat
from bot.services.pending_actions import ACTION_TTL, expired, live_action
from bot.services.point_rules import apply_appeal_rules
from bot.services.routing import action_buttons, can_act, fmt_local
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.conversations import ConversationsRepo
from storage.db import Tx
from storage.registry import RegistryRepo

NOTE_MAX = 2000


@dataclass(frozen=True)
class Outcome:
    """What happened, for the handler to tell the acting user (``queued``: the service already
    queued that message in the outbox; the handler only answers the button)."""

    key: str
    appeal: Appeal
    params: dict[str, object]
    queued: bool = False


class WorkflowService(ServiceBase):
    # --- loading and permissions (ResidentService uses them too) ------------------------------------
    async def _load(self, tx: Tx, appeal_id: int) -> tuple[Appeal, Community]:
        set_appeal(appeal_id)  # log lines of this update / job name the appeal from here on
        appeal = await AppealsRepo(tx).get(appeal_id)
        if appeal is None:
            raise NotFound("error.appeal_unknown", id=appeal_id)
        community = await RegistryRepo(tx).get_community(appeal.community_id)
        assert community is not None
        return appeal, community

    async def _as_handler(self, tx: Tx, appeal_id: int, actor: UserInfo) -> tuple[Appeal, Community]:
        appeal, community = await self._load(tx, appeal_id)
        if not await can_act(tx, appeal, community, actor.id):
            raise PermissionDenied("error.not_your_appeal", id=appeal_id)
        if not appeal.status.is_open:
            raise Conflict("error.appeal_not_open", id=appeal_id, status_key=f"status.{appeal.status.value}")
        return appeal, community

    async def _first_reply(self, tx: Tx, appeal: Appeal, now: datetime) -> dict[str, object]:
        return {} if appeal.first_reply_at else {"first_reply_at": now}

    # --- assignee actions --------------------------------------------------------------------------
    async def take(self, actor: UserInfo, appeal_id: int, *, in_chat: int | None = None) -> Outcome:
        """The actor takes a new appeal. Pressed in the staff (street) chat that holds the appeal, the
        whole chat is told who took it (queued: the answer is that message)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            appeal, community = await self._as_handler(tx, appeal_id, actor)
            if appeal.status != Status.NEW:
                raise Conflict("error.already_taken", id=appeal_id)
            repo = AppealsRepo(tx)
            await repo.update(
                appeal,
                now,
                status=Status.IN_PROGRESS,
                assignee_user_id=actor.id,
                **await self._first_reply(tx, appeal, now),
            )
            await repo.add_event(appeal.id, now, actor.id, "taken", appeal.level)
            await self._cancel_kind(tx, appeal.id, now, DeadlineKind.FIRST_REPLY)
            await self.queue(
                tx,
                Notice(
                    appeal.resident_id,
                    "resident.taken",
                    {"id": appeal.id},
                    user_id=appeal.resident_id,
                    appeal_id=appeal.id,
                    dedupe_key=f"taken:{appeal.id}:{appeal.stage}",
                ),
                community,
                now,
            )
            await apply_appeal_rules(tx, appeal.id, now)
            fresh = await repo.get(appeal.id)
            assert fresh is not None
            due = fmt_local(fresh.due_at, community)
            if in_chat is not None and in_chat == self.chat_of_level(fresh, community):
                await self.queue(
                    tx,
                    Notice(
                        in_chat,
                        "heads.staff_taken",
                        {"id": appeal.id, "name": actor.display, "due": due},
                        buttons=action_buttons(fresh.id, fresh.status),
                        appeal_id=appeal.id,  # a reply to this message answers the resident too
                        urgent=True,
                        dedupe_key=f"staff-taken:{appeal.id}:{fresh.stage}",
                    ),
                    community,
                    now,
                )
                return Outcome("heads.staff_taken", fresh, {"id": appeal.id}, queued=True)
        return Outcome("done.taken", fresh, {"id": appeal.id, "due": due})

    @staticmethod
    def chat_of_level(appeal: Appeal, community: Community) -> int | None:
        """The group chat that holds the appeal at its level (staff or street chat); None below."""
        return level_chat(community, appeal.level) if appeal.level >= Level.COMMUNITY else None

    async def check_may_act(self, actor: UserInfo, appeal_id: int) -> Appeal:
        """Refuses (DomainError) unless ``actor`` may act on the open appeal now."""
        async with self.db.read() as tx:
            appeal, _ = await self._as_handler(tx, appeal_id, actor)
        return appeal

    async def begin(self, actor: UserInfo, appeal_id: int, kind: ActionKind) -> Outcome:
        """Reply / ask / resolve: the actor's next private message completes it. The prompt goes
        through the outbox in the same transaction as the action, so a crash cannot leave an action
        nobody was told about; the action takes a message only once its prompt was delivered, and
        it expires after ``ACTION_TTL``."""
        now = self.clock.now()
        async with self.db.write() as tx:
            appeal, community = await self._as_handler(tx, appeal_id, actor)
            await RegistryRepo(tx).upsert_user(actor, now, started=True)
            prompt_key = f"prompt:{actor.id}:{appeal.id}:{kind.value}:{secrets.token_hex(4)}"
            await ConversationsRepo(tx).put_action(
                actor.id, kind, appeal.id, now, prompt_key=prompt_key, expires=now + ACTION_TTL
            )
            await self.queue(
                tx,
                Notice(
                    actor.id,
                    f"prompt.{kind.value}",
                    {"id": appeal.id},
                    user_id=actor.id,
                    appeal_id=appeal.id,
                    urgent=True,  # the person is waiting for it
                    dedupe_key=prompt_key,
                ),
                community,
                now,
            )
        return Outcome(f"prompt.{kind.value}", appeal, {"id": appeal.id}, queued=True)

    async def pending_action(self, user_id: int) -> ActionKind | None:
        async with self.db.read() as tx:
            action = await live_action(tx, user_id, self.clock.now())
        return action.kind if action else None

    async def complete(self, actor: UserInfo, content: Content) -> Outcome | None:
        """Finish the actor's pending action with ``content``; None when there is none (or it
        expired, or its prompt was never delivered)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            conv = ConversationsRepo(tx)
            action = await live_action(tx, actor.id, now)
            if action is None:
                stale = await conv.get_action(actor.id)
                if stale is not None and expired(stale, now):
                    await conv.drop_action(actor.id)  # expired: gone for good
                return None
            await conv.drop_action(actor.id)
            appeal, community = await self._as_handler(tx, action.appeal_id, actor)
            text = content.text.strip()[:NOTE_MAX]
            if not text and not content.is_media:
                raise InvalidInput("error.empty_message")
            if action.kind == ActionKind.REPLY:
                outcome = await self._relay_to_resident(tx, appeal, community, actor, content, now, "reply")
            elif action.kind == ActionKind.ASK:
                outcome = await self._ask(tx, appeal, community, actor, content, now)
            else:
                outcome = await self._resolve(tx, appeal, community, actor, content, now)
            group = self.chat_of_level(appeal, community)
            if group is not None and outcome.key != "heads.reply_undelivered":
                # written privately by a staff member: their chat learns who answered
                notice = Notice(
                    group,
                    "heads.staff_answered",
                    {"id": appeal.id, "name": actor.display},
                    appeal_id=appeal.id,
                    urgent=True,
                    dedupe_key=f"staff-answered:{content.chat_id}:{content.message_id}",
                )
                await self.queue(tx, notice, community, now)
            return outcome

    async def _relay_to_resident(
        self,
        tx: Tx,
        appeal: Appeal,
        community: Community,
        actor: UserInfo,
        content: Content,
        now: datetime,
        kind: str,
    ) -> Outcome:
        repo = AppealsRepo(tx)
        changes = await self._first_reply(tx, appeal, now)
        if appeal.status == Status.NEW:
            changes.update(status=Status.IN_PROGRESS, assignee_user_id=actor.id)
        if changes:
            await repo.update(appeal, now, **changes)
            await self._cancel_kind(tx, appeal.id, now, DeadlineKind.FIRST_REPLY)
        await repo.add_event(appeal.id, now, actor.id, kind, appeal.level, {"text": content.text[:500]})
        undeliverable = await RegistryRepo(tx).known_unreachable(appeal.resident_id)
        if not undeliverable:  # Telegram refuses messages to a resident who blocked the bot
            await self._relay(
                tx,
                community,
                appeal,
                appeal.resident_id,
                f"resident.{kind}",
                content,
                now,
                {
                    "id": appeal.id,
                    "text": content.text.strip() or "-",
                    "level_key": f"level.{appeal.level.name.lower()}",
                },
            )
        await apply_appeal_rules(tx, appeal.id, now)
        fresh = await repo.get(appeal.id)
        assert fresh is not None
        if undeliverable:
            return Outcome("heads.reply_undelivered", fresh, {"id": appeal.id})
        return Outcome(f"done.{kind}", fresh, {"id": appeal.id})

    async def _ask(
        self, tx: Tx, appeal: Appeal, community: Community, actor: UserInfo, content: Content, now: datetime
    ) -> Outcome:
        cal = await self.calendars.for_community(tx, community)
        remaining = int(cal.working_seconds_between(now, appeal.due_at)) if appeal.due_at else 0
        repo = AppealsRepo(tx)
        await repo.update(
            appeal,
            now,
            status=Status.WAITING,
            remaining_seconds=max(remaining, 0),
            assignee_user_id=appeal.assignee_user_id or actor.id,
            **await self._first_reply(tx, appeal, now),
        )
        await repo.cancel_deadlines(appeal.id, now, "paused")
        await repo.add_event(appeal.id, now, actor.id, "asked", appeal.level, {"text": content.text[:500]})
        await self._relay(
            tx,
            community,
            appeal,
            appeal.resident_id,
            "resident.question",
            content,
            now,
            {"id": appeal.id, "text": content.text.strip() or "-"},
        )
        await apply_appeal_rules(tx, appeal.id, now)
        fresh = await repo.get(appeal.id)
        assert fresh is not None
        return Outcome("done.asked", fresh, {"id": appeal.id})

    async def _resolve(
        self, tx: Tx, appeal: Appeal, community: Community, actor: UserInfo, content: Content, now: datetime
    ) -> Outcome:
        sla = SlaSettings.from_settings(community.settings)
        cal = await self.calendars.for_community(tx, community)
        repo = AppealsRepo(tx)
        if appeal.status == Status.WAITING and appeal.remaining_seconds is not None:
            on_time = appeal.remaining_seconds > 0  # the clock is paused: on time if working time was left
        else:
            on_time = appeal.due_at is None or now <= appeal.due_at
        await repo.update(
            appeal,
            now,
            status=Status.RESOLVED,
            resolved_at=now,
            remaining_seconds=None,
            assignee_user_id=appeal.assignee_user_id or actor.id,
            **await self._first_reply(tx, appeal, now),
        )
        await repo.cancel_deadlines(appeal.id, now, "resolved")
        await repo.add_deadline(appeal.id, DeadlineKind.AUTOCLOSE, appeal.stage + 1, sla.confirm_deadline(cal, now))
        await repo.add_event(
            appeal.id, now, actor.id, "resolved", appeal.level, {"note": content.text[:500], "on_time": on_time}
        )
        await self._relay(
            tx,
            community,
            appeal,
            appeal.resident_id,
            "resident.resolved",
            content,
            now,
            {"id": appeal.id, "text": content.text.strip() or "-", "days": _num(sla.confirm_days)},
            buttons=((_btn("btn.confirm", f"a:ok:{appeal.id}"), _btn("btn.reopen", f"a:re:{appeal.id}")),),
        )
        await apply_appeal_rules(tx, appeal.id, now)
        fresh = await repo.get(appeal.id)
        assert fresh is not None
        return Outcome("done.resolved", fresh, {"id": appeal.id})

    async def escalate_now(self, actor: UserInfo, appeal_id: int) -> Outcome:
        now = self.clock.now()
        async with self.db.write() as tx:
            appeal, community = await self._as_handler(tx, appeal_id, actor)
            moved = await self.escalate(tx, appeal, community, now, actor_id=actor.id, reason="by_hand")
            if moved is None:
                raise Conflict("error.top_level", id=appeal_id)
        return Outcome("done.escalated", moved, {"id": appeal_id, "level_key": f"level.{moved.level.name.lower()}"})

    # --- escalation (also used by the sweeper and delivery; the rules are in bot.services.escalation) --
    async def escalate(
        self, tx: Tx, appeal: Appeal, community: Community, now: datetime, *, actor_id: int | None, reason: str
    ) -> Appeal | None:
        """Move the appeal one level up the chain; None when it is already at the top."""
        return await escalate(self, tx, appeal, community, now, actor_id=actor_id, reason=reason)

    # --- helpers (ResidentService, OutboxService and the Sweeper use them too) ---------------------
    async def _level_chat(self, community: Community, level: Level) -> int:
        return level_chat(community, level)

    async def _cancel_kind(self, tx: Tx, appeal_id: int, now: datetime, kind: DeadlineKind) -> None:
        await AppealsRepo(tx).finish_deadlines_of_kind(appeal_id, kind.value, now, "answered")

    async def _relay(
        self,
        tx: Tx,
        community: Community,
        appeal: Appeal,
        chat_id: int,
        template: str,
        content: Content,
        now: datetime,
        params: dict[str, object],
        *,
        buttons: tuple[tuple[Button, ...], ...] = (),
        user_id: int | None = None,
    ) -> None:
        """A person's own words, passed on at once (not a reminder: quiet hours don't hold them back)."""
        person = user_id if user_id is not None else (chat_id if chat_id > 0 else None)
        key = f"relay:{content.chat_id}:{content.message_id}"
        await self.queue(
            tx,
            Notice(
                chat_id,
                template,
                {**params, "from_chat": content.chat_id},  # who is told if it cannot be delivered
                buttons=buttons,
                user_id=person,
                appeal_id=appeal.id,
                urgent=True,
                dedupe_key=key,
            ),
            community,
            now,
        )
        if content.is_media:
            await self.queue(
                tx,
                Notice(
                    chat_id,
                    "appeal.media",
                    {"id": appeal.id},
                    user_id=person,
                    appeal_id=appeal.id,
                    copy_from=(content.chat_id, content.message_id),
                    urgent=True,
                    dedupe_key=key + ":media",
                ),
                community,
                now,
            )
        await AppealsRepo(tx).link_message(content.chat_id, content.message_id, appeal.id)


def _btn(label: str, data: str) -> Button:
    return Button(label, data=data)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
