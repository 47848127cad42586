"""Electorate repository: who may vote and who may stand, read from the registry's tables for the
elections and proposals (active communities, residents per building, unit heads).

Read-only queries; repositories never commit (the services own the transactions). Elections, their
candidates and votes are in :mod:`storage.elections`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_ts
from bot.models import UserInfo
from storage.db import Row, Tx


@dataclass(frozen=True)
class HeadRow:
    user_id: int
    unit_id: int
    unit_name: str
    building_id: int
    display: str


def _display(row: Row) -> str:
    return UserInfo(
        id=row["user_id"], first_name=row["first_name"] or "", last_name=row["last_name"], username=row["username"]
    ).display


class ElectorateRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def active_community_ids(self) -> list[int]:
        rows = await self.tx.fetchall("SELECT id FROM communities WHERE active = 1 ORDER BY id")
        return [r[0] for r in rows]

    async def community_created_at(self, community_id: int) -> datetime:
        return from_ts(int(await self.tx.fetchval("SELECT created_at FROM communities WHERE id = ?", (community_id,))))

    async def resident_buildings(self, user_id: int, community_id: int) -> list[int]:
        """The voter's buildings in this community, earliest registration first."""
        rows = await self.tx.fetchall(
            "SELECT r.building_id FROM residents r JOIN buildings b ON b.id = r.building_id"
            " WHERE r.user_id = ? AND b.community_id = ? ORDER BY r.joined_at, r.building_id",
            (user_id, community_id),
        )
        return [r[0] for r in rows]

    async def eligible_by_building(self, community_id: int) -> dict[int, int]:
        """Registered residents per building (every building of the community, zero included)."""
        rows = await self.tx.fetchall("SELECT id FROM buildings WHERE community_id = ? ORDER BY id", (community_id,))
        counts: dict[int, int] = {}
        for row in rows:  # one index range per building; (user_id, building_id) is unique
            counts[row[0]] = int(
                await self.tx.fetchval("SELECT COUNT(*) FROM residents WHERE building_id = ?", (row[0],))
            )
        return counts

    async def eligible_total(self, community_id: int) -> int:
        return int(
            await self.tx.fetchval(
                "SELECT COUNT(*) FROM (SELECT user_id FROM residents"
                " WHERE building_id IN (SELECT id FROM buildings WHERE community_id = ?) GROUP BY user_id) AS people",
                (community_id,),
            )
        )

    async def headed_units(self, community_id: int) -> list[HeadRow]:
        """Every headed unit of the community's active buildings, by building and unit order."""
        rows = await self.tx.fetchall(
            "SELECT u.head_user_id AS user_id, u.id AS unit_id, u.name AS unit_name, u.building_id,"
            " us.first_name, us.last_name, us.username"
            " FROM units u JOIN buildings b ON b.id = u.building_id LEFT JOIN users us ON us.id = u.head_user_id"
            " WHERE b.community_id = ? AND b.active = 1 AND u.head_user_id IS NOT NULL"
            " ORDER BY b.id, u.position, u.id",
            (community_id,),
        )
        return [HeadRow(r["user_id"], r["unit_id"], r["unit_name"], r["building_id"], _display(r)) for r in rows]

    async def unit_heads(self, community_id: int) -> list[HeadRow]:
        """Unit heads of the community's active buildings, by building and unit order; a person heading
        several units appears once, with their first unit."""
        seen: set[int] = set()
        heads = []
        for head in await self.headed_units(community_id):
            if head.user_id in seen:
                continue
            seen.add(head.user_id)
            heads.append(head)
        return heads

    async def unit_head(self, unit_id: int) -> HeadRow | None:
        row = await self.tx.fetchone(
            "SELECT u.head_user_id AS user_id, u.id AS unit_id, u.name AS unit_name, u.building_id,"
            " us.first_name, us.last_name, us.username"
            " FROM units u LEFT JOIN users us ON us.id = u.head_user_id WHERE u.id = ? AND u.head_user_id IS NOT NULL",
            (unit_id,),
        )
        return (
            HeadRow(row["user_id"], row["unit_id"], row["unit_name"], row["building_id"], _display(row))
            if row
            else None
        )
