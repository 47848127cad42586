"""What the staff dashboard reads (bot.services.dashboard): who may see which communities,
buildings and units, the appeal list with its filters, an appeal's deadlines, open and overdue
counts per building and per head. Read-only; every list is bounded and read through an index
(migration 0030 and the partial indexes of 0009)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_ts, from_ts_opt, to_ts
from bot.models import OPEN_STATUSES, Appeal, Building, Community, Level, Role, Unit
from storage.appeals import _appeal
from storage.db import Tx
from storage.registry import _building, _community, _unit

_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
_ACTIVE = "status <> 'closed'"  # as in the WHERE clause of the partial indexes appeals_active_* (0009)


@dataclass(frozen=True)
class AppealFilter:
    """The list's filters (None: any). ``status`` is a Status value or "open"."""

    status: str | None = None
    category: str | None = None
    level: Level | None = None
    building_id: int | None = None
    overdue: bool = False
    before_id: int | None = None  # keyset paging: appeals older than this one


@dataclass(frozen=True)
class DeadlineRow:
    kind: str
    stage: int
    due_at: datetime
    done_at: datetime | None
    outcome: str | None


@dataclass(frozen=True)
class BuildingCounts:
    building_id: int
    open: int
    overdue: int


@dataclass(frozen=True)
class HeadLoad:
    user_id: int
    open: int
    overdue: int


class DashboardRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    # --- who sees what ---------------------------------------------------------------------------
    async def communities_with_role(self, user_id: int, role: Role) -> list[Community]:
        rows = await self.tx.fetchall(
            "SELECT c.* FROM communities c JOIN staff s ON s.community_id = c.id"
            " WHERE s.user_id = ? AND s.role = ? AND c.active = 1 ORDER BY c.id",
            (user_id, role.value),
        )
        return [_community(r) for r in rows]

    async def communities_of_street_chats(self, chat_ids: list[int]) -> list[Community]:
        """Every active community linked to one of these street office chats."""
        if not chat_ids:
            return []
        marks = ", ".join("?" for _ in chat_ids)
        rows = await self.tx.fetchall(
            f"SELECT * FROM communities WHERE street_chat_id IN ({marks}) AND active = 1 ORDER BY id",  # noqa: S608
            tuple(chat_ids),
        )
        return [_community(r) for r in rows]

    async def communities(self, ids: list[int]) -> list[Community]:
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = await self.tx.fetchall(f"SELECT * FROM communities WHERE id IN ({marks}) ORDER BY id", tuple(ids))  # noqa: S608
        return [_community(r) for r in rows]

    async def buildings_of_communities(self, community_ids: list[int], limit: int = 2000) -> list[Building]:
        if not community_ids:
            return []
        marks = ", ".join("?" for _ in community_ids)
        rows = await self.tx.fetchall(
            f"SELECT * FROM buildings WHERE community_id IN ({marks}) ORDER BY community_id, id LIMIT ?",  # noqa: S608
            (*community_ids, limit),
        )
        return [_building(r) for r in rows]

    async def buildings(self, ids: list[int]) -> list[Building]:
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = await self.tx.fetchall(f"SELECT * FROM buildings WHERE id IN ({marks}) ORDER BY id", tuple(ids))  # noqa: S608
        return [_building(r) for r in rows]

    async def units_of_buildings(self, building_ids: list[int]) -> list[Unit]:
        if not building_ids:
            return []
        marks = ", ".join("?" for _ in building_ids)
        rows = await self.tx.fetchall(
            f"SELECT * FROM units WHERE building_id IN ({marks}) ORDER BY building_id, position, id",  # noqa: S608
            tuple(building_ids),
        )
        return [_unit(r) for r in rows]

    # --- the appeal list -------------------------------------------------------------------------
    async def appeals(
        self,
        *,
        community_ids: list[int],
        building_ids: list[int],
        unit_ids: list[int],
        wanted: AppealFilter,
        now: datetime,
        limit: int,
    ) -> list[Appeal]:
        """The newest appeals (by id, descending) visible through any of the three id lists that
        match ``wanted``. Each visibility list is its own indexed query (appeals_*_recent), merged."""
        terms: list[str] = []
        params: list[object] = []
        active = wanted.overdue or wanted.status in (*OPEN_STATUSES, "open", "resolved")
        if active:  # what is not closed is read through the partial indexes (0009), not the history
            terms.append(_ACTIVE)
        if wanted.status == "open":
            terms.append(f"status IN ({_OPEN})")
        elif wanted.status is not None:
            terms.append("status = ?")
            params.append(wanted.status)
        if wanted.category is not None:
            terms.append("category = ?")
            params.append(wanted.category)
        if wanted.level is not None:
            terms.append("level = ?")
            params.append(int(wanted.level))
        if wanted.building_id is not None:
            terms.append("building_id = ?")
            params.append(wanted.building_id)
        if wanted.overdue:
            terms.append(f"status IN ({_OPEN}) AND due_at < ?")
            params.append(to_ts(now))
        if wanted.before_id is not None:
            terms.append("id < ?")
            params.append(wanted.before_id)
        extra = "".join(f" AND {t}" for t in terms)
        # "+id": sorting what is open (a few rows) beats walking the whole history newest first
        order = "+id DESC" if active else "id DESC"
        found: dict[int, Appeal] = {}
        for column, ids in (("community_id", community_ids), ("building_id", building_ids), ("unit_id", unit_ids)):
            if not ids:
                continue
            marks = ", ".join("?" for _ in ids)
            rows = await self.tx.fetchall(
                f"SELECT * FROM appeals WHERE {column} IN ({marks}){extra} ORDER BY {order} LIMIT ?",  # noqa: S608
                (*ids, *params, limit),
            )
            for row in rows:
                found.setdefault(row["id"], _appeal(row))
        return sorted(found.values(), key=lambda a: -a.id)[:limit]

    async def deadlines(self, appeal_id: int, limit: int = 200) -> list[DeadlineRow]:
        rows = await self.tx.fetchall(
            "SELECT kind, stage, due_at, done_at, outcome FROM deadlines WHERE appeal_id = ?"
            " ORDER BY due_at, id LIMIT ?",
            (appeal_id, limit),
        )
        return [
            DeadlineRow(r["kind"], r["stage"], from_ts(r["due_at"]), from_ts_opt(r["done_at"]), r["outcome"])
            for r in rows
        ]

    # --- counts ----------------------------------------------------------------------------------
    async def open_by_building(self, building_ids: list[int], now: datetime) -> list[BuildingCounts]:
        """Open and overdue appeals per building, through appeals_active_building (what is open,
        never the history)."""
        if not building_ids:
            return []
        marks = ", ".join("?" for _ in building_ids)
        rows = await self.tx.fetchall(
            f"SELECT building_id, COUNT(*) AS open_count,"  # noqa: S608
            " SUM(CASE WHEN due_at < ? THEN 1 ELSE 0 END) AS overdue"
            f" FROM appeals WHERE building_id IN ({marks}) AND {_ACTIVE} AND status IN ({_OPEN})"
            " GROUP BY building_id",
            (to_ts(now), *building_ids),
        )
        return [BuildingCounts(r["building_id"], int(r["open_count"]), int(r["overdue"] or 0)) for r in rows]

    async def load_of_heads(self, user_ids: list[int], now: datetime) -> list[HeadLoad]:
        """Open and overdue appeals each head holds now (appeals_active_assignee)."""
        if not user_ids:
            return []
        marks = ", ".join("?" for _ in user_ids)
        rows = await self.tx.fetchall(
            f"SELECT assignee_user_id, COUNT(*) AS open_count,"  # noqa: S608
            " SUM(CASE WHEN due_at < ? THEN 1 ELSE 0 END) AS overdue"
            f" FROM appeals WHERE assignee_user_id IN ({marks}) AND {_ACTIVE} AND status IN ({_OPEN})"
            " GROUP BY assignee_user_id",
            (to_ts(now), *user_ids),
        )
        return [HeadLoad(r["assignee_user_id"], int(r["open_count"]), int(r["overdue"] or 0)) for r in rows]
