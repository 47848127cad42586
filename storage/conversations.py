"""Conversation state kept in the database (drafts, pending actions, held messages), so a restart
in the middle of a conversation loses nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_ts, to_ts
from bot.models import ActionKind, Category
from storage.db import Tx


@dataclass(frozen=True)
class Draft:
    user_id: int
    building_id: int
    unit_id: int | None
    category: Category | None
    inbox_id: int | None
    created_at: datetime
    anonymous: bool = False


@dataclass(frozen=True)
class BuildingLookup:
    """A resident who wrote before the bot knew their building (see migration 0011)."""

    user_id: int
    inbox_id: int | None
    last_reason: str | None  # "ask" | "kept" | "miss": why the bot asked last time
    variant: int  # which wording it used

    def next_variant(self, reason: str) -> int:
        """The wording for ``reason`` now: another one than last time if the reason is the same."""
        return (self.variant + 1) % 2 if reason == self.last_reason else 0


@dataclass(frozen=True)
class PendingAction:
    user_id: int
    kind: ActionKind
    appeal_id: int
    created_at: datetime
    prompt_key: str | None = None  # the outbox key of its prompt (None: saved before migration 0012)
    expires_at: datetime | None = None


@dataclass(frozen=True)
class HeldMessage:
    id: int
    user_id: int
    chat_id: int
    message_id: int
    kind: str
    text: str | None
    file_id: str | None


class ConversationsRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def get_draft(self, user_id: int) -> Draft | None:
        row = await self.tx.fetchone("SELECT * FROM drafts WHERE user_id = ?", (user_id,))
        if row is None:
            return None
        return Draft(
            user_id=row["user_id"],
            building_id=row["building_id"],
            unit_id=row["unit_id"],
            category=Category(row["category"]) if row["category"] else None,
            inbox_id=row["inbox_id"],
            created_at=from_ts(row["created_at"]),
            anonymous=bool(row["anonymous"]),
        )

    async def put_draft(
        self,
        user_id: int,
        building_id: int,
        unit_id: int | None,
        category: Category | None,
        inbox_id: int | None,
        now: datetime,
        *,
        anonymous: bool = False,
    ) -> None:
        await self.tx.execute(
            "INSERT INTO drafts (user_id, building_id, unit_id, category, inbox_id, created_at, anonymous)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET building_id = excluded.building_id,"
            " unit_id = excluded.unit_id, category = excluded.category, inbox_id = excluded.inbox_id,"
            " created_at = excluded.created_at, anonymous = excluded.anonymous",
            (user_id, building_id, unit_id, category.value if category else None, inbox_id, to_ts(now), int(anonymous)),
        )

    async def drop_draft(self, user_id: int) -> None:
        await self.tx.execute("DELETE FROM drafts WHERE user_id = ?", (user_id,))

    # --- a resident whose building is not known yet --------------------------------------------
    async def get_lookup(self, user_id: int) -> BuildingLookup | None:
        row = await self.tx.fetchone("SELECT * FROM building_lookups WHERE user_id = ?", (user_id,))
        if row is None:
            return None
        return BuildingLookup(
            user_id=row["user_id"],
            inbox_id=row["inbox_id"],
            last_reason=row["last_reason"],
            variant=int(row["variant"]),
        )

    async def put_lookup(self, user_id: int, inbox_id: int | None, reason: str, variant: int, now: datetime) -> None:
        await self.tx.execute(
            "INSERT INTO building_lookups (user_id, inbox_id, last_reason, variant, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET inbox_id = excluded.inbox_id, last_reason = excluded.last_reason,"
            " variant = excluded.variant",
            (user_id, inbox_id, reason, variant, to_ts(now)),
        )

    async def drop_lookup(self, user_id: int) -> None:
        await self.tx.execute("DELETE FROM building_lookups WHERE user_id = ?", (user_id,))

    async def get_action(self, user_id: int) -> PendingAction | None:
        row = await self.tx.fetchone("SELECT * FROM pending_actions WHERE user_id = ?", (user_id,))
        if row is None:
            return None
        return PendingAction(
            user_id=row["user_id"],
            kind=ActionKind(row["kind"]),
            appeal_id=row["appeal_id"],
            created_at=from_ts(row["created_at"]),
            prompt_key=row["prompt_key"],
            expires_at=from_ts(row["expires_at"]) if row["expires_at"] is not None else None,
        )

    async def put_action(
        self,
        user_id: int,
        kind: ActionKind,
        appeal_id: int,
        now: datetime,
        *,
        prompt_key: str | None = None,
        expires: datetime | None = None,
    ) -> None:
        await self.tx.execute(
            "INSERT INTO pending_actions (user_id, kind, appeal_id, created_at, prompt_key, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET kind = excluded.kind, appeal_id = excluded.appeal_id,"
            " created_at = excluded.created_at, prompt_key = excluded.prompt_key, expires_at = excluded.expires_at",
            (user_id, kind.value, appeal_id, to_ts(now), prompt_key, to_ts(expires) if expires else None),
        )

    async def drop_action(self, user_id: int) -> None:
        await self.tx.execute("DELETE FROM pending_actions WHERE user_id = ?", (user_id,))

    async def hold(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        kind: str,
        text: str | None,
        file_id: str | None,
        now: datetime,
    ) -> int:
        return await self.tx.insert(
            "INSERT INTO inbox (user_id, chat_id, message_id, kind, text, file_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (user_id, chat_id, message_id, kind, text, file_id, to_ts(now)),
        )

    async def held(self, held_id: int, user_id: int) -> HeldMessage | None:
        row = await self.tx.fetchone(
            "SELECT * FROM inbox WHERE id = ? AND user_id = ? AND used_at IS NULL", (held_id, user_id)
        )
        if row is None:
            return None
        return HeldMessage(
            id=row["id"],
            user_id=row["user_id"],
            chat_id=row["chat_id"],
            message_id=row["message_id"],
            kind=row["kind"],
            text=row["text"],
            file_id=row["file_id"],
        )

    async def use_held(self, held_id: int, now: datetime) -> None:
        await self.tx.execute("UPDATE inbox SET used_at = ? WHERE id = ?", (to_ts(now), held_id))
