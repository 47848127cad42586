"""The outbox's domain side: claim due messages, record what happened when sending them.

The actual sending is Telegram's business (``handlers.outbox_sender``); this module only decides what a
result means: sent, retry later (429 / network), chat moved, or a person who cannot be reached —
then the appeal's next level is told instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from bot.models import Level, Notice, Status
from bot.services.base import ServiceBase
from bot.services.workflow import WorkflowService
from storage.appeals import AppealsRepo
from storage.outbox import OutboxItem, OutboxRepo
from storage.registry import RegistryRepo

LEASE = timedelta(seconds=60)
CANDIDATES_PER_SLOT = 4  # due rows read per message claimed (a chat's later messages are skipped)
#: A handler's own words to the resident (reply, question, resolution note).
RELAYS_TO_RESIDENT = frozenset({"resident.reply", "resident.question", "resident.resolved"})
MAX_ATTEMPTS = 8


class OutboxService(ServiceBase):
    def __init__(self, workflow: WorkflowService) -> None:
        super().__init__(workflow.db, workflow.clock, workflow.calendars)
        self.workflow = workflow

    async def claim(
        self,
        limit: int = 25,
        *,
        exclude: Collection[int] = (),
        accept: Callable[[int], bool] | None = None,
    ) -> list[OutboxItem]:
        """Claim up to ``limit`` due messages, most urgent first, at most one per chat (a chat's
        messages go one after another, in order). ``exclude``: chats to leave out (their sending
        budget is spent); ``accept(chat_id)``: asked for each candidate chat in order, takes its
        budget when it says yes (a chat it refuses is skipped this round, its messages stay due)."""
        token = secrets.token_hex(8)
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = OutboxRepo(tx)
            candidates = await repo.due(now, limit * CANDIDATES_PER_SLOT, exclude)
            chosen: list[int] = []
            seen: set[int] = set()
            for message in candidates:
                if message.chat_id in seen:
                    continue
                seen.add(message.chat_id)
                if accept is None or accept(message.chat_id):
                    chosen.append(message.id)
                    if len(chosen) >= limit:
                        break
            return await repo.take(chosen, now, token, LEASE)

    async def flood(self, item: OutboxItem, after: timedelta) -> None:
        """Telegram's flood control on this message's chat: it and the chat's other pending messages
        wait ``after`` (the other chats are not held up)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = OutboxRepo(tx)
            await repo.retry_at(item.id, now + after, "429")
            await repo.defer_chat(item.chat_id, now + after)

    async def sent(self, item: OutboxItem, message_id: int | None) -> None:
        now = self.clock.now()
        async with self.db.write() as tx:
            await OutboxRepo(tx).mark_sent(item.id, now)
            if item.appeal_id is not None and message_id is not None:
                await AppealsRepo(tx).link_message(item.chat_id, message_id, item.appeal_id)

    async def part_sent(self, item: OutboxItem, parts: int) -> None:
        """``parts`` parts of a multi-part message went out: a retry continues after them."""
        async with self.db.write() as tx:
            await OutboxRepo(tx).mark_parts_sent(item.id, parts)

    async def retry(self, item: OutboxItem, after: timedelta, error: str) -> None:
        now = self.clock.now()
        async with self.db.write() as tx:
            if item.attempts >= MAX_ATTEMPTS:
                await OutboxRepo(tx).mark_failed(item.id, now, error)
            else:
                await OutboxRepo(tx).retry_at(item.id, now + after, error)

    async def chat_moved(self, item: OutboxItem, new_chat_id: int) -> None:
        async with self.db.write() as tx:
            await RegistryRepo(tx).migrate_chat(item.chat_id, new_chat_id)
            await OutboxRepo(tx).retry_at(item.id, self.clock.now(), "chat migrated")

    async def unreachable(self, item: OutboxItem, error: str) -> None:
        """403: blocked, never started, or removed from the chat. Record it; if the person was the
        appeal's handler, the appeal goes up a level at once so the next level is informed."""
        now = self.clock.now()
        async with self.db.write() as tx:
            await OutboxRepo(tx).mark_failed(item.id, now, error)
            if item.user_id is None:
                return
            await RegistryRepo(tx).mark_unreachable(item.user_id, now)
            if item.appeal_id is None:
                return
            appeals = AppealsRepo(tx)
            appeal = await appeals.get(item.appeal_id)
            if appeal is None or not appeal.status.is_open:
                return
            community = await RegistryRepo(tx).get_community(appeal.community_id)
            assert community is not None
            if appeal.assignee_user_id == item.user_id and appeal.level < Level.COMMUNITY:
                await self.workflow.escalate(tx, appeal, community, now, actor_id=None, reason="unreachable")
            elif appeal.assignee_user_id == item.user_id:
                # a staff (street) member took it but cannot be messaged privately: their chat gets it
                chat = await self.workflow._level_chat(community, appeal.level)
                await OutboxRepo(tx).add(
                    Notice(chat, item.template, item.params, appeal_id=appeal.id, dedupe_key=f"fallback:{item.id}"),
                    community_id=community.id,
                    now=now,
                    not_before=now,
                )
            elif appeal.resident_id == item.user_id:
                await appeals.add_event(appeal.id, now, None, "resident_unreachable", appeal.level)
                source = item.params.get("from_chat")
                if item.template in RELAYS_TO_RESIDENT and isinstance(source, int) and source != item.chat_id:
                    # whoever wrote it (a head in private, staff in their chat) learns it did not arrive
                    await self.queue(
                        tx,
                        Notice(
                            source,
                            "heads.reply_undelivered",
                            {"id": appeal.id},
                            user_id=source if source > 0 else None,
                            appeal_id=appeal.id,
                            urgent=True,
                            dedupe_key=f"undelivered:{item.id}",
                        ),
                        community,
                        now,
                    )
                elif appeal.status != Status.CLOSED:
                    chat = appeal.assignee_user_id or community.staff_chat_id
                    await self.queue(
                        tx,
                        Notice(
                            chat,
                            "appeal.resident_unreachable",
                            {"id": appeal.id},
                            user_id=appeal.assignee_user_id,
                            dedupe_key=f"unreach:{appeal.id}:{appeal.stage}",
                        ),
                        community,
                        now,
                    )

    async def next_due(self) -> datetime | None:
        async with self.db.read() as tx:
            ts = await OutboxRepo(tx).next_due()
        from bot.clock import from_ts

        return None if ts is None else from_ts(ts)

    async def pending(self) -> int:
        async with self.db.read() as tx:
            return await OutboxRepo(tx).pending_count()

    def now(self) -> datetime:
        return self.clock.now()
