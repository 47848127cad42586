"""The notices' due moments, fired by the periodic sweep (as the appeals' deadlines are): a reminder
to those who have not answered, the due date of a task (the sender and the building heads get the
lists), an urgent notice's re-ping every 15 minutes and its escalation to the building heads after
an hour.

Each batch is one immediate transaction (rows read, acted on and marked done together: a crash
redoes the batch, a second process takes other rows); each row runs in a SAVEPOINT, so one failing
notice is logged and marked, never blocking the others. Every message carries a dedupe key naming
the notice, the moment and the recipient, so nothing is sent twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from bot.models import Community, Notice, Priority
from bot.services.notices.rules import URGENT_REPING, URGENT_REPING_FOR, answer_buttons
from bot.services.notices.service import NoticeService, message_params
from storage.db import Row, Tx
from storage.notices import NoticeRecord, NoticesRepo, PendingRecipient
from storage.registry import RegistryRepo

log = logging.getLogger(__name__)
EVERYONE = 1_000_000  # the pending recipients of one notice read at once (a district has ~10,000 heads)


class NoticeSweep:
    def __init__(self, notices: NoticeService, batch: int = 100) -> None:
        self.notices = notices
        self.batch = batch

    async def tick(self) -> dict[str, int]:
        fired: dict[str, int] = {}
        now = self.notices.clock.now()
        while True:
            async with self.notices.db.write() as tx:
                rows = await NoticesRepo(tx).claim_due(now, self.batch)
                for row in rows:
                    try:
                        async with tx.savepoint("notice"):
                            outcome = await self._fire(tx, row, now)
                    except Exception:
                        log.exception("due moment %s of notice %s failed", row["id"], row["notice_id"])
                        outcome = "error"
                    await NoticesRepo(tx).finish(row["id"], now, outcome)
                    fired[outcome] = fired.get(outcome, 0) + 1
            if len(rows) < self.batch:
                return fired

    async def _fire(self, tx: Tx, row: Row, now: datetime) -> str:
        repo = NoticesRepo(tx)
        notice = await repo.get(row["notice_id"])
        if notice is None or notice.status != "sent":
            return "gone"
        community = await RegistryRepo(tx).get_community(notice.community_id)
        assert community is not None
        pending = await repo.pending(notice.id, EVERYONE)
        kind = row["kind"]
        if kind == "due":
            return await self._due(tx, notice, community, pending, now)
        if not pending:
            return "all_answered"
        if kind == "remind":
            await self._ping(tx, notice, community, pending, "notices.remind", "remind", now)
            return "reminded"
        if kind == "reping":
            seq = int(row["seq"])
            await self._ping(tx, notice, community, pending, "notices.reping", f"rp{seq}", now)
            sent_at = notice.sent_at or now
            if now + URGENT_REPING <= sent_at + URGENT_REPING_FOR:
                await repo.schedule(notice.id, "reping", now + URGENT_REPING, seq=seq + 1)
            return "repinged"
        if kind == "escalate":
            await self._to_building_heads(tx, notice, community, pending, "notices.escalated", "esc", now)
            return "escalated"
        return "unknown"

    async def _ping(
        self,
        tx: Tx,
        notice: NoticeRecord,
        community: Community,
        pending: list[PendingRecipient],
        key: str,
        moment_name: str,
        now: datetime,
    ) -> None:
        params = message_params(notice, community, await self.notices.sender_name(tx, notice, community))
        buttons = answer_buttons(notice.id, notice.kind)
        # a person whose earlier message of this notice is still queued (a fan-out longer than the
        # re-ping interval) gets nothing more now: that message has the buttons too; nor does one
        # Telegram cannot reach (they stay in the lists, and the building head is told)
        queued = await NoticesRepo(tx).still_queued(notice.id)
        for person in pending:
            if person.chat_id in queued or person.unreachable:
                continue
            dedupe = f"nt:{notice.id}:{moment_name}:{person.chat_id}"
            await self.notices.deliver(
                tx, notice, community, person.chat_id, key, params, buttons, dedupe, now, attach=False
            )

    async def _due(
        self, tx: Tx, notice: NoticeRecord, community: Community, pending: list[PendingRecipient], now: datetime
    ) -> str:
        """A task's due date: its sender gets who did not answer (or that everyone did), each building
        head the list of their building."""
        report = await self.notices.pending_reply(tx, notice, None)
        key = "notices.due_all_done" if not pending else "notices.due_report"
        params = {**report.params, "id": notice.id}
        sender = Notice(
            notice.sender_id, key, params, user_id=notice.sender_id, dedupe_key=f"nt:{notice.id}:due:sender"
        )
        await self.notices.queue(tx, sender, community, now)
        if pending:
            await self._to_building_heads(tx, notice, community, pending, "notices.due_building", "due", now)
        return "due_reported"

    async def _to_building_heads(
        self,
        tx: Tx,
        notice: NoticeRecord,
        community: Community,
        pending: list[PendingRecipient],
        key: str,
        moment_name: str,
        now: datetime,
    ) -> None:
        """Each building head gets the list of their building's people who have not answered (not
        themselves); the sender learns how many building heads were told."""
        by_building: dict[int, list[PendingRecipient]] = defaultdict(list)
        for person in pending:
            if person.building_id is not None:
                by_building[person.building_id].append(person)
        reg = RegistryRepo(tx)
        urgent = notice.kind == "urgent"
        told = 0
        for building_id, people in sorted(by_building.items()):
            building = await reg.get_building(building_id)
            if building is None or building.head_user_id is None:
                continue
            others = [p for p in people if p.chat_id != building.head_user_id]
            if not others:
                continue
            names = "\n".join(f"• {p.name}" for p in others[:50])
            params = {"id": notice.id, "building": building.title, "count": len(others), "names": names}
            head = building.head_user_id
            message = Notice(
                head,
                key,
                params,
                user_id=head,
                dedupe_key=f"nt:{notice.id}:{moment_name}:b{building_id}",
                priority=Priority.PERSONAL,
            )
            await self.notices.queue(tx, message, community, now, not_before=now if urgent else None)
            told += 1
        if urgent:
            params = {"id": notice.id, "count": len(pending), "heads": told}
            message = Notice(
                notice.sender_id,
                "notices.escalated_sender",
                params,
                user_id=notice.sender_id,
                dedupe_key=f"nt:{notice.id}:{moment_name}:sender",
            )
            await self.notices.queue(tx, message, community, now, not_before=now)
