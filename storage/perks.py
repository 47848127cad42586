"""Perks repositories: categories, merchants, perks, redemptions and their one-time codes.

Repositories receive a ``Tx`` and never commit. Stock is taken with a guarded ``UPDATE ... WHERE
stock > 0`` and a code is used with ``UPDATE ... WHERE used_at IS NULL``, so the row count decides
who got the last item or honoured the code, whatever runs at the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import from_ts, from_ts_opt, to_ts
from storage.db import Row, Tx


# --- records ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PerkCategory:
    id: int
    community_id: int
    name: str
    available: int = 0


@dataclass(frozen=True)
class Merchant:
    id: int
    community_id: int
    user_id: int
    name: str
    active: bool


@dataclass(frozen=True)
class Perk:
    id: int
    community_id: int
    category_id: int
    category: str
    merchant_id: int
    merchant_name: str
    merchant_user_id: int
    title: str
    description: str
    address: str
    cost: int
    valid_until: datetime | None  # first moment it is no longer valid
    stock: int | None  # None: unlimited
    per_person_limit: int | None  # None: no limit
    retired_at: datetime | None


@dataclass(frozen=True)
class Redemption:
    id: int
    community_id: int
    perk_id: int
    user_id: int
    cost: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_by: int | None
    refunded_at: datetime | None
    perk_title: str
    perk_description: str
    merchant_user_id: int  # the perk's merchant when the code was issued: they check it
    request_key: str | None = None


# --- perks ------------------------------------------------------------------------------------------
_PERK_SELECT = (
    "SELECT p.*, c.name AS category, m.name AS merchant_name, m.user_id AS merchant_user_id"
    " FROM perks p JOIN perk_categories c ON c.id = p.category_id JOIN merchants m ON m.id = p.merchant_id"
)
_REDEMPTION_SELECT = (
    "SELECT r.*, p.title AS perk_title, p.description AS perk_description, m.user_id AS merchant_user_id"
    " FROM redemptions r JOIN perks p ON p.id = r.perk_id"
    " JOIN merchants m ON m.id = COALESCE(r.merchant_id, p.merchant_id)"
)
PERK_COLUMNS = frozenset(
    {
        "category_id",
        "merchant_id",
        "title",
        "description",
        "address",
        "cost",
        "valid_until",
        "stock",
        "per_person_limit",
    }
)


def _perk(row: Row) -> Perk:
    return Perk(
        id=row["id"],
        community_id=row["community_id"],
        category_id=row["category_id"],
        category=row["category"],
        merchant_id=row["merchant_id"],
        merchant_name=row["merchant_name"],
        merchant_user_id=row["merchant_user_id"],
        title=row["title"],
        description=row["description"],
        address=row["address"],
        cost=row["cost"],
        valid_until=from_ts_opt(row["valid_until"]),
        stock=row["stock"],
        per_person_limit=row["per_person_limit"],
        retired_at=from_ts_opt(row["retired_at"]),
    )


def _redemption(row: Row) -> Redemption:
    return Redemption(
        id=row["id"],
        community_id=row["community_id"],
        perk_id=row["perk_id"],
        user_id=row["user_id"],
        cost=row["cost"],
        created_at=from_ts(row["created_at"]),
        expires_at=from_ts(row["expires_at"]),
        used_at=from_ts_opt(row["used_at"]),
        used_by=row["used_by"],
        refunded_at=from_ts_opt(row["refunded_at"]),
        perk_title=row["perk_title"],
        perk_description=row["perk_description"],
        merchant_user_id=row["merchant_user_id"],
        request_key=row["request_key"],
    )


def _merchant(row: Row) -> Merchant:
    return Merchant(
        id=row["id"],
        community_id=row["community_id"],
        user_id=row["user_id"],
        name=row["name"],
        active=bool(row["active"]),
    )


class PerksRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    # --- categories ----------------------------------------------------------------------------
    async def ensure_category(self, community_id: int, name: str, now: datetime) -> int:
        row = await self.tx.fetchone(
            "INSERT INTO perk_categories (community_id, name, position, created_at)"
            " VALUES (?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM perk_categories WHERE community_id = ?), ?)"
            " ON CONFLICT (community_id, name) DO NOTHING RETURNING id",
            (community_id, name, community_id, to_ts(now)),
        )
        if row is not None:
            return int(row[0])
        return int(
            await self.tx.fetchval(
                "SELECT id FROM perk_categories WHERE community_id = ? AND name = ?", (community_id, name)
            )
        )

    async def category_id(self, community_id: int, name: str) -> int | None:
        value = await self.tx.fetchval(
            "SELECT id FROM perk_categories WHERE community_id = ? AND lower(name) = lower(?)", (community_id, name)
        )
        return None if value is None else int(value)

    async def categories(self, community_id: int, now: datetime) -> list[PerkCategory]:
        """The community's categories with how many perks are on offer in each (retired and expired
        perks are not on offer)."""
        rows = await self.tx.fetchall(
            "SELECT c.id, c.community_id, c.name, COUNT(p.id) AS available FROM perk_categories c"
            " LEFT JOIN perks p ON p.category_id = c.id AND p.retired_at IS NULL"
            " AND (p.valid_until IS NULL OR p.valid_until > ?)"
            " WHERE c.community_id = ? GROUP BY c.id, c.community_id, c.name, c.position ORDER BY c.position, c.id",
            (to_ts(now), community_id),
        )
        return [PerkCategory(r["id"], r["community_id"], r["name"], r["available"]) for r in rows]

    # --- merchants -----------------------------------------------------------------------------
    async def ensure_merchant(self, community_id: int, user_id: int, name: str, by: int, now: datetime) -> Merchant:
        await self.tx.execute(
            "INSERT INTO merchants (community_id, user_id, name, created_by, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (community_id, user_id) DO UPDATE SET name = excluded.name, active = 1",
            (community_id, user_id, name, by, to_ts(now)),
        )
        merchant = await self.merchant_by_user(community_id, user_id)
        assert merchant is not None
        return merchant

    async def merchant_by_user(self, community_id: int, user_id: int) -> Merchant | None:
        row = await self.tx.fetchone(
            "SELECT * FROM merchants WHERE community_id = ? AND user_id = ?", (community_id, user_id)
        )
        return _merchant(row) if row else None

    async def merchant_by_name(self, community_id: int, name: str) -> Merchant | None:
        row = await self.tx.fetchone(
            "SELECT * FROM merchants WHERE community_id = ? AND lower(name) = lower(?) ORDER BY id LIMIT 1",
            (community_id, name),
        )
        return _merchant(row) if row else None

    async def is_merchant(self, user_id: int) -> bool:
        return bool(await self.tx.fetchval("SELECT 1 FROM merchants WHERE user_id = ? AND active = 1", (user_id,)))

    # --- perks ---------------------------------------------------------------------------------
    async def add_perk(
        self,
        *,
        community_id: int,
        category_id: int,
        merchant_id: int,
        title: str,
        description: str,
        address: str,
        cost: int,
        valid_until: datetime | None,
        stock: int | None,
        per_person_limit: int | None,
        created_by: int,
        now: datetime,
    ) -> int:
        return await self.tx.insert(
            "INSERT INTO perks (community_id, category_id, merchant_id, title, description, address, cost,"
            " valid_until, stock, per_person_limit, created_by, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                community_id,
                category_id,
                merchant_id,
                title,
                description,
                address,
                cost,
                None if valid_until is None else to_ts(valid_until),
                stock,
                per_person_limit,
                created_by,
                to_ts(now),
                to_ts(now),
            ),
        )

    async def update_perk(
        self, perk_id: int, now: datetime, changes: dict[str, Any], *, stock_set: bool = False
    ) -> None:
        """``stock_set``: staff set the stock by hand now (refunds of codes redeemed before leave it as set)."""
        cols: list[str] = []
        values: list[Any] = []
        for key, value in changes.items():
            if key not in PERK_COLUMNS:
                raise ValueError(key)
            cols.append(f"{key} = ?")
            values.append(to_ts(value) if isinstance(value, datetime) else value)
        cols.append("updated_at = ?")
        values.append(to_ts(now))
        if stock_set:
            cols.append("stock_set_after = (SELECT COALESCE(MAX(r.id), 0) FROM redemptions r WHERE r.perk_id = ?)")
            values.append(perk_id)
        sql = f"UPDATE perks SET {', '.join(cols)} WHERE id = ?"  # noqa: S608 - column names come from PERK_COLUMNS
        await self.tx.execute(sql, (*values, perk_id))

    async def retire(self, perk_id: int, now: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE perks SET retired_at = ?, updated_at = ? WHERE id = ? AND retired_at IS NULL",
            (to_ts(now), to_ts(now), perk_id),
        )
        return count == 1

    async def get(self, perk_id: int) -> Perk | None:
        row = await self.tx.fetchone(_PERK_SELECT + " WHERE p.id = ?", (perk_id,))
        return _perk(row) if row else None

    async def on_offer(
        self,
        community_id: int,
        category_id: int | None,
        now: datetime,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Perk]:
        """Not retired and still valid, cheapest first (``limit``/``offset``: one page of them)."""
        where, params = self._on_offer_where(community_id, category_id, now)
        sql = _PERK_SELECT + where + " ORDER BY p.cost, p.id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        rows = await self.tx.fetchall(sql, params)
        return [_perk(r) for r in rows]

    async def count_on_offer(self, community_id: int, category_id: int | None, now: datetime) -> int:
        where, params = self._on_offer_where(community_id, category_id, now)
        sql = "SELECT COUNT(*) FROM perks p" + where  # noqa: S608 - a fixed clause with placeholders
        return int(await self.tx.fetchval(sql, params))

    @staticmethod
    def _on_offer_where(community_id: int, category_id: int | None, now: datetime) -> tuple[str, list[Any]]:
        where = " WHERE p.community_id = ? AND p.retired_at IS NULL AND (p.valid_until IS NULL OR p.valid_until > ?)"
        params: list[Any] = [community_id, to_ts(now)]
        if category_id is not None:
            where += " AND p.category_id = ?"
            params.append(category_id)
        return where, params

    async def category(self, category_id: int) -> PerkCategory | None:
        row = await self.tx.fetchone("SELECT id, community_id, name FROM perk_categories WHERE id = ?", (category_id,))
        return PerkCategory(row["id"], row["community_id"], row["name"]) if row else None

    async def take_stock(self, perk_id: int) -> bool:
        """One item off the stock; False when none is left (unlimited stock always succeeds)."""
        count = await self.tx.execute(
            "UPDATE perks SET stock = stock - 1 WHERE id = ? AND (stock IS NULL OR stock > 0)", (perk_id,)
        )
        return count == 1

    async def return_stock(self, perk_id: int, redemption_id: int) -> None:
        """One item back for a redemption whose code was never used; not when staff set the stock by
        hand after that redemption (their count already holds) or the stock is unlimited."""
        await self.tx.execute(
            "UPDATE perks SET stock = stock + 1 WHERE id = ? AND stock IS NOT NULL"
            " AND (stock_set_after IS NULL OR stock_set_after < ?)",
            (perk_id, redemption_id),
        )

    # --- redemptions ---------------------------------------------------------------------------
    async def redeemed_count(self, user_id: int, perk_id: int) -> int:
        """Redemptions that count towards the per-person limit (refunded ones do not)."""
        return int(
            await self.tx.fetchval(
                "SELECT COUNT(*) FROM redemptions WHERE user_id = ? AND perk_id = ? AND refunded_at IS NULL",
                (user_id, perk_id),
            )
        )

    async def code_taken(self, code_hash: str) -> bool:
        return bool(await self.tx.fetchval("SELECT 1 FROM redemptions WHERE code_hash = ?", (code_hash,)))

    async def add_redemption(
        self,
        *,
        community_id: int,
        perk_id: int,
        merchant_id: int,
        user_id: int,
        cost: int,
        code_hash: str,
        now: datetime,
        expires: datetime,
        request_key: str | None = None,
    ) -> int | None:
        """The new redemption's id; None when ``request_key`` was already used (nothing inserted)."""
        row = await self.tx.fetchone(
            "INSERT INTO redemptions (community_id, perk_id, merchant_id, user_id, cost, code_hash, created_at,"
            " expires_at, request_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (request_key) DO NOTHING RETURNING id",
            (community_id, perk_id, merchant_id, user_id, cost, code_hash, to_ts(now), to_ts(expires), request_key),
        )
        return None if row is None else int(row[0])

    async def redemption_by_request(self, request_key: str) -> Redemption | None:
        row = await self.tx.fetchone(_REDEMPTION_SELECT + " WHERE r.request_key = ?", (request_key,))
        return _redemption(row) if row else None

    async def redemption(self, redemption_id: int) -> Redemption | None:
        row = await self.tx.fetchone(_REDEMPTION_SELECT + " WHERE r.id = ?", (redemption_id,))
        return _redemption(row) if row else None

    async def redemption_by_hash(self, code_hash: str) -> Redemption | None:
        row = await self.tx.fetchone(_REDEMPTION_SELECT + " WHERE r.code_hash = ?", (code_hash,))
        return _redemption(row) if row else None

    async def use_code(self, code_hash: str, merchant_user_id: int, now: datetime) -> bool:
        """Mark the code used if it is still good; True for exactly one caller."""
        count = await self.tx.execute(
            "UPDATE redemptions SET used_at = ?, used_by = ? WHERE code_hash = ? AND used_at IS NULL"
            " AND refunded_at IS NULL AND expires_at > ?",
            (to_ts(now), merchant_user_id, code_hash, to_ts(now)),
        )
        return count == 1

    async def expired_unused(self, now: datetime, limit: int, user_id: int | None = None) -> list[Redemption]:
        sql = _REDEMPTION_SELECT + " WHERE r.used_at IS NULL AND r.refunded_at IS NULL AND r.expires_at <= ?"
        params: list[Any] = [to_ts(now)]
        if user_id is not None:
            sql += " AND r.user_id = ?"
            params.append(user_id)
        rows = await self.tx.fetchall(sql + " ORDER BY r.expires_at, r.id LIMIT ?", (*params, limit))
        return [_redemption(r) for r in rows]

    async def mark_refunded(self, redemption_id: int, now: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE redemptions SET refunded_at = ? WHERE id = ? AND used_at IS NULL AND refunded_at IS NULL"
            " AND expires_at <= ?",
            (to_ts(now), redemption_id, to_ts(now)),
        )
        return count == 1
