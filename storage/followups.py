"""What the heads' workflow needs to know about messages after they were queued: whether an appeal's
card (or a prompt) reached its reader and when, and which staff-chat card an appeal has."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_ts
from storage.db import Tx


@dataclass(frozen=True)
class Delivery:
    """The fate of one queued message (found by its dedupe key)."""

    sent_at: datetime | None
    failed: bool

    @property
    def pending(self) -> bool:
        return self.sent_at is None and not self.failed


class FollowUpsRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def delivery(self, dedupe_key: str) -> Delivery | None:
        """None when no message with that key was ever queued."""
        row = await self.tx.fetchone("SELECT sent_at, failed_at FROM outbox WHERE dedupe_key = ?", (dedupe_key,))
        if row is None:
            return None
        return Delivery(
            sent_at=from_ts(row["sent_at"]) if row["sent_at"] is not None else None,
            failed=row["failed_at"] is not None,
        )

    async def linked_messages(self, appeal_id: int, chat_id: int) -> list[int]:
        """The bot's messages of this appeal in one chat (cards, reminders), oldest first."""
        rows = await self.tx.fetchall(
            "SELECT message_id FROM message_links WHERE appeal_id = ? AND chat_id = ? ORDER BY message_id",
            (appeal_id, chat_id),
        )
        return [int(r["message_id"]) for r in rows]
