"""Votes repositories: monthly elections (candidates, ballots, results), awards and yearly titles,
residents' proposals and the buildings' decision history.

Repositories never commit: the services own the transactions. State changes are guarded updates
(``... WHERE state = 'scheduled'``) whose row count tells the caller whether *it* made the change,
so a transition happens once even when two sweeps race.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_ts, from_ts_opt, to_ts
from bot.models import UserInfo
from storage.db import Row, Tx


# --- records --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Election:
    id: int
    community_id: int
    period: str  # "2026-10": the month the vote is about
    state: str  # scheduled | open | closed | cancelled | missed
    opens_at: datetime
    closes_at: datetime
    top_n: int
    scope: str  # own_building | community
    shortlisted: bool
    repost_seq: int
    note: str | None
    opened_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class Candidate:
    election_id: int
    user_id: int
    unit_id: int | None
    building_id: int
    building_title: str
    unit_name: str
    display: str
    position: int
    source: str  # heads | nominated
    removed: bool


@dataclass(frozen=True)
class TallyRow:
    building_id: int  # the voters' building
    candidate_id: int
    votes: int
    last_at: int  # when the latest of these votes was cast (epoch seconds)


@dataclass(frozen=True)
class HeadRow:
    user_id: int
    unit_id: int
    unit_name: str
    building_id: int
    display: str


@dataclass(frozen=True)
class ResultRow:
    building_id: int  # 0: the whole community
    candidate_id: int
    votes: int
    rank: int
    voters: int
    eligible: int


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


def _election(row: Row) -> Election:
    return Election(
        id=row["id"],
        community_id=row["community_id"],
        period=row["period"],
        state=row["state"],
        opens_at=from_ts(row["opens_at"]),
        closes_at=from_ts(row["closes_at"]),
        top_n=row["top_n"],
        scope=row["scope"],
        shortlisted=bool(row["shortlisted"]),
        repost_seq=row["repost_seq"],
        note=row["note"],
        opened_at=from_ts_opt(row["opened_at"]),
        closed_at=from_ts_opt(row["closed_at"]),
    )


def _candidate(row: Row) -> Candidate:
    return Candidate(
        election_id=row["election_id"],
        user_id=row["user_id"],
        unit_id=row["unit_id"],
        building_id=row["building_id"],
        building_title=row["title"],
        unit_name=row["unit_name"],
        display=row["display"],
        position=row["position"],
        source=row["source"],
        removed=row["removed_at"] is not None,
    )


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


def _display(row: Row) -> str:
    return UserInfo(
        id=row["user_id"], first_name=row["first_name"] or "", last_name=row["last_name"], username=row["username"]
    ).display


_CANDIDATE_SELECT = (
    "SELECT c.*, b.title FROM election_candidates c JOIN buildings b ON b.id = c.building_id WHERE c.election_id = ?"
)


class ElectionsRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    # --- communities and residents ------------------------------------------------------------
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

    async def unit_heads(self, community_id: int) -> list[HeadRow]:
        """Unit heads of the community's active buildings, by building and unit order; a person heading
        several units appears once, with their first unit."""
        rows = await self.tx.fetchall(
            "SELECT u.head_user_id AS user_id, u.id AS unit_id, u.name AS unit_name, u.building_id,"
            " us.first_name, us.last_name, us.username"
            " FROM units u JOIN buildings b ON b.id = u.building_id LEFT JOIN users us ON us.id = u.head_user_id"
            " WHERE b.community_id = ? AND b.active = 1 AND u.head_user_id IS NOT NULL"
            " ORDER BY b.id, u.position, u.id",
            (community_id,),
        )
        seen: set[int] = set()
        heads = []
        for r in rows:
            if r["user_id"] in seen:
                continue
            seen.add(r["user_id"])
            heads.append(HeadRow(r["user_id"], r["unit_id"], r["unit_name"], r["building_id"], _display(r)))
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

    # --- elections ------------------------------------------------------------------------------
    async def create(
        self,
        *,
        community_id: int,
        period: str,
        opens_at: datetime,
        closes_at: datetime,
        top_n: int,
        scope: str,
        now: datetime,
    ) -> bool:
        """A scheduled election; False when the community has one for this period already."""
        count = await self.tx.execute(
            "INSERT INTO elections (community_id, period, state, opens_at, closes_at, top_n, scope, created_at)"
            " VALUES (?, ?, 'scheduled', ?, ?, ?, ?, ?) ON CONFLICT (community_id, period) DO NOTHING",
            (community_id, period, to_ts(opens_at), to_ts(closes_at), top_n, scope, to_ts(now)),
        )
        return count == 1

    async def get(self, election_id: int) -> Election | None:
        row = await self.tx.fetchone("SELECT * FROM elections WHERE id = ?", (election_id,))
        return _election(row) if row else None

    async def by_period(self, community_id: int, period: str) -> Election | None:
        row = await self.tx.fetchone(
            "SELECT * FROM elections WHERE community_id = ? AND period = ?", (community_id, period)
        )
        return _election(row) if row else None

    async def of_community(self, community_id: int, states: Iterable[str]) -> list[Election]:
        wanted = list(states)
        marks = ", ".join("?" for _ in wanted)
        rows = await self.tx.fetchall(
            f"SELECT * FROM elections WHERE community_id = ? AND state IN ({marks}) ORDER BY period DESC, id DESC",  # noqa: S608 - placeholders only
            (community_id, *wanted),
        )
        return [_election(r) for r in rows]

    async def of_year(self, community_id: int, year: int) -> list[Election]:
        rows = await self.tx.fetchall(
            "SELECT * FROM elections WHERE community_id = ? AND period >= ? AND period <= ? ORDER BY period",
            (community_id, f"{year:04d}-01", f"{year:04d}-12"),
        )
        return [_election(r) for r in rows]

    async def due_to_open(self, now: datetime) -> list[int]:
        rows = await self.tx.fetchall(
            "SELECT id FROM elections WHERE state = 'scheduled' AND opens_at <= ? ORDER BY opens_at, id", (to_ts(now),)
        )
        return [r[0] for r in rows]

    async def due_to_close(self, now: datetime) -> list[int]:
        rows = await self.tx.fetchall(
            "SELECT id FROM elections WHERE state = 'open' AND closes_at <= ? ORDER BY closes_at, id", (to_ts(now),)
        )
        return [r[0] for r in rows]

    async def mark_open(self, election_id: int, now: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE elections SET state = 'open', opened_at = ?"
            " WHERE id = ? AND state = 'scheduled' AND opens_at <= ? AND closes_at > ?",
            (to_ts(now), election_id, to_ts(now), to_ts(now)),
        )
        return count == 1

    async def mark_missed(self, election_id: int, now: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE elections SET state = 'missed', closed_at = ?, note = 'down_during_window'"
            " WHERE id = ? AND state = 'scheduled' AND closes_at <= ?",
            (to_ts(now), election_id, to_ts(now)),
        )
        return count == 1

    async def mark_closed(self, election_id: int, now: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE elections SET state = 'closed', closed_at = ? WHERE id = ? AND state = 'open' AND closes_at <= ?",
            (to_ts(now), election_id, to_ts(now)),
        )
        return count == 1

    async def mark_cancelled(self, election_id: int, now: datetime, note: str) -> bool:
        count = await self.tx.execute(
            "UPDATE elections SET state = 'cancelled', closed_at = ?, note = ?"
            " WHERE id = ? AND state IN ('scheduled', 'open')",
            (to_ts(now), note, election_id),
        )
        return count == 1

    async def set_closes_at(self, election_id: int, closes_at: datetime, now: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE elections SET closes_at = ? WHERE id = ? AND state = 'open' AND closes_at > ?",
            (to_ts(closes_at), election_id, to_ts(now)),
        )
        return count == 1

    async def bump_repost(self, election_id: int) -> int:
        await self.tx.execute("UPDATE elections SET repost_seq = repost_seq + 1 WHERE id = ?", (election_id,))
        return int(await self.tx.fetchval("SELECT repost_seq FROM elections WHERE id = ?", (election_id,)))

    async def set_shortlisted(self, election_id: int, shortlisted: bool = True) -> None:
        await self.tx.execute("UPDATE elections SET shortlisted = ? WHERE id = ?", (int(shortlisted), election_id))

    # --- candidates -----------------------------------------------------------------------------
    async def add_candidate(self, election_id: int, head: HeadRow, position: int, source: str) -> bool:
        count = await self.tx.execute(
            "INSERT INTO election_candidates"
            " (election_id, user_id, unit_id, building_id, unit_name, display, position, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (election_id, user_id) DO NOTHING",
            (election_id, head.user_id, head.unit_id, head.building_id, head.unit_name, head.display, position, source),
        )
        return count == 1

    async def candidate(self, election_id: int, user_id: int) -> Candidate | None:
        row = await self.tx.fetchone(_CANDIDATE_SELECT + " AND c.user_id = ?", (election_id, user_id))
        return _candidate(row) if row else None

    async def candidates(
        self,
        election_id: int,
        *,
        building_id: int | None = None,
        include_removed: bool = False,
        offset: int = 0,
        limit: int = -1,
    ) -> list[Candidate]:
        sql = _CANDIDATE_SELECT
        params: list[object] = [election_id]
        if building_id is not None:
            sql += " AND c.building_id = ?"
            params.append(building_id)
        if not include_removed:
            sql += " AND c.removed_at IS NULL"
        sql += " ORDER BY c.building_id, c.position, c.user_id LIMIT ? OFFSET ?"
        rows = await self.tx.fetchall(sql, (*params, limit, offset))
        return [_candidate(r) for r in rows]

    async def count_candidates(self, election_id: int, *, building_id: int | None = None) -> int:
        sql = "SELECT COUNT(*) FROM election_candidates WHERE election_id = ? AND removed_at IS NULL"
        params: tuple[int, ...] = (election_id,)
        if building_id is not None:
            sql += " AND building_id = ?"
            params = (election_id, building_id)
        return int(await self.tx.fetchval(sql, params))

    async def candidate_buildings(self, election_id: int) -> list[int]:
        rows = await self.tx.fetchall(
            "SELECT DISTINCT building_id FROM election_candidates WHERE election_id = ? AND removed_at IS NULL"
            " ORDER BY building_id",
            (election_id,),
        )
        return [r[0] for r in rows]

    async def remove_candidate(self, election_id: int, user_id: int, now: datetime) -> bool:
        count = await self.tx.execute(
            "UPDATE election_candidates SET removed_at = ?"
            " WHERE election_id = ? AND user_id = ? AND removed_at IS NULL",
            (to_ts(now), election_id, user_id),
        )
        return count == 1

    async def delete_candidate(self, election_id: int, user_id: int) -> bool:
        count = await self.tx.execute(
            "DELETE FROM election_candidates WHERE election_id = ? AND user_id = ?", (election_id, user_id)
        )
        return count == 1

    # --- votes ----------------------------------------------------------------------------------
    async def vote_of(self, election_id: int, voter_id: int) -> int | None:
        """The candidate the voter chose (only the voter's own request may ask this)."""
        value = await self.tx.fetchval(
            "SELECT candidate_id FROM election_votes WHERE election_id = ? AND voter_id = ?", (election_id, voter_id)
        )
        return None if value is None else int(value)

    async def has_voted(self, election_id: int, voter_id: int) -> bool:
        return bool(
            await self.tx.fetchval(
                "SELECT 1 FROM election_votes WHERE election_id = ? AND voter_id = ?", (election_id, voter_id)
            )
        )

    async def put_vote(
        self, election_id: int, voter_id: int, building_id: int, candidate_id: int, now: datetime
    ) -> None:
        await self.tx.execute(
            "INSERT INTO election_votes (election_id, voter_id, building_id, candidate_id, cast_at, changed_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (election_id, voter_id) DO UPDATE SET"
            " building_id = excluded.building_id, candidate_id = excluded.candidate_id,"
            " changed_at = excluded.changed_at",
            (election_id, voter_id, building_id, candidate_id, to_ts(now), to_ts(now)),
        )

    async def tally(self, election_id: int) -> list[TallyRow]:
        """Counts per (voters' building, candidate): one pass over the covering index."""
        rows = await self.tx.fetchall(
            "SELECT building_id, candidate_id, COUNT(*), MAX(changed_at) FROM election_votes"
            " WHERE election_id = ? AND candidate_id IS NOT NULL GROUP BY building_id, candidate_id",
            (election_id,),
        )
        return [TallyRow(r[0], r[1], int(r[2]), int(r[3])) for r in rows]

    async def voters_by_building(self, election_id: int) -> dict[int, int]:
        rows = await self.tx.fetchall(
            "SELECT building_id, COUNT(*) FROM election_votes WHERE election_id = ? GROUP BY building_id",
            (election_id,),
        )
        return {r[0]: int(r[1]) for r in rows}

    async def forget_choices(self, election_id: int) -> None:
        """Ballot secrecy after closing: keep who took part, erase whom they chose."""
        await self.tx.execute(
            "UPDATE election_votes SET candidate_id = NULL WHERE election_id = ? AND candidate_id IS NOT NULL",
            (election_id,),
        )

    # --- results and awards ---------------------------------------------------------------------
    async def add_results(self, election_id: int, rows: Iterable[ResultRow]) -> None:
        await self.tx.executemany(
            "INSERT INTO election_results (election_id, building_id, candidate_id, votes, rank, voters, eligible)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (election_id, building_id, candidate_id) DO NOTHING",
            [(election_id, r.building_id, r.candidate_id, r.votes, r.rank, r.voters, r.eligible) for r in rows],
        )

    async def results(self, election_id: int) -> list[ResultRow]:
        rows = await self.tx.fetchall(
            "SELECT building_id, candidate_id, votes, rank, voters, eligible FROM election_results"
            " WHERE election_id = ? ORDER BY building_id, rank, candidate_id",
            (election_id,),
        )
        return [ResultRow(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    async def add_award(
        self,
        *,
        community_id: int,
        user_id: int,
        kind: str,
        period: str,
        rank: int,
        votes: int,
        election_id: int | None,
        now: datetime,
    ) -> bool:
        count = await self.tx.execute(
            "INSERT INTO awards (community_id, user_id, kind, period, rank, votes, election_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (community_id, kind, period, user_id) DO NOTHING",
            (community_id, user_id, kind, period, rank, votes, election_id, to_ts(now)),
        )
        return count == 1

    async def awards(self, community_id: int, kind: str, period_prefix: str = "") -> list[Row]:
        return await self.tx.fetchall(
            "SELECT * FROM awards WHERE community_id = ? AND kind = ? AND period LIKE ? ORDER BY period, rank, user_id",
            (community_id, kind, period_prefix + "%"),
        )

    async def year_standings(self, community_id: int, year: int) -> list[Row]:
        """Per person over the year's closed elections: monthly wins (rank 1), total community-wide
        votes and the earliest month won."""
        return await self.tx.fetchall(
            "SELECT r.candidate_id AS user_id, SUM(CASE WHEN r.rank = 1 AND r.votes > 0 THEN 1 ELSE 0 END) AS wins,"
            " SUM(r.votes) AS votes, MIN(CASE WHEN r.rank = 1 AND r.votes > 0 THEN e.period END) AS first_win"
            " FROM election_results r JOIN elections e ON e.id = r.election_id"
            " WHERE e.community_id = ? AND e.state = 'closed' AND e.period >= ? AND e.period <= ?"
            " AND r.building_id = 0 GROUP BY r.candidate_id",
            (community_id, f"{year:04d}-01", f"{year:04d}-12"),
        )

    async def claim_title(self, community_id: int, year: int, rule: str, winners: int, now: datetime) -> bool:
        count = await self.tx.execute(
            "INSERT INTO yearly_titles (community_id, year, rule, winners, decided_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (community_id, year) DO NOTHING",
            (community_id, year, rule, winners, to_ts(now)),
        )
        return count == 1

    async def title_decided(self, community_id: int, year: int) -> bool:
        return bool(
            await self.tx.fetchval(
                "SELECT 1 FROM yearly_titles WHERE community_id = ? AND year = ?", (community_id, year)
            )
        )

    async def last_candidate_snapshot(self, community_id: int, user_id: int) -> Candidate | None:
        """The person's most recent candidacy in this community (names for the yearly title)."""
        row = await self.tx.fetchone(
            "SELECT c.*, b.title FROM election_candidates c JOIN buildings b ON b.id = c.building_id"
            " JOIN elections e ON e.id = c.election_id WHERE e.community_id = ? AND c.user_id = ?"
            " ORDER BY e.period DESC LIMIT 1",
            (community_id, user_id),
        )
        return _candidate(row) if row else None


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
    async def ballot(self, proposal_id: int, ballot_key: str) -> Row | None:
        return await self.tx.fetchone(
            "SELECT voter_id, unit_id, option_index FROM proposal_votes WHERE proposal_id = ? AND ballot_key = ?",
            (proposal_id, ballot_key),
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

    async def tally(self, proposal_id: int) -> dict[int, int]:
        rows = await self.tx.fetchall(
            "SELECT option_index, COUNT(*) FROM proposal_votes WHERE proposal_id = ? AND option_index IS NOT NULL"
            " GROUP BY option_index",
            (proposal_id,),
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def participation(self, proposal_id: int) -> tuple[int, int]:
        """(ballots, distinct households = units) of the votes cast."""
        row = await self.tx.fetchone(
            "SELECT COUNT(*), COUNT(DISTINCT unit_id) FROM proposal_votes WHERE proposal_id = ?", (proposal_id,)
        )
        assert row is not None
        return int(row[0]), int(row[1])

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
