"""The care list: households needing visits, the visit log, due moments and door-knocking rounds.
Repositories never commit (the services own the transactions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_ts, from_ts_opt, to_ts
from storage.db import Row, Tx


@dataclass(frozen=True)
class Household:
    id: int
    community_id: int
    building_id: int
    unit_id: int
    label: str
    need: str | None  # alone | elderly | disabled | ill
    every_days: int | None
    note: str
    state: str  # draft | active | removed
    step: str | None  # of a draft: label | need | freq | note
    created_by: int
    created_at: datetime
    next_due_at: datetime | None
    cycle: int


@dataclass(frozen=True)
class CareFigures:
    households: int
    overdue: int
    well: int  # visits in the period, by outcome
    help: int
    away: int


@dataclass(frozen=True)
class Visit:
    id: int
    household_id: int
    visitor_id: int
    outcome: str  # well | help | away
    visited_at: datetime
    round_id: int | None


@dataclass(frozen=True)
class CareDeadline:
    id: int
    household_id: int | None
    round_id: int | None
    kind: str  # due | missed_building | missed_staff | round_close
    due_for: datetime | None  # the visit's due moment it belongs to
    due_at: datetime


@dataclass(frozen=True)
class KnockRound:
    id: int
    community_id: int
    building_id: int
    started_by: int
    started_at: datetime
    closes_at: datetime
    state: str  # open | closed
    households: int


def _household(row: Row) -> Household:
    return Household(
        id=row["id"],
        community_id=row["community_id"],
        building_id=row["building_id"],
        unit_id=row["unit_id"],
        label=row["label"],
        need=row["need"],
        every_days=row["every_days"],
        note=row["note"],
        state=row["state"],
        step=row["step"],
        created_by=row["created_by"],
        created_at=from_ts(row["created_at"]),
        next_due_at=from_ts_opt(row["next_due_at"]),
        cycle=row["cycle"],
    )


def _round(row: Row) -> KnockRound:
    return KnockRound(
        id=row["id"],
        community_id=row["community_id"],
        building_id=row["building_id"],
        started_by=row["started_by"],
        started_at=from_ts(row["started_at"]),
        closes_at=from_ts(row["closes_at"]),
        state=row["state"],
        households=row["households"],
    )


class CareRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    # --- households -------------------------------------------------------------------------------
    async def get(self, household_id: int) -> Household | None:
        row = await self.tx.fetchone("SELECT * FROM care_households WHERE id = ?", (household_id,))
        return _household(row) if row else None

    async def draft_of(self, user_id: int) -> Household | None:
        row = await self.tx.fetchone(
            "SELECT * FROM care_households WHERE created_by = ? AND state = 'draft'", (user_id,)
        )
        return _household(row) if row else None

    async def start_draft(
        self, *, community_id: int, building_id: int, unit_id: int, user_id: int, now: datetime
    ) -> int:
        await self.drop_draft(user_id)
        return await self.tx.insert(
            "INSERT INTO care_households (community_id, building_id, unit_id, state, step, created_by, created_at)"
            " VALUES (?, ?, ?, 'draft', 'label', ?, ?) RETURNING id",
            (community_id, building_id, unit_id, user_id, to_ts(now)),
        )

    async def drop_draft(self, user_id: int) -> bool:
        count = await self.tx.execute(
            "DELETE FROM care_households WHERE created_by = ? AND state = 'draft'", (user_id,)
        )
        return count > 0

    async def set_draft(self, household_id: int, step: str, **fields: object) -> None:
        allowed = {"label", "need", "every_days", "note"}
        assert set(fields) <= allowed
        sets = "".join(f", {name} = ?" for name in fields)
        await self.tx.execute(
            f"UPDATE care_households SET step = ?{sets} WHERE id = ? AND state = 'draft'",  # noqa: S608
            (step, *fields.values(), household_id),
        )

    async def activate(self, household_id: int, next_due: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE care_households SET state = 'active', step = NULL, next_due_at = ?"
            " WHERE id = ? AND state = 'draft'",
            (to_ts(next_due), household_id),
        )
        return count == 1

    async def remove(self, household_id: int) -> bool:
        count = await self.tx.execute(
            "UPDATE care_households SET state = 'removed' WHERE id = ? AND state = 'active'", (household_id,)
        )
        return count == 1

    async def set_next_due(self, household_id: int, next_due: datetime, cycle: int) -> None:
        await self.tx.execute(
            "UPDATE care_households SET next_due_at = ?, cycle = ? WHERE id = ?", (to_ts(next_due), cycle, household_id)
        )

    async def of_units(self, unit_ids: list[int], limit: int) -> list[Household]:
        if not unit_ids:
            return []
        marks = ", ".join("?" for _ in unit_ids)
        rows = await self.tx.fetchall(
            f"SELECT * FROM care_households WHERE unit_id IN ({marks}) AND state = 'active'"  # noqa: S608
            " ORDER BY next_due_at, id LIMIT ?",
            (*unit_ids, limit),
        )
        return [_household(r) for r in rows]

    async def of_buildings(self, building_ids: list[int], limit: int) -> list[Household]:
        if not building_ids:
            return []
        marks = ", ".join("?" for _ in building_ids)
        rows = await self.tx.fetchall(
            f"SELECT * FROM care_households WHERE building_id IN ({marks}) AND state = 'active'"  # noqa: S608
            " ORDER BY next_due_at, id LIMIT ?",
            (*building_ids, limit),
        )
        return [_household(r) for r in rows]

    async def of_community(self, community_id: int, limit: int) -> list[Household]:
        rows = await self.tx.fetchall(
            "SELECT * FROM care_households WHERE community_id = ? AND state = 'active'"
            " ORDER BY next_due_at, id LIMIT ?",
            (community_id, limit),
        )
        return [_household(r) for r in rows]

    async def staff_communities(self, user_id: int, role: str) -> list[int]:
        """The communities whose staff the person is (the care list of all their buildings)."""
        rows = await self.tx.fetchall(
            "SELECT DISTINCT community_id FROM staff WHERE user_id = ? AND role = ?", (user_id, role)
        )
        return [int(r[0]) for r in rows]

    async def figures(self, community_id: int, since: datetime, now: datetime) -> CareFigures:
        """Counts only (never a label): the households on the list, those overdue now, and the
        visits recorded since ``since`` by outcome."""
        households = int(
            await self.tx.fetchval(
                "SELECT COUNT(*) FROM care_households WHERE community_id = ? AND state = 'active'", (community_id,)
            )
        )
        overdue = int(
            await self.tx.fetchval(
                "SELECT COUNT(*) FROM care_households WHERE community_id = ? AND state = 'active' AND next_due_at < ?",
                (community_id, to_ts(now)),
            )
        )
        rows = await self.tx.fetchall(
            "SELECT outcome, COUNT(*) AS n FROM care_visits WHERE community_id = ? AND visited_at >= ?"
            " GROUP BY outcome",
            (community_id, to_ts(since)),
        )
        by = {r["outcome"]: int(r["n"]) for r in rows}
        return CareFigures(households, overdue, by.get("well", 0), by.get("help", 0), by.get("away", 0))

    # --- visits -----------------------------------------------------------------------------------
    async def add_visit(
        self, household: Household, visitor_id: int, outcome: str, now: datetime, round_id: int | None
    ) -> int:
        return await self.tx.insert(
            "INSERT INTO care_visits (household_id, community_id, visitor_id, outcome, visited_at, round_id, cycle)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (household.id, household.community_id, visitor_id, outcome, to_ts(now), round_id, household.cycle),
        )

    async def visits(self, household_id: int, limit: int) -> list[Visit]:
        rows = await self.tx.fetchall(
            "SELECT * FROM care_visits WHERE household_id = ? ORDER BY id DESC LIMIT ?", (household_id, limit)
        )
        return [
            Visit(r["id"], r["household_id"], r["visitor_id"], r["outcome"], from_ts(r["visited_at"]), r["round_id"])
            for r in rows
        ]

    # --- due moments ------------------------------------------------------------------------------
    async def add_deadline(
        self,
        kind: str,
        due_at: datetime,
        *,
        household_id: int | None = None,
        round_id: int | None = None,
        due_for: datetime | None = None,
    ) -> None:
        await self.tx.execute(
            "INSERT INTO care_deadlines (household_id, round_id, kind, due_for, due_at) VALUES (?, ?, ?, ?, ?)",
            (household_id, round_id, kind, None if due_for is None else to_ts(due_for), to_ts(due_at)),
        )

    async def claim_due(self, now: datetime, limit: int) -> list[CareDeadline]:
        rows = await self.tx.fetchall(
            "SELECT * FROM care_deadlines WHERE done_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?"  # noqa: S608
            + self.tx.lock_clause(),
            (to_ts(now), limit),
        )
        return [
            CareDeadline(
                r["id"], r["household_id"], r["round_id"], r["kind"], from_ts_opt(r["due_for"]), from_ts(r["due_at"])
            )
            for r in rows
        ]

    async def finish_deadline(self, deadline_id: int, now: datetime, outcome: str) -> None:
        await self.tx.execute(
            "UPDATE care_deadlines SET done_at = ?, outcome = ? WHERE id = ? AND done_at IS NULL",
            (to_ts(now), outcome, deadline_id),
        )

    async def finish_household_deadlines(self, household_id: int, now: datetime, outcome: str) -> None:
        await self.tx.execute(
            "UPDATE care_deadlines SET done_at = ?, outcome = ? WHERE household_id = ? AND done_at IS NULL",
            (to_ts(now), outcome, household_id),
        )

    # --- door-knocking rounds ---------------------------------------------------------------------
    async def open_round(self, building_id: int) -> KnockRound | None:
        row = await self.tx.fetchone(
            "SELECT * FROM knock_rounds WHERE building_id = ? AND state = 'open'", (building_id,)
        )
        return _round(row) if row else None

    async def get_round(self, round_id: int) -> KnockRound | None:
        row = await self.tx.fetchone("SELECT * FROM knock_rounds WHERE id = ?", (round_id,))
        return _round(row) if row else None

    async def start_round(
        self, community_id: int, building_id: int, user_id: int, now: datetime, closes: datetime, households: int
    ) -> int | None:
        """None when the building has an open round already (a double tap, or two heads at once)."""
        row = await self.tx.fetchone(
            "INSERT INTO knock_rounds (community_id, building_id, started_by, started_at, closes_at, state, households)"
            " VALUES (?, ?, ?, ?, ?, 'open', ?) ON CONFLICT DO NOTHING RETURNING id",
            (community_id, building_id, user_id, to_ts(now), to_ts(closes), households),
        )
        return None if row is None else int(row[0])

    async def close_round(self, round_id: int) -> bool:
        count = await self.tx.execute(
            "UPDATE knock_rounds SET state = 'closed' WHERE id = ? AND state = 'open'", (round_id,)
        )
        return count == 1

    async def round_progress(self, round_id: int) -> dict[int, int]:
        """Unit id -> households of the round visited (well or help; not at home does not count)."""
        rows = await self.tx.fetchall(
            "SELECT h.unit_id, COUNT(DISTINCT v.household_id) AS n FROM care_visits v"
            " JOIN care_households h ON h.id = v.household_id"
            " WHERE v.round_id = ? AND v.outcome <> 'away' GROUP BY h.unit_id",
            (round_id,),
        )
        return {int(r["unit_id"]): int(r["n"]) for r in rows}

    async def unit_counts(self, building_id: int) -> dict[int, int]:
        rows = await self.tx.fetchall(
            "SELECT unit_id, COUNT(*) AS n FROM care_households WHERE building_id = ? AND state = 'active'"
            " GROUP BY unit_id",
            (building_id,),
        )
        return {int(r["unit_id"]): int(r["n"]) for r in rows}
