"""Election repository: monthly elections, their candidates, the open ballots and the stored results.

Repositories never commit: the services own the transactions. State changes are guarded updates
(``... WHERE state = 'scheduled'``) whose row count tells the caller whether *it* made the change,
so a transition happens once even when two sweeps race. Who may vote and stand (residents, unit
heads) is read by :mod:`storage.electorate`, awards and yearly titles are in :mod:`storage.awards`,
residents' proposals in :mod:`storage.proposals`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_ts, from_ts_opt, to_ts
from storage.db import Row, Tx
from storage.electorate import ElectorateRepo, HeadRow


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
class ResultRow:
    building_id: int  # 0: the whole community
    candidate_id: int
    votes: int
    rank: int
    voters: int
    eligible: int


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


def candidate_of_row(row: Row) -> Candidate:
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


_CANDIDATE_SELECT = (
    "SELECT c.*, b.title FROM election_candidates c JOIN buildings b ON b.id = c.building_id WHERE c.election_id = ?"
)
# a candidate as listed on one building's ballot: the unit they head in that building
_BALLOT_SELECT = (
    "SELECT c.election_id, c.user_id, x.unit_id, x.building_id, x.unit_name, c.display, x.position, c.source,"
    " c.removed_at, b.title FROM election_candidates c"
    " JOIN election_candidate_buildings x ON x.election_id = c.election_id AND x.user_id = c.user_id"
    " JOIN buildings b ON b.id = x.building_id WHERE c.election_id = ?"
)


class ElectionsRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

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

    async def claim(self, election_id: int) -> Election | None:
        """The election, its row locked until this transaction ends (PostgreSQL); None if it does not
        exist or another process holds it now (that process is opening or closing it: skipped here)."""
        sql = "SELECT * FROM elections WHERE id = ?" + self.tx.lock_clause()  # noqa: S608 - a fixed clause
        row = await self.tx.fetchone(sql, (election_id,))
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

    async def replan(
        self, election_id: int, *, opens_at: datetime, closes_at: datetime, top_n: int, scope: str
    ) -> bool:
        """New schedule and rules for an election that has not opened yet."""
        count = await self.tx.execute(
            "UPDATE elections SET opens_at = ?, closes_at = ?, top_n = ?, scope = ?"
            " WHERE id = ? AND state = 'scheduled'",
            (to_ts(opens_at), to_ts(closes_at), top_n, scope, election_id),
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
        return candidate_of_row(row) if row else None

    async def candidates(
        self,
        election_id: int,
        *,
        building_id: int | None = None,
        include_removed: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Candidate]:
        """The candidates (each once, with their own unit), or those on ``building_id``'s ballot (with
        the unit they head in that building)."""
        params: list[object] = [election_id]
        if building_id is None:
            sql = _CANDIDATE_SELECT
            order = " ORDER BY c.building_id, c.position, c.user_id"
        else:
            sql = _BALLOT_SELECT + " AND x.building_id = ?"
            params.append(building_id)
            order = " ORDER BY x.position, c.user_id"
        if not include_removed:
            sql += " AND c.removed_at IS NULL"
        if limit is not None:  # portable paging (no "LIMIT -1", which PostgreSQL refuses)
            sql, order, params = sql, order + " LIMIT ? OFFSET ?", [*params, limit, offset]
        elif offset:
            raise ValueError("an offset needs a limit")
        rows = await self.tx.fetchall(sql + order, tuple(params))
        return [candidate_of_row(r) for r in rows]

    async def ballot_candidates(self, election_id: int, *, include_removed: bool = False) -> list[Candidate]:
        """Every (building, candidate) pair of the ballots, by building and ballot order."""
        sql = _BALLOT_SELECT + ("" if include_removed else " AND c.removed_at IS NULL")
        rows = await self.tx.fetchall(sql + " ORDER BY x.building_id, x.position, c.user_id", (election_id,))
        return [candidate_of_row(r) for r in rows]

    async def count_candidates(self, election_id: int, *, building_id: int | None = None) -> int:
        if building_id is None:
            sql = "SELECT COUNT(*) FROM election_candidates WHERE election_id = ? AND removed_at IS NULL"
            return int(await self.tx.fetchval(sql, (election_id,)))
        return int(
            await self.tx.fetchval(
                "SELECT COUNT(*) FROM election_candidate_buildings x JOIN election_candidates c"
                " ON c.election_id = x.election_id AND c.user_id = x.user_id"
                " WHERE x.election_id = ? AND x.building_id = ? AND c.removed_at IS NULL",
                (election_id, building_id),
            )
        )

    async def candidate_buildings(self, election_id: int) -> list[int]:
        """The buildings whose ballot lists somebody (not withdrawn)."""
        rows = await self.tx.fetchall(
            "SELECT DISTINCT x.building_id FROM election_candidate_buildings x JOIN election_candidates c"
            " ON c.election_id = x.election_id AND c.user_id = x.user_id"
            " WHERE x.election_id = ? AND c.removed_at IS NULL ORDER BY x.building_id",
            (election_id,),
        )
        return [r[0] for r in rows]

    async def buildings_of_candidate(self, election_id: int, user_id: int) -> list[int]:
        """The buildings whose ballot lists this candidate."""
        rows = await self.tx.fetchall(
            "SELECT building_id FROM election_candidate_buildings WHERE election_id = ? AND user_id = ?"
            " ORDER BY position, building_id",
            (election_id, user_id),
        )
        return [r[0] for r in rows]

    async def snapshot_ballots(self, election_id: int, community_id: int) -> None:
        """At opening: each candidate stands in their own building and in every other active building
        where they head a unit (with the first unit they head there)."""
        await self.tx.execute(
            "INSERT INTO election_candidate_buildings (election_id, user_id, building_id, unit_id, unit_name, position)"
            " SELECT election_id, user_id, building_id, unit_id, unit_name, position FROM election_candidates"
            " WHERE election_id = ? ON CONFLICT (election_id, building_id, user_id) DO NOTHING",
            (election_id,),
        )
        positions = {c.user_id: c.position for c in await self.candidates(election_id, include_removed=True)}
        for head in await ElectorateRepo(self.tx).headed_units(community_id):
            if head.user_id not in positions:
                continue
            await self.tx.execute(
                "INSERT INTO election_candidate_buildings"
                " (election_id, user_id, building_id, unit_id, unit_name, position) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (election_id, building_id, user_id) DO NOTHING",
                (election_id, head.user_id, head.building_id, head.unit_id, head.unit_name, positions[head.user_id]),
            )

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
        """Ballot secrecy after closing (or cancelling): keep who took part, erase whom they chose and
        the building of that candidate (0)."""
        await self.tx.execute(
            "UPDATE election_votes SET candidate_id = NULL, building_id = 0"
            " WHERE election_id = ? AND (candidate_id IS NOT NULL OR building_id <> 0)",
            (election_id,),
        )

    # --- results ---------------------------------------------------------------------------
    async def add_results(self, election_id: int, rows: Iterable[ResultRow]) -> None:
        await self.tx.executemany(
            "INSERT INTO election_results (election_id, building_id, candidate_id, votes, rank, voters, eligible)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (election_id, building_id, candidate_id) DO NOTHING",
            [(election_id, r.building_id, r.candidate_id, r.votes, r.rank, r.voters, r.eligible) for r in rows],
        )

    async def add_turnout(self, election_id: int, rows: Iterable[tuple[int, int, int]]) -> None:
        """(building, voters, eligible) of every building at closing; building 0: the community."""
        await self.tx.executemany(
            "INSERT INTO election_turnout (election_id, building_id, voters, eligible) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (election_id, building_id) DO NOTHING",
            [(election_id, b, v, e) for b, v, e in rows],
        )

    async def stored_turnout(self, election_id: int) -> dict[int, tuple[int, int]]:
        rows = await self.tx.fetchall(
            "SELECT building_id, voters, eligible FROM election_turnout WHERE election_id = ? ORDER BY building_id",
            (election_id,),
        )
        return {int(r[0]): (int(r[1]), int(r[2])) for r in rows}

    async def results(self, election_id: int) -> list[ResultRow]:
        rows = await self.tx.fetchall(
            "SELECT building_id, candidate_id, votes, rank, voters, eligible FROM election_results"
            " WHERE election_id = ? ORDER BY building_id, rank, candidate_id",
            (election_id,),
        )
        return [ResultRow(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]
