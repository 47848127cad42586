"""Outbox repository: messages to people, claimed and sent by the outbox sender (handlers.outbox_sender)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import to_ts
from bot.models import Button, Notice, Priority
from storage.db import Tx


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    user_id: int | None
    community_id: int | None
    appeal_id: int | None
    template: str
    params: dict[str, Any]
    buttons: list[list[dict[str, Any]]]
    copy_from_chat: int | None
    copy_message_id: int | None
    attempts: int
    lang: str | None = None  # the recipient's own choice (/lang), else their Telegram language
    community_lang: str | None = None  # the language of the community the message is about
    parts_sent: int = 0  # parts of a multi-part message Telegram already accepted
    priority: int = 1  # 0 a person waits for it, 1 personal / appeal pings, 2 bulk fan-outs


@dataclass(frozen=True)
class DueMessage:
    """A candidate of the claim: which chat a due message goes to (the sender checks its budget)."""

    id: int
    chat_id: int


def _buttons_json(rows: tuple[tuple[Button, ...], ...]) -> str:
    return json.dumps(
        [
            [{k: v for k, v in (("l", b.label), ("d", b.data), ("u", b.url), ("p", b.params)) if v} for b in row]
            for row in rows
        ],
        ensure_ascii=False,
    )


class OutboxRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def add(self, notice: Notice, *, community_id: int | None, now: datetime, not_before: datetime) -> bool:
        """Queue a message; False when one with the same dedupe key exists already."""
        priority = Priority.NOW if notice.urgent else notice.priority
        count = await self.tx.execute(
            "INSERT INTO outbox (chat_id, user_id, community_id, appeal_id, template, params, buttons,"
            " copy_from_chat, copy_message_id, dedupe_key, not_before, created_at, priority)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
            (
                notice.chat_id,
                notice.user_id,
                community_id,
                notice.appeal_id,
                notice.template,
                json.dumps(notice.params, ensure_ascii=False, default=str),
                _buttons_json(notice.buttons),
                notice.copy_from[0] if notice.copy_from else None,
                notice.copy_from[1] if notice.copy_from else None,
                notice.dedupe_key,
                to_ts(not_before),
                to_ts(now),
                int(priority),
            ),
        )
        return count == 1

    async def due(self, now: datetime, limit: int, exclude: Collection[int] = ()) -> list[DueMessage]:
        """Due, unclaimed messages, most urgent first (priority, then not_before), leaving out the
        chats in ``exclude`` (those whose sending budget is spent: their messages stay due, and the
        claim does not hand them again ahead of others). Rows are locked on PostgreSQL
        (``lock_clause``) until the claiming transaction ends, so two processes take disjoint sets."""
        chats = list(exclude)
        skip = f" AND chat_id NOT IN ({', '.join('?' for _ in chats)})" if chats else ""
        rows = await self.tx.fetchall(
            "SELECT id, chat_id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND not_before <= ?"  # noqa: S608
            f" AND (claimed_until IS NULL OR claimed_until < ?){skip} ORDER BY priority, not_before, id LIMIT ?"
            + self.tx.lock_clause(),
            (to_ts(now), to_ts(now), *chats, limit),
        )
        return [DueMessage(r["id"], r["chat_id"]) for r in rows]

    async def take(self, ids: list[int], now: datetime, token: str, lease: timedelta) -> list[OutboxItem]:
        """Claim the messages ``ids`` (chosen from :meth:`due` in the same transaction) for ``lease``."""
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        await self.tx.execute(
            f"UPDATE outbox SET claim_token = ?, claimed_until = ?, attempts = attempts + 1 WHERE id IN ({marks})",  # noqa: S608
            (token, to_ts(now + lease), *ids),
        )
        return await self._claimed(token)

    async def claim(self, now: datetime, token: str, limit: int, lease: timedelta) -> list[OutboxItem]:
        """The first ``limit`` due messages, whatever their chats (see :meth:`due` and :meth:`take`)."""
        return await self.take([m.id for m in await self.due(now, limit)], now, token, lease)

    async def _claimed(self, token: str) -> list[OutboxItem]:
        # the recipient's language comes along: their choice, their Telegram language, the community's
        rows = await self.tx.fetchall(
            "SELECT o.*, COALESCE(u.lang_override, u.language_code) AS lang, c.language AS community_lang FROM outbox o"
            " LEFT JOIN users u ON u.id = o.user_id LEFT JOIN communities c ON c.id = o.community_id"
            " WHERE o.claim_token = ? AND o.sent_at IS NULL AND o.failed_at IS NULL ORDER BY o.id",
            (token,),
        )
        return [
            OutboxItem(
                id=r["id"],
                chat_id=r["chat_id"],
                user_id=r["user_id"],
                community_id=r["community_id"],
                appeal_id=r["appeal_id"],
                template=r["template"],
                params=json.loads(r["params"]),
                buttons=json.loads(r["buttons"]),
                copy_from_chat=r["copy_from_chat"],
                copy_message_id=r["copy_message_id"],
                attempts=r["attempts"],
                lang=r["lang"],
                community_lang=r["community_lang"],
                parts_sent=r["parts_sent"],
                priority=r["priority"],
            )
            for r in rows
        ]

    async def defer_chat(self, chat_id: int, when: datetime) -> int:
        """Flood control on one chat: its pending messages wait until ``when`` (others are not touched)."""
        return await self.tx.execute(
            "UPDATE outbox SET not_before = ? WHERE chat_id = ? AND sent_at IS NULL AND failed_at IS NULL"
            " AND not_before < ?",
            (to_ts(when), chat_id, to_ts(when)),
        )

    async def mark_sent(self, item_id: int, now: datetime) -> None:
        await self.tx.execute("UPDATE outbox SET sent_at = ?, claim_token = NULL WHERE id = ?", (to_ts(now), item_id))

    async def mark_parts_sent(self, item_id: int, parts: int) -> None:
        await self.tx.execute("UPDATE outbox SET parts_sent = ? WHERE id = ?", (parts, item_id))

    async def retry_at(self, item_id: int, when: datetime, error: str) -> None:
        await self.tx.execute(
            "UPDATE outbox SET not_before = ?, claim_token = NULL, claimed_until = NULL, error = ? WHERE id = ?",
            (to_ts(when), error[:500], item_id),
        )

    async def mark_failed(self, item_id: int, now: datetime, error: str) -> None:
        await self.tx.execute(
            "UPDATE outbox SET failed_at = ?, claim_token = NULL, error = ? WHERE id = ?",
            (to_ts(now), error[:500], item_id),
        )

    async def next_due(self) -> int | None:
        value = await self.tx.fetchval("SELECT MIN(not_before) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")
        return None if value is None else int(value)

    async def pending_count(self) -> int:
        return int(await self.tx.fetchval("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"))
