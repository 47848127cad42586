"""The statistics' reads of the care list and of micro-wishes (issue 12, docs/stats.md): counts and
moments only, never a household's label or note, never a wish's words. Each read is one index
range of a community's period (migration 0051) or of what is current now (0045, 0046)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import to_ts
from storage.db import Tx
from storage.stats import ScopeFilter

#: The care_deadlines rows a due visit leaves (the sweep's chain: due -> missed_building -> missed_staff).
DUE_KINDS = ("due", "missed_building", "missed_staff")


@dataclass(frozen=True)
class DueRow:
    """One row of a due visit's chain: the visit due at ``due_for`` of a household."""

    household_id: int
    building_id: int
    kind: str
    due_for: int
    done_at: int | None
    outcome: str | None  # visited:well|help|away, reminded, building_head, staff, removed, skipped...


@dataclass(frozen=True)
class RoundRow:
    round_id: int
    building_id: int
    households: int  # on the care list of the building when the round began
    visited: int  # distinct households visited in the round (well or help; not at home does not count)


@dataclass(frozen=True)
class WishRow:
    building_id: int
    state: str
    posted_at: int
    claimed_at: int | None


class CareStatsRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def households_now(self, where: ScopeFilter) -> dict[int, int]:
        """Building id -> households on the care list now (index care_building / care_community)."""
        terms, values = where.sql()
        rows = await self.tx.fetchall(
            f"SELECT building_id, COUNT(*) FROM care_households WHERE {terms} AND state = 'active'"  # noqa: S608
            " GROUP BY building_id",
            tuple(values),
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def visits(self, where: ScopeFilter, start: datetime, end: datetime) -> dict[tuple[int, str], int]:
        """(building id, outcome) -> visits recorded in ``[start, end)`` (index care_visits_community)."""
        terms, values = where.sql("h")
        rows = await self.tx.fetchall(
            "SELECT h.building_id, v.outcome, COUNT(*) FROM care_visits v"  # noqa: S608
            " JOIN care_households h ON h.id = v.household_id"
            f" WHERE v.community_id = ? AND v.visited_at >= ? AND v.visited_at < ? AND {terms}"
            " GROUP BY h.building_id, v.outcome",
            (where.community_id, to_ts(start), to_ts(end), *values),
        )
        return {(int(r[0]), str(r[1])): int(r[2]) for r in rows}

    async def dues(self, where: ScopeFilter, start: datetime, end: datetime) -> list[DueRow]:
        """Every row of the chains of the visits due in ``[start, end)`` of the scope's households
        (index care_community, then care_deadlines_household_due per household)."""
        terms, values = where.sql("h")
        marks = ", ".join("?" for _ in DUE_KINDS)
        rows = await self.tx.fetchall(
            "SELECT d.household_id, h.building_id, d.kind, d.due_for, d.done_at, d.outcome"  # noqa: S608
            " FROM care_households h JOIN care_deadlines d ON d.household_id = h.id"
            f" WHERE {terms} AND h.state <> 'draft' AND d.kind IN ({marks}) AND d.due_for >= ? AND d.due_for < ?",
            (*values, *DUE_KINDS, to_ts(start), to_ts(end)),
        )
        return [DueRow(int(r[0]), int(r[1]), str(r[2]), int(r[3]), r[4], r[5]) for r in rows]

    async def rounds(self, where: ScopeFilter, start: datetime, end: datetime) -> list[RoundRow]:
        """Door-knocking rounds started in ``[start, end)`` (index knock_rounds_community_started),
        with the households visited in each (index care_visits_round). A round is a building's:
        a scope of some units has none."""
        if where.unit_ids:
            return []
        terms, values = where.sql("r")
        rows = await self.tx.fetchall(
            "SELECT r.id, r.building_id, r.households,"  # noqa: S608
            " (SELECT COUNT(DISTINCT v.household_id) FROM care_visits v WHERE v.round_id = r.id"
            "  AND v.outcome <> 'away')"
            f" FROM knock_rounds r WHERE {terms} AND r.started_at >= ? AND r.started_at < ? ORDER BY r.id",
            (*values, to_ts(start), to_ts(end)),
        )
        return [RoundRow(int(r[0]), int(r[1]), int(r[2]), int(r[3] or 0)) for r in rows]

    async def wishes_posted(self, where: ScopeFilter, start: datetime, end: datetime) -> list[WishRow]:
        """The wishes posted in ``[start, end)`` with their state now (index wishes_community_posted)."""
        terms, values = where.sql()
        rows = await self.tx.fetchall(
            f"SELECT building_id, state, posted_at, claimed_at FROM wishes WHERE {terms}"  # noqa: S608
            " AND posted_at >= ? AND posted_at < ? AND state <> 'draft'",
            (*values, to_ts(start), to_ts(end)),
        )
        return [WishRow(int(r[0]), str(r[1]), int(r[2]), r[3]) for r in rows]

    async def wishes_now(self, where: ScopeFilter) -> dict[tuple[int, str], int]:
        """(building id, state) -> wishes open or claimed now (index wishes_community_state)."""
        terms, values = where.sql()
        rows = await self.tx.fetchall(
            f"SELECT building_id, state, COUNT(*) FROM wishes WHERE {terms} AND state IN ('open', 'claimed')"  # noqa: S608
            " GROUP BY building_id, state",
            tuple(values),
        )
        return {(int(r[0]), str(r[1])): int(r[2]) for r in rows}
