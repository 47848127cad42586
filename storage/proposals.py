"""Residents' proposals: the proposals, their open ballots, the building's registered people and the
decisions kept in each building's history. Repositories never commit: the services own the
transactions; closing is a guarded update whose row count says who closed it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_ts, from_ts_opt, to_ts
from storage.db import Row, Tx


@dataclass(frozen=True)
class Proposal:
    id: int
    community_id: int
    building_id: int
    batch: str
    question: str
    options: tuple[str, ...]
    custom: bool
    mode: str  # per_resident | per_unit
    quorum_pct: int
    state: str  # open | closed | cancelled
    opened_by: int
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class Ballot:
    """A ballot as counted: no choice is linked to a name outside the count."""

    voter_id: int
    household: int  # the unit the voter lives in now
    cast_from: int  # the unit they last voted from
    option: int | None  # None once the choices are erased
    cast_at: int  # epoch seconds of the first vote


@dataclass(frozen=True)
class Decision:
    building_id: int
    proposal_id: int
    question: str
    outcome: str  # adopted | rejected | chosen | tie | no_quorum
    winner_option: int | None
    counts: tuple[int, ...]
    voters: int
    eligible: int
    households_voted: int
    households: int
    quorum_pct: int
    quorum_met: bool
    decided_at: datetime


def _proposal(row: Row) -> Proposal:
    return Proposal(
        id=row["id"],
        community_id=row["community_id"],
        building_id=row["building_id"],
        batch=row["batch"],
        question=row["question"],
        options=tuple(json.loads(row["options"])),
        custom=bool(row["custom"]),
        mode=row["mode"],
        quorum_pct=row["quorum_pct"],
        state=row["state"],
        opened_by=row["opened_by"],
        opened_at=from_ts(row["opened_at"]),
        closes_at=from_ts(row["closes_at"]),
        closed_at=from_ts_opt(row["closed_at"]),
    )


def _decision(row: Row) -> Decision:
    return Decision(
        building_id=row["building_id"],
        proposal_id=row["proposal_id"],
        question=row["question"],
        outcome=row["outcome"],
        winner_option=row["winner_option"],
        counts=tuple(json.loads(row["counts"])),
        voters=row["voters"],
        eligible=row["eligible"],
        households_voted=row["households_voted"],
        households=row["households"],
        quorum_pct=row["quorum_pct"],
        quorum_met=bool(row["quorum_met"]),
        decided_at=from_ts(row["decided_at"]),
    )


class ProposalsRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def create(
        self,
        *,
        community_id: int,
        building_id: int,
        batch: str,
        question: str,
        options: tuple[str, ...],
        custom: bool,
        mode: str,
        quorum_pct: int,
        opened_by: int,
        now: datetime,
        closes_at: datetime,
    ) -> int:
        return await self.tx.insert(
            "INSERT INTO proposals (community_id, building_id, batch, question, options, custom, mode, quorum_pct,"
            " state, opened_by, opened_at, closes_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?) RETURNING id",
            (
                community_id,
                building_id,
                batch,
                question,
                json.dumps(list(options), ensure_ascii=False),
                int(custom),
                mode,
                quorum_pct,
                opened_by,
                to_ts(now),
                to_ts(closes_at),
            ),
        )

    async def get(self, proposal_id: int) -> Proposal | None:
        row = await self.tx.fetchone("SELECT * FROM proposals WHERE id = ?", (proposal_id,))
        return _proposal(row) if row else None

    async def open_in_building(self, building_id: int) -> list[Proposal]:
        rows = await self.tx.fetchall(
            "SELECT * FROM proposals WHERE building_id = ? AND state = 'open' ORDER BY closes_at, id", (building_id,)
        )
        return [_proposal(r) for r in rows]

    async def due_to_close(self, now: datetime) -> list[int]:
        rows = await self.tx.fetchall(
            "SELECT id FROM proposals WHERE state = 'open' AND closes_at <= ? ORDER BY closes_at, id", (to_ts(now),)
        )
        return [r[0] for r in rows]

    async def mark_closed(self, proposal_id: int, now: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE proposals SET state = 'closed', closed_at = ? WHERE id = ? AND state = 'open' AND closes_at <= ?",
            (to_ts(now), proposal_id, to_ts(now)),
        )
        return count == 1

    async def mark_cancelled(self, proposal_id: int, now: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE proposals SET state = 'cancelled', closed_at = ? WHERE id = ? AND state = 'open'",
            (to_ts(now), proposal_id),
        )
        return count == 1

    # --- votes ----------------------------------------------------------------------------------
    async def ballot_of_voter(self, proposal_id: int, voter_id: int) -> Row | None:
        """The voter's ballot (one per person and proposal), whatever unit it was cast from."""
        return await self.tx.fetchone(
            "SELECT ballot_key, unit_id, option_index FROM proposal_votes WHERE proposal_id = ? AND voter_id = ?"
            " ORDER BY cast_at LIMIT 1",
            (proposal_id, voter_id),
        )

    async def put_vote(
        self, proposal_id: int, ballot_key: str, voter_id: int, unit_id: int, option: int, now: datetime
    ) -> None:
        await self.tx.execute(
            "INSERT INTO proposal_votes (proposal_id, ballot_key, voter_id, unit_id, option_index, cast_at, changed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (proposal_id, ballot_key) DO UPDATE SET"
            " option_index = excluded.option_index, unit_id = excluded.unit_id, changed_at = excluded.changed_at",
            (proposal_id, ballot_key, voter_id, unit_id, option, to_ts(now), to_ts(now)),
        )

    async def change_vote(self, proposal_id: int, voter_id: int, unit_id: int, option: int, now: datetime) -> None:
        """Change the voter's ballot; ``unit_id``: the unit they vote from now."""
        await self.tx.execute(
            "UPDATE proposal_votes SET unit_id = ?, option_index = ?, changed_at = ?"
            " WHERE proposal_id = ? AND voter_id = ?",
            (unit_id, option, to_ts(now), proposal_id, voter_id),
        )

    async def ballots(self, proposal_id: int, building_id: int, *, unit_id: int | None = None) -> list[Ballot]:
        """The ballots of people registered in the building now (or in ``unit_id`` of it), each with
        the unit they live in."""
        sql = (
            "SELECT v.voter_id, r.unit_id AS household, v.unit_id, v.option_index, v.cast_at FROM proposal_votes v"
            " JOIN residents r ON r.user_id = v.voter_id AND r.building_id = ? WHERE v.proposal_id = ?"
        )
        params: tuple[int, ...] = (building_id, proposal_id)
        if unit_id is not None:
            sql += " AND r.unit_id = ?"
            params = (building_id, proposal_id, unit_id)
        rows = await self.tx.fetchall(sql, params)
        return [Ballot(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def forget_choices(self, proposal_id: int) -> None:
        await self.tx.execute(
            "UPDATE proposal_votes SET option_index = NULL WHERE proposal_id = ? AND option_index IS NOT NULL",
            (proposal_id,),
        )

    # --- the building's registered people -------------------------------------------------------
    async def residents_count(self, building_id: int) -> int:
        return int(await self.tx.fetchval("SELECT COUNT(*) FROM residents WHERE building_id = ?", (building_id,)))

    async def households_count(self, building_id: int) -> int:
        """Households: units of the building with at least one registered resident."""
        return int(
            await self.tx.fetchval(
                "SELECT COUNT(DISTINCT unit_id) FROM residents WHERE building_id = ?", (building_id,)
            )
        )

    # --- decisions ------------------------------------------------------------------------------
    async def add_decision(self, decision: Decision) -> bool:
        count = await self.tx.execute(
            "INSERT INTO building_decisions (building_id, proposal_id, question, outcome, winner_option, counts,"
            " voters, eligible, households_voted, households, quorum_pct, quorum_met, decided_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (proposal_id) DO NOTHING",
            (
                decision.building_id,
                decision.proposal_id,
                decision.question,
                decision.outcome,
                decision.winner_option,
                json.dumps(list(decision.counts)),
                decision.voters,
                decision.eligible,
                decision.households_voted,
                decision.households,
                decision.quorum_pct,
                int(decision.quorum_met),
                to_ts(decision.decided_at),
            ),
        )
        return count == 1

    async def decision_of(self, proposal_id: int) -> Decision | None:
        row = await self.tx.fetchone("SELECT * FROM building_decisions WHERE proposal_id = ?", (proposal_id,))
        return _decision(row) if row else None

    async def decisions(self, building_id: int, limit: int = 20) -> list[Decision]:
        rows = await self.tx.fetchall(
            "SELECT * FROM building_decisions WHERE building_id = ? ORDER BY decided_at DESC, id DESC LIMIT ?",
            (building_id, limit),
        )
        return [_decision(r) for r in rows]
