"""Ledger repositories: the append-only points ledger with its balances and monthly totals, the
head roles shown on an ID card, and installation secrets.

Repositories receive a ``Tx`` and never commit. The ledger is append-only: :meth:`LedgerRepo.append`
inserts the entry and moves the balance (and the month's total) in the same transaction, so a balance
is always the sum of its entries and ``/points`` reads one row instead of summing history. The perks
catalog and redemptions are in :mod:`storage.perks`.

Every current unit or building head has a ``balances`` row in their community, zeros until their first
entry (:meth:`RolesRepo.sync_rank_rows`, called whenever a post changes hands), so a rank and its
"of N" are two index counts: N is the community's heads plus anyone else with entries there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import from_ts, to_ts
from bot.models import Level
from storage.db import Row, Tx


# --- records ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LedgerEntry:
    id: int
    community_id: int
    user_id: int
    amount: int
    reason: str  # a key: 'appeal.first_reply', 'manual.award', 'perk.redeemed', ...
    ref_type: str | None  # 'appeal', 'election', 'redemption' or None
    ref_id: int | None
    cause_key: str
    actor_id: int | None
    note: str | None
    month: str
    ranked: bool
    created_at: datetime


@dataclass(frozen=True)
class Standing:
    """A person's row in ``balances`` (zeros when they have no entries yet)."""

    balance: int
    earned: int
    entries: int
    counted: bool = True  # has a row: a head there now, or has entries there (one of the "of N")


@dataclass(frozen=True)
class LeaderRow:
    user_id: int
    points: int
    first_name: str | None
    last_name: str | None
    username: str | None


@dataclass(frozen=True)
class HistoryEvent:
    """One row of ``appeal_events`` with its id (the rules key causes on it)."""

    id: int
    at: datetime
    actor_id: int | None
    kind: str
    level: Level
    detail: dict[str, Any]


class BalanceTooLow(Exception):
    """A guarded debit found the balance below what it takes (the caller's transaction rolls back)."""


def _entry(row: Row) -> LedgerEntry:
    return LedgerEntry(
        id=row["id"],
        community_id=row["community_id"],
        user_id=row["user_id"],
        amount=row["amount"],
        reason=row["reason"],
        ref_type=row["ref_type"],
        ref_id=row["ref_id"],
        cause_key=row["cause_key"],
        actor_id=row["actor_id"],
        note=row["note"],
        month=row["month"],
        ranked=bool(row["ranked"]),
        created_at=from_ts(row["created_at"]),
    )


def _leader(row: Row) -> LeaderRow:
    return LeaderRow(
        user_id=row["user_id"],
        points=row["points"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        username=row["username"],
    )


class LedgerRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def append(
        self,
        *,
        community_id: int,
        user_id: int,
        amount: int,
        reason: str,
        cause_key: str,
        month: str,
        now: datetime,
        ranked: bool = True,
        ref_type: str | None = None,
        ref_id: int | None = None,
        actor_id: int | None = None,
        note: str | None = None,
        floor: int | None = None,
    ) -> LedgerEntry | None:
        """Append an entry and move the balance (and the month's total for ranked entries).

        Returns None, changing nothing, when an entry with ``cause_key`` exists already. With
        ``floor`` the balance must stay at or above it, else :class:`BalanceTooLow` is raised (the
        balance row is changed by a guarded UPDATE, so this holds under any concurrency)."""
        ts = to_ts(now)
        row = await self.tx.fetchone(
            "INSERT INTO ledger (community_id, user_id, amount, reason, ref_type, ref_id, cause_key, actor_id,"
            " note, month, ranked, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (cause_key) DO NOTHING RETURNING id",
            (
                community_id,
                user_id,
                amount,
                reason,
                ref_type,
                ref_id,
                cause_key,
                actor_id,
                note,
                month,
                int(ranked),
                ts,
            ),
        )
        if row is None:
            return None
        earned = amount if ranked else 0
        if floor is None:
            await self.tx.execute(
                "INSERT INTO balances (community_id, user_id, balance, earned, entries, updated_at)"
                " VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (community_id, user_id) DO UPDATE SET"
                " balance = balances.balance + excluded.balance, earned = balances.earned + excluded.earned,"
                " entries = balances.entries + 1, updated_at = excluded.updated_at",
                (community_id, user_id, amount, earned, ts),
            )
        else:
            changed = await self.tx.execute(
                "UPDATE balances SET balance = balance + ?, earned = earned + ?, entries = entries + 1,"
                " updated_at = ? WHERE community_id = ? AND user_id = ? AND balance + ? >= ?",
                (amount, earned, ts, community_id, user_id, amount, floor),
            )
            if changed != 1:
                raise BalanceTooLow(user_id)
        if ranked:
            await self.tx.execute(
                "INSERT INTO monthly_points (community_id, month, user_id, points) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (community_id, month, user_id) DO UPDATE SET"
                " points = monthly_points.points + excluded.points",
                (community_id, month, user_id, amount),
            )
        return LedgerEntry(
            id=int(row[0]),
            community_id=community_id,
            user_id=user_id,
            amount=amount,
            reason=reason,
            ref_type=ref_type,
            ref_id=ref_id,
            cause_key=cause_key,
            actor_id=actor_id,
            note=note,
            month=month,
            ranked=ranked,
            created_at=from_ts(ts),
        )

    async def has_cause(self, cause_key: str) -> bool:
        return bool(await self.tx.fetchval("SELECT 1 FROM ledger WHERE cause_key = ?", (cause_key,)))

    async def standing(self, community_id: int, user_id: int) -> Standing:
        row = await self.tx.fetchone(
            "SELECT balance, earned, entries FROM balances WHERE community_id = ? AND user_id = ?",
            (community_id, user_id),
        )
        return Standing(row["balance"], row["earned"], row["entries"]) if row else Standing(0, 0, 0, counted=False)

    async def month_points(self, community_id: int, month: str, user_id: int) -> int:
        value = await self.tx.fetchval(
            "SELECT points FROM monthly_points WHERE community_id = ? AND month = ? AND user_id = ?",
            (community_id, month, user_id),
        )
        return int(value or 0)

    async def rank_all(self, community_id: int, earned: int) -> int:
        """1 + how many of the community's people earned more (ties share a rank; heads without entries
        have a zero row, so they count as 0); walks the index."""
        above = await self.tx.fetchval(
            "SELECT COUNT(*) FROM balances WHERE community_id = ? AND earned > ?", (community_id, earned)
        )
        return 1 + int(above)

    async def rank_month(self, community_id: int, month: str, points: int, people: int) -> int:
        """1 + how many of the community's ``people`` have more this month; those with no month total
        count as 0 (ahead of a negative month). Two index counts."""
        above = int(
            await self.tx.fetchval(
                "SELECT COUNT(*) FROM monthly_points WHERE community_id = ? AND month = ? AND points > ?",
                (community_id, month, points),
            )
        )
        if points < 0:  # everyone without a total this month (0) is ahead
            above += max(0, people - await self.people_month(community_id, month))
        return 1 + above

    async def people_all(self, community_id: int) -> int:
        """The people ranks are among: the community's current heads and anyone else with entries."""
        return int(await self.tx.fetchval("SELECT COUNT(*) FROM balances WHERE community_id = ?", (community_id,)))

    async def people_month(self, community_id: int, month: str) -> int:
        """How many have a total this month (all of them among :meth:`people_all`)."""
        return int(
            await self.tx.fetchval(
                "SELECT COUNT(*) FROM monthly_points WHERE community_id = ? AND month = ?", (community_id, month)
            )
        )

    async def entries(self, community_id: int, user_id: int, before_id: int | None, limit: int) -> list[LedgerEntry]:
        """Newest first; keyset paging: pass the smallest id of the previous page as ``before_id``."""
        if before_id is None:
            rows = await self.tx.fetchall(
                "SELECT * FROM ledger WHERE community_id = ? AND user_id = ? ORDER BY id DESC LIMIT ?",
                (community_id, user_id, limit),
            )
        else:
            rows = await self.tx.fetchall(
                "SELECT * FROM ledger WHERE community_id = ? AND user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                (community_id, user_id, before_id, limit),
            )
        return [_entry(r) for r in rows]

    async def by_cause(self, cause_key: str) -> LedgerEntry | None:
        row = await self.tx.fetchone("SELECT * FROM ledger WHERE cause_key = ?", (cause_key,))
        return _entry(row) if row else None

    async def top_all(self, community_id: int, limit: int) -> list[LeaderRow]:
        """The best all-time totals among the people the ranks count (every current head, at 0 until
        their first entry, and anyone with entries here), so /top agrees with the ranks of /points."""
        rows = await self.tx.fetchall(
            "SELECT b.user_id, b.earned AS points, u.first_name, u.last_name, u.username"
            " FROM balances b LEFT JOIN users u ON u.id = b.user_id"
            " WHERE b.community_id = ? ORDER BY b.earned DESC, b.user_id LIMIT ?",
            (community_id, limit),
        )
        return [_leader(r) for r in rows]

    async def top_month(self, community_id: int, month: str, limit: int) -> list[LeaderRow]:
        """The month's best among the same people (no entry this month counts as 0)."""
        rows = await self.tx.fetchall(
            "SELECT b.user_id, COALESCE(m.points, 0) AS points, u.first_name, u.last_name, u.username"
            " FROM balances b LEFT JOIN monthly_points m"
            " ON m.community_id = b.community_id AND m.user_id = b.user_id AND m.month = ?"
            " LEFT JOIN users u ON u.id = b.user_id"
            " WHERE b.community_id = ? ORDER BY COALESCE(m.points, 0) DESC, b.user_id LIMIT ?",
            (month, community_id, limit),
        )
        return [_leader(r) for r in rows]

    async def communities_of(self, user_id: int) -> list[int]:
        """Communities where the person has entries."""
        rows = await self.tx.fetchall(
            "SELECT community_id FROM balances WHERE user_id = ? AND entries > 0 ORDER BY community_id", (user_id,)
        )
        return [r[0] for r in rows]

    async def appeal_history(self, appeal_id: int) -> list[HistoryEvent]:
        rows = await self.tx.fetchall(
            "SELECT id, at, actor_id, kind, level, detail FROM appeal_events WHERE appeal_id = ? ORDER BY id",
            (appeal_id,),
        )
        return [
            HistoryEvent(
                id=r["id"],
                at=from_ts(r["at"]),
                actor_id=r["actor_id"],
                kind=r["kind"],
                level=Level(r["level"]),
                detail=json.loads(r["detail"]),
            )
            for r in rows
        ]


@dataclass(frozen=True)
class HeadRole:
    """A head's post: ``kind`` 'unit_head' (unit and its building) or 'building_head' (building)."""

    kind: str
    building_id: int
    building: str
    unit_id: int | None = None
    unit: str | None = None


# (user id, community id, user id, community id): heads a unit or a building there now
_HEADS_THERE = (
    "(EXISTS (SELECT 1 FROM units hu JOIN buildings hb ON hb.id = hu.building_id"
    " WHERE hu.head_user_id = ? AND hb.community_id = ? AND hb.active = 1)"
    " OR EXISTS (SELECT 1 FROM buildings hb WHERE hb.head_user_id = ? AND hb.community_id = ? AND hb.active = 1))"
)


class RolesRepo:
    """Who heads what right now (the live registry, never a cached copy)."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def head_roles(self, user_id: int, community_id: int) -> list[HeadRole]:
        units = await self.tx.fetchall(
            "SELECT u.id AS unit_id, u.name AS unit, b.id AS building_id, b.title AS building"
            " FROM units u JOIN buildings b ON b.id = u.building_id"
            " WHERE u.head_user_id = ? AND b.community_id = ? AND b.active = 1 ORDER BY b.id, u.position, u.id",
            (user_id, community_id),
        )
        buildings = await self.tx.fetchall(
            "SELECT id, title FROM buildings WHERE head_user_id = ? AND community_id = ? AND active = 1 ORDER BY id",
            (user_id, community_id),
        )
        roles = [HeadRole("building_head", r["id"], r["title"]) for r in buildings]
        roles += [HeadRole("unit_head", r["building_id"], r["building"], r["unit_id"], r["unit"]) for r in units]
        return roles

    async def head_communities(self, user_id: int) -> list[int]:
        rows = await self.tx.fetchall(
            "SELECT b.community_id FROM units u JOIN buildings b ON b.id = u.building_id"
            " WHERE u.head_user_id = ? AND b.active = 1"
            " UNION SELECT community_id FROM buildings WHERE head_user_id = ? AND active = 1",
            (user_id, user_id),
        )
        return sorted({int(r[0]) for r in rows})

    async def heads_here(self, user_id: int, community_id: int) -> bool:
        """Heads a unit or a building of an active building of the community now."""
        return bool(
            await self.tx.fetchval("SELECT 1 WHERE " + _HEADS_THERE, (user_id, community_id, user_id, community_id))
        )

    async def sync_rank_rows(self, community_id: int, user_ids: Iterable[int | None]) -> None:
        """Keep these people's ``balances`` rows in step with their posts in the community: whoever
        heads something there now has a row (zeros until the first entry, so they count in ranks as
        0); the entry-less row of someone who heads nothing there any more goes. Call it after any
        change of who heads what (old and new head)."""
        people = sorted({u for u in user_ids if u is not None})
        if not people:
            return
        heads = [(community_id, u, u, community_id, u, community_id) for u in people]
        await self.tx.executemany(
            "INSERT INTO balances (community_id, user_id, balance, earned, entries, updated_at)"
            " SELECT CAST(? AS BIGINT), CAST(? AS BIGINT), 0, 0, 0, 0 WHERE "  # typed for PostgreSQL
            + _HEADS_THERE
            + " ON CONFLICT (community_id, user_id) DO NOTHING",
            heads,
        )
        await self.tx.executemany(
            "DELETE FROM balances WHERE community_id = ? AND user_id = ? AND entries = 0 AND NOT "  # noqa: S608
            + _HEADS_THERE,
            heads,
        )

    async def unit_head(self, unit_id: int) -> int | None:
        value = await self.tx.fetchval("SELECT head_user_id FROM units WHERE id = ?", (unit_id,))
        return None if value is None else int(value)

    async def building_head(self, building_id: int) -> int | None:
        value = await self.tx.fetchval("SELECT head_user_id FROM buildings WHERE id = ?", (building_id,))
        return None if value is None else int(value)


class SecretsRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def get(self, name: str) -> str | None:
        value = await self.tx.fetchval("SELECT value FROM secrets WHERE name = ?", (name,))
        return None if value is None else str(value)

    async def get_or_create(self, name: str, fresh: str, now: datetime) -> str:
        """The stored value, or ``fresh`` stored now (the first writer wins under any race)."""
        await self.tx.execute(
            "INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
            (name, fresh, to_ts(now)),
        )
        value = await self.get(name)
        assert value is not None
        return value
