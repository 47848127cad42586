"""Notices and tasks with read receipts (issue 12): the notice, its recipients (one row each, whose
state is their answer) and its due moments (rows swept like the appeals' deadlines)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_ts, from_ts_opt, to_ts
from storage.db import Row, Tx


@dataclass(frozen=True)
class NoticeRecord:
    id: int
    community_id: int
    building_id: int | None
    sender_id: int
    origin_chat_id: int
    kind: str  # notice | task | urgent
    body: str
    due_at: datetime | None
    attach_chat_id: int | None
    attach_message_id: int | None
    scope: str | None
    chosen: tuple[int, ...]
    status: str  # draft | sent | cancelled
    status_chat_id: int | None
    status_message_id: int | None
    counts_changed_at: int | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class Recipient:
    chat_id: int
    building_id: int | None


@dataclass(frozen=True)
class PendingRecipient:
    chat_id: int
    building_id: int | None
    name: str
    unreachable: bool = False  # Telegram refused to deliver to them (blocked the bot, never started it)


def _notice(r: Row) -> NoticeRecord:
    return NoticeRecord(
        id=r["id"],
        community_id=r["community_id"],
        building_id=r["building_id"],
        sender_id=r["sender_id"],
        origin_chat_id=r["origin_chat_id"],
        kind=r["kind"],
        body=r["body"],
        due_at=from_ts_opt(r["due_at"]),
        attach_chat_id=r["attach_chat_id"],
        attach_message_id=r["attach_message_id"],
        scope=r["scope"],
        chosen=tuple(int(b) for b in json.loads(r["chosen"])),
        status=r["status"],
        status_chat_id=r["status_chat_id"],
        status_message_id=r["status_message_id"],
        counts_changed_at=r["counts_changed_at"],
        created_at=from_ts(r["created_at"]),
        sent_at=from_ts_opt(r["sent_at"]),
    )


class NoticesRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    # --- the notice -----------------------------------------------------------------------------
    async def create(
        self,
        *,
        community_id: int,
        building_id: int | None,
        sender_id: int,
        origin_chat_id: int,
        kind: str,
        body: str,
        due_at: datetime | None,
        attachment: tuple[int, int] | None,
        now: datetime,
    ) -> int:
        return await self.tx.insert(
            "INSERT INTO notices (community_id, building_id, sender_id, origin_chat_id, kind, body, due_at,"
            " attach_chat_id, attach_message_id, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'draft', ?)"
            " RETURNING id",
            (
                community_id,
                building_id,
                sender_id,
                origin_chat_id,
                kind,
                body,
                None if due_at is None else to_ts(due_at),
                attachment[0] if attachment else None,
                attachment[1] if attachment else None,
                to_ts(now),
            ),
        )

    async def get(self, notice_id: int) -> NoticeRecord | None:
        row = await self.tx.fetchone("SELECT * FROM notices WHERE id = ?", (notice_id,))
        return _notice(row) if row else None

    async def set_chosen(self, notice_id: int, chosen: Sequence[int]) -> None:
        await self.tx.execute(
            "UPDATE notices SET chosen = ? WHERE id = ? AND status = 'draft'", (json.dumps(list(chosen)), notice_id)
        )

    async def mark_sent(self, notice_id: int, scope: str, status_chat: int, status_message: int, now: datetime) -> bool:
        """Draft -> sent, once: False when another press sent (or cancelled) it first."""
        count = await self.tx.execute(
            "UPDATE notices SET status = 'sent', scope = ?, status_chat_id = ?, status_message_id = ?, sent_at = ?"
            " WHERE id = ? AND status = 'draft'",
            (scope, status_chat, status_message, to_ts(now), notice_id),
        )
        return count == 1

    async def cancel(self, notice_id: int) -> bool:
        count = await self.tx.execute(
            "UPDATE notices SET status = 'cancelled' WHERE id = ? AND status = 'draft'", (notice_id,)
        )
        return count == 1

    async def counts_changed(self, notice_id: int, now: datetime) -> None:
        await self.tx.execute(
            "UPDATE notices SET counts_changed_at = ? WHERE id = ? AND counts_changed_at IS NULL",
            (to_ts(now), notice_id),
        )

    async def status_edits_due(
        self, changed_before: datetime, shown_before: datetime, limit: int
    ) -> list[NoticeRecord]:
        """Notices whose counts changed at least a moment ago and whose status message was not
        edited within the debounce interval (partial index: only changed notices are read)."""
        rows = await self.tx.fetchall(
            "SELECT * FROM notices WHERE counts_changed_at IS NOT NULL AND counts_changed_at <= ?"
            " AND (counts_shown_at IS NULL OR counts_shown_at <= ?) ORDER BY counts_changed_at LIMIT ?",
            (to_ts(changed_before), to_ts(shown_before), limit),
        )
        return [_notice(r) for r in rows]

    async def counts_shown(self, notice_id: int, changed_at: int, now: datetime) -> None:
        """The status message now shows the counts as of ``changed_at``; an answer that came since
        keeps the notice marked (it is edited again after the debounce)."""
        await self.tx.execute(
            "UPDATE notices SET counts_shown_at = ?, counts_changed_at = CASE WHEN counts_changed_at = ?"
            " THEN NULL ELSE counts_changed_at END WHERE id = ?",
            (to_ts(now), changed_at, notice_id),
        )

    # --- recipients -----------------------------------------------------------------------------
    async def add_recipients(self, notice_id: int, recipients: Sequence[Recipient], state: str) -> None:
        await self.tx.executemany(
            "INSERT INTO notice_recipients (notice_id, chat_id, building_id, state) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (notice_id, chat_id) DO NOTHING",
            [(notice_id, r.chat_id, r.building_id, state) for r in recipients],
        )

    async def recipient_state(self, notice_id: int, chat_id: int) -> str | None:
        value = await self.tx.fetchval(
            "SELECT state FROM notice_recipients WHERE notice_id = ? AND chat_id = ?", (notice_id, chat_id)
        )
        return None if value is None else str(value)

    async def answer(self, notice_id: int, chat_id: int, state: str, now: datetime) -> bool:
        """Record an answer; False when it was already this one (a double tap changes nothing)."""
        count = await self.tx.execute(
            "UPDATE notice_recipients SET state = ?, answered_at = ? WHERE notice_id = ? AND chat_id = ?"
            " AND state <> ? AND state <> 'posted'",
            (state, to_ts(now), notice_id, chat_id, state),
        )
        return count == 1

    async def counts(self, notice_id: int) -> dict[str, int]:
        rows = await self.tx.fetchall(
            "SELECT state, COUNT(*) AS n FROM notice_recipients WHERE notice_id = ? GROUP BY state", (notice_id,)
        )
        return {r["state"]: int(r["n"]) for r in rows}

    async def pending(self, notice_id: int, limit: int, building_id: int | None = None) -> list[PendingRecipient]:
        """Who has not answered (with their names), by building and name."""
        where = " AND r.building_id = ?" if building_id is not None else ""
        params: tuple[int, ...] = (notice_id,) + ((building_id,) if building_id is not None else ())
        rows = await self.tx.fetchall(
            "SELECT r.chat_id, r.building_id, COALESCE(u.first_name, '') AS first_name, u.last_name,"  # noqa: S608
            " u.username, u.unreachable_since"
            " FROM notice_recipients r LEFT JOIN users u ON u.id = r.chat_id"
            f" WHERE r.notice_id = ? AND r.state = 'pending'{where} ORDER BY r.building_id, r.chat_id LIMIT ?",
            (*params, limit),
        )
        out = []
        for r in rows:
            name = " ".join(p for p in (r["first_name"], r["last_name"]) if p).strip()
            unreachable = r["unreachable_since"] is not None
            out.append(PendingRecipient(r["chat_id"], r["building_id"], name or str(r["chat_id"]), unreachable))
        return out

    async def still_queued(self, notice_id: int) -> set[int]:
        """The chats that still have a message of this notice waiting in the outbox (reads only what
        is unsent: the partial index of due messages, whatever the history)."""
        rows = await self.tx.fetchall(
            "SELECT DISTINCT chat_id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND dedupe_key LIKE ?",
            (f"nt:{notice_id}:%",),
        )
        return {int(r["chat_id"]) for r in rows}

    # --- who the scopes reach -------------------------------------------------------------------
    async def unit_heads(self, community_id: int, building_ids: Sequence[int] | None) -> list[Recipient]:
        """The unit heads of the community's active buildings (or of ``building_ids``), one row per person."""
        where = ""
        params: list[int] = [community_id]
        if building_ids is not None:
            if not building_ids:
                return []
            where = " AND b.id IN (" + ", ".join("?" for _ in building_ids) + ")"
            params.extend(building_ids)
        rows = await self.tx.fetchall(
            "SELECT u.head_user_id AS chat_id, MIN(b.id) AS building_id"  # noqa: S608
            " FROM units u JOIN buildings b ON b.id = u.building_id"
            f" WHERE b.community_id = ? AND b.active = 1 AND u.head_user_id IS NOT NULL{where}"
            " GROUP BY u.head_user_id ORDER BY MIN(b.id), u.head_user_id",
            tuple(params),
        )
        return [Recipient(r["chat_id"], r["building_id"]) for r in rows]

    async def building_heads(self, community_id: int) -> list[Recipient]:
        rows = await self.tx.fetchall(
            "SELECT head_user_id AS chat_id, MIN(id) AS building_id FROM buildings"
            " WHERE community_id = ? AND active = 1 AND head_user_id IS NOT NULL"
            " GROUP BY head_user_id ORDER BY MIN(id)",
            (community_id,),
        )
        return [Recipient(r["chat_id"], r["building_id"]) for r in rows]

    async def building_chats(self, community_id: int, building_ids: Sequence[int] | None) -> list[Recipient]:
        where = ""
        params: list[int] = [community_id]
        if building_ids is not None:
            where = " AND id IN (" + ", ".join("?" for _ in building_ids) + ")" if building_ids else " AND 0 = 1"
            params.extend(building_ids)
        rows = await self.tx.fetchall(
            f"SELECT chat_id, id FROM buildings WHERE community_id = ? AND active = 1{where} ORDER BY id",  # noqa: S608
            tuple(params),
        )
        return [Recipient(r["chat_id"], r["id"]) for r in rows]

    # --- due moments ----------------------------------------------------------------------------
    async def schedule(self, notice_id: int, kind: str, due_at: datetime, seq: int = 0) -> None:
        await self.tx.execute(
            "INSERT INTO notice_deadlines (notice_id, kind, seq, due_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (notice_id, kind, seq) DO NOTHING",
            (notice_id, kind, seq, to_ts(due_at)),
        )

    async def claim_due(self, now: datetime, limit: int) -> list[Row]:
        return await self.tx.fetchall(
            "SELECT id, notice_id, kind, seq FROM notice_deadlines WHERE done_at IS NULL AND due_at <= ?"  # noqa: S608
            " ORDER BY due_at, id LIMIT ?" + self.tx.lock_clause(),
            (to_ts(now), limit),
        )

    async def finish(self, deadline_id: int, now: datetime, outcome: str) -> None:
        await self.tx.execute(
            "UPDATE notice_deadlines SET done_at = ?, outcome = ? WHERE id = ? AND done_at IS NULL",
            (to_ts(now), outcome, deadline_id),
        )
