"""Micro-wishes: the wishes, their due moments and who is writing a message about one. Repositories
never commit (the services own the transactions); the claim is a guarded update whose row count
says who won."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_ts, from_ts_opt, to_ts
from storage.db import Row, Tx


@dataclass(frozen=True)
class Wish:
    id: int
    community_id: int
    building_id: int
    unit_id: int | None
    resident_id: int
    state: str  # draft | open | claimed | fulfilled | cancelled | expired
    step: str | None  # of a draft: what | when | name
    body: str
    media_kind: str | None
    media_chat: int | None
    media_message: int | None
    show_name: bool
    wanted_by: datetime | None
    volunteer_id: int | None
    created_at: datetime
    posted_at: datetime | None
    claimed_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class WishDeadline:
    id: int
    wish_id: int
    kind: str  # reshow | unit_head | expire
    due_at: datetime


@dataclass(frozen=True)
class WishCounts:
    open: int
    claimed: int
    fulfilled: int
    expired: int
    cancelled: int


def _wish(row: Row) -> Wish:
    return Wish(
        id=row["id"],
        community_id=row["community_id"],
        building_id=row["building_id"],
        unit_id=row["unit_id"],
        resident_id=row["resident_id"],
        state=row["state"],
        step=row["step"],
        body=row["body"],
        media_kind=row["media_kind"],
        media_chat=row["media_chat"],
        media_message=row["media_message"],
        show_name=bool(row["show_name"]),
        wanted_by=from_ts_opt(row["wanted_by"]),
        volunteer_id=row["volunteer_id"],
        created_at=from_ts(row["created_at"]),
        posted_at=from_ts_opt(row["posted_at"]),
        claimed_at=from_ts_opt(row["claimed_at"]),
        closed_at=from_ts_opt(row["closed_at"]),
    )


class WishesRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def get(self, wish_id: int) -> Wish | None:
        row = await self.tx.fetchone("SELECT * FROM wishes WHERE id = ?", (wish_id,))
        return _wish(row) if row else None

    async def draft_of(self, resident_id: int) -> Wish | None:
        row = await self.tx.fetchone("SELECT * FROM wishes WHERE resident_id = ? AND state = 'draft'", (resident_id,))
        return _wish(row) if row else None

    async def start_draft(
        self, *, community_id: int, building_id: int, unit_id: int | None, resident_id: int, now: datetime
    ) -> int:
        """A new draft (an older unfinished one of the resident is replaced)."""
        await self.drop_draft(resident_id)
        return await self.tx.insert(
            "INSERT INTO wishes (community_id, building_id, unit_id, resident_id, state, step, created_at)"
            " VALUES (?, ?, ?, ?, 'draft', 'what', ?) RETURNING id",
            (community_id, building_id, unit_id, resident_id, to_ts(now)),
        )

    async def drop_draft(self, resident_id: int) -> bool:
        wish = await self.draft_of(resident_id)
        if wish is None:
            return False
        await self.tx.execute("DELETE FROM wish_writers WHERE wish_id = ?", (wish.id,))
        await self.tx.execute("DELETE FROM wishes WHERE id = ? AND state = 'draft'", (wish.id,))
        return True

    async def set_content(
        self, wish_id: int, body: str, media_kind: str | None, media_chat: int | None, media_message: int | None
    ) -> None:
        await self.tx.execute(
            "UPDATE wishes SET body = ?, media_kind = ?, media_chat = ?, media_message = ?, step = 'when'"
            " WHERE id = ? AND state = 'draft'",
            (body, media_kind, media_chat, media_message, wish_id),
        )

    async def set_wanted_by(self, wish_id: int, wanted_by: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE wishes SET wanted_by = ?, step = 'name' WHERE id = ? AND state = 'draft' AND step = 'when'",
            (to_ts(wanted_by), wish_id),
        )
        return count == 1

    async def publish(self, wish_id: int, show_name: bool, now: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE wishes SET state = 'open', step = NULL, show_name = ?, posted_at = ?"
            " WHERE id = ? AND state = 'draft' AND step = 'name'",
            (int(show_name), to_ts(now), wish_id),
        )
        return count == 1

    async def claim(self, wish_id: int, volunteer_id: int, now: datetime) -> bool:
        """The guarded claim: True for the one volunteer who took the open wish."""
        count = await self.tx.execute(
            "UPDATE wishes SET state = 'claimed', volunteer_id = ?, claimed_at = ? WHERE id = ? AND state = 'open'",
            (volunteer_id, to_ts(now), wish_id),
        )
        return count == 1

    async def release(self, wish_id: int, volunteer_id: int) -> bool:
        count = await self.tx.execute(
            "UPDATE wishes SET state = 'open', volunteer_id = NULL, claimed_at = NULL"
            " WHERE id = ? AND state = 'claimed' AND volunteer_id = ?",
            (wish_id, volunteer_id),
        )
        return count == 1

    async def close(self, wish_id: int, state: str, now: datetime, *, from_states: tuple[str, ...]) -> bool:
        marks = ", ".join("?" for _ in from_states)
        count = await self.tx.execute(
            f"UPDATE wishes SET state = ?, closed_at = ? WHERE id = ? AND state IN ({marks})",  # noqa: S608
            (state, to_ts(now), wish_id, *from_states),
        )
        if count == 1:
            await self.tx.execute("DELETE FROM wish_writers WHERE wish_id = ?", (wish_id,))
        return count == 1

    async def open_in_building(self, building_id: int, limit: int) -> list[Wish]:
        rows = await self.tx.fetchall(
            "SELECT * FROM wishes WHERE building_id = ? AND state = 'open' ORDER BY id LIMIT ?", (building_id, limit)
        )
        return [_wish(r) for r in rows]

    async def counts(self, community_id: int) -> WishCounts:
        rows = await self.tx.fetchall(
            "SELECT state, COUNT(*) AS n FROM wishes WHERE community_id = ? AND state <> 'draft' GROUP BY state",
            (community_id,),
        )
        by = {r["state"]: int(r["n"]) for r in rows}
        return WishCounts(
            by.get("open", 0),
            by.get("claimed", 0),
            by.get("fulfilled", 0),
            by.get("expired", 0),
            by.get("cancelled", 0),
        )

    async def lives_in_community(self, user_id: int, community_id: int) -> bool:
        """A registered resident (chose a unit) of an active building of the community."""
        return bool(
            await self.tx.fetchval(
                "SELECT 1 FROM residents r JOIN buildings b ON b.id = r.building_id"
                " WHERE r.user_id = ? AND b.community_id = ? AND b.active = 1",
                (user_id, community_id),
            )
        )

    # --- due moments ------------------------------------------------------------------------------
    async def add_deadline(self, wish_id: int, kind: str, due_at: datetime) -> None:
        await self.tx.execute(
            "INSERT INTO wish_deadlines (wish_id, kind, due_at) VALUES (?, ?, ?)", (wish_id, kind, to_ts(due_at))
        )

    async def claim_due(self, now: datetime, limit: int) -> list[WishDeadline]:
        rows = await self.tx.fetchall(
            "SELECT id, wish_id, kind, due_at FROM wish_deadlines WHERE done_at IS NULL AND due_at <= ?"  # noqa: S608
            " ORDER BY due_at, id LIMIT ?" + self.tx.lock_clause(),
            (to_ts(now), limit),
        )
        return [WishDeadline(r["id"], r["wish_id"], r["kind"], from_ts(r["due_at"])) for r in rows]

    async def finish_deadline(self, deadline_id: int, now: datetime, outcome: str) -> None:
        await self.tx.execute(
            "UPDATE wish_deadlines SET done_at = ?, outcome = ? WHERE id = ? AND done_at IS NULL",
            (to_ts(now), outcome, deadline_id),
        )

    async def finish_deadlines_of(self, wish_id: int, now: datetime, outcome: str) -> None:
        await self.tx.execute(
            "UPDATE wish_deadlines SET done_at = ?, outcome = ? WHERE wish_id = ? AND done_at IS NULL",
            (to_ts(now), outcome, wish_id),
        )

    # --- who is writing a message to pass on ------------------------------------------------------
    async def start_writing(self, user_id: int, wish_id: int, now: datetime) -> None:
        await self.tx.execute(
            "INSERT INTO wish_writers (user_id, wish_id, since) VALUES (?, ?, ?) ON CONFLICT (user_id)"
            " DO UPDATE SET wish_id = excluded.wish_id, since = excluded.since",
            (user_id, wish_id, to_ts(now)),
        )

    async def writing(self, user_id: int) -> tuple[int, datetime] | None:
        """The wish the person is writing a message about, and since when."""
        row = await self.tx.fetchone("SELECT wish_id, since FROM wish_writers WHERE user_id = ?", (user_id,))
        return None if row is None else (int(row["wish_id"]), from_ts(row["since"]))

    async def recently_posted(self, resident_id: int, since: datetime) -> Wish | None:
        row = await self.tx.fetchone(
            "SELECT * FROM wishes WHERE resident_id = ? AND state <> 'draft' AND posted_at >= ?"
            " ORDER BY id DESC LIMIT 1",
            (resident_id, to_ts(since)),
        )
        return _wish(row) if row else None

    async def stop_writing(self, user_id: int) -> None:
        await self.tx.execute("DELETE FROM wish_writers WHERE user_id = ?", (user_id,))
