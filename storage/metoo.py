"""Shared appeals ("Me too"), their supporters, the filing flag, and proposals opened from an
appeal (issue 12). Repositories never commit: the services own the transactions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import to_ts
from bot.models import OPEN_STATUSES, Category
from storage.db import Tx

#: How many open shared appeals of one category are offered while filing (newest first).
OFFER_MAX = 3


@dataclass(frozen=True)
class SharedAppeal:
    id: int
    title: str
    category: Category
    supporters: int


class MeTooRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    # --- the flag set while filing ------------------------------------------------------------------
    async def mark_draft(self, user_id: int, now: datetime) -> None:
        await self.tx.execute(
            "INSERT INTO metoo_drafts (user_id, created_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING",
            (user_id, to_ts(now)),
        )

    async def unmark_draft(self, user_id: int) -> None:
        await self.tx.execute("DELETE FROM metoo_drafts WHERE user_id = ?", (user_id,))

    async def draft_marked(self, user_id: int) -> bool:
        return await self.tx.fetchval("SELECT 1 FROM metoo_drafts WHERE user_id = ?", (user_id,)) is not None

    # --- shared appeals ---------------------------------------------------------------------------------
    async def set_title(self, appeal_id: int, title: str) -> bool:
        """Make the appeal shared with ``title``; False when it already was (a double tap)."""
        changed = await self.tx.execute(
            "UPDATE appeals SET shared_title = ? WHERE id = ? AND shared_title IS NULL", (title, appeal_id)
        )
        return changed == 1

    async def title_of(self, appeal_id: int) -> str | None:
        value = await self.tx.fetchval("SELECT shared_title FROM appeals WHERE id = ?", (appeal_id,))
        return None if value is None else str(value)

    async def open_shared(self, building_id: int, category: Category, limit: int = OFFER_MAX) -> list[SharedAppeal]:
        """Open shared appeals of ``category`` in the building (the partial index appeals_shared)."""
        marks = ", ".join("?" for _ in OPEN_STATUSES)
        rows = await self.tx.fetchall(
            "SELECT a.id, a.shared_title, a.category,"  # noqa: S608 - only placeholders are formatted in
            " (SELECT COUNT(*) FROM appeal_supporters s WHERE s.appeal_id = a.id) AS n"
            " FROM appeals a WHERE a.building_id = ? AND a.category = ? AND a.shared_title IS NOT NULL"
            f" AND a.status IN ({marks}) ORDER BY a.id DESC LIMIT ?",
            (building_id, category.value, *OPEN_STATUSES, limit),
        )
        return [SharedAppeal(int(r["id"]), str(r["shared_title"]), Category(r["category"]), int(r["n"])) for r in rows]

    # --- supporters ----------------------------------------------------------------------------------------
    async def add_supporter(self, appeal_id: int, user_id: int, now: datetime) -> bool:
        """False when they were already counted."""
        changed = await self.tx.execute(
            "INSERT INTO appeal_supporters (appeal_id, user_id, joined_at) VALUES (?, ?, ?)"
            " ON CONFLICT (appeal_id, user_id) DO NOTHING",
            (appeal_id, user_id, to_ts(now)),
        )
        return changed == 1

    async def supporters(self, appeal_id: int) -> list[int]:
        rows = await self.tx.fetchall(
            "SELECT user_id FROM appeal_supporters WHERE appeal_id = ? ORDER BY joined_at, user_id", (appeal_id,)
        )
        return [int(r["user_id"]) for r in rows]

    async def count(self, appeal_id: int) -> int:
        return int(await self.tx.fetchval("SELECT COUNT(*) FROM appeal_supporters WHERE appeal_id = ?", (appeal_id,)))

    async def is_supporter(self, appeal_id: int, user_id: int) -> bool:
        row = await self.tx.fetchval(
            "SELECT 1 FROM appeal_supporters WHERE appeal_id = ? AND user_id = ?", (appeal_id, user_id)
        )
        return row is not None

    async def rate(self, appeal_id: int, user_id: int, score: int) -> None:
        await self.tx.execute(
            "UPDATE appeal_supporters SET rating = ? WHERE appeal_id = ? AND user_id = ?", (score, appeal_id, user_id)
        )

    async def ratings(self, appeal_id: int) -> list[int]:
        rows = await self.tx.fetchall(
            "SELECT rating FROM appeal_supporters WHERE appeal_id = ? AND rating IS NOT NULL", (appeal_id,)
        )
        return [int(r["rating"]) for r in rows]

    # --- proposals opened from an appeal ----------------------------------------------------------------
    async def link_proposal(self, proposal_id: int, appeal_id: int) -> None:
        await self.tx.execute("UPDATE proposals SET appeal_id = ? WHERE id = ?", (appeal_id, proposal_id))

    async def appeal_of_proposal(self, proposal_id: int) -> int | None:
        value = await self.tx.fetchval("SELECT appeal_id FROM proposals WHERE id = ?", (proposal_id,))
        return None if value is None else int(value)

    async def open_proposal_of(self, appeal_id: int) -> int | None:
        value = await self.tx.fetchval(
            "SELECT id FROM proposals WHERE appeal_id = ? AND state = 'open' ORDER BY id DESC LIMIT 1", (appeal_id,)
        )
        return None if value is None else int(value)
