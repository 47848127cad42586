"""Awards (monthly winners, yearly titles) and the yearly title's decision record.

Each award is unique per community, kind, period and person, and a title is decided once per
community and year (``INSERT ... ON CONFLICT DO NOTHING``: the row count says who decided it).
"""

from __future__ import annotations

from datetime import datetime

from bot.clock import to_ts
from storage.db import Row, Tx
from storage.elections import Candidate, candidate_of_row


class AwardsRepo:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

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
        return candidate_of_row(row) if row else None
