"""The monthly "best unit head" election as residents use it: votes and ballots, the published
results and the queries behind ``/vote``, ``/results`` and the staff's ``/election`` status. Staff's
controls (settings, shortlist, extend, cancel, repost, live turnout) are in
:class:`bot.services.elections.staff.ElectionStaffService`. The schedule, the tally and the
announcements run in :class:`bot.services.elections.cycle.ElectionCycle` (``ElectionService.tick``);
the rules (schedule, tie rule, secrecy) are described in :mod:`bot.services.elections.rules`."""

from __future__ import annotations

from datetime import datetime

from bot.clock import Clock
from bot.errors import Conflict, NotFound
from bot.models import Community, UserInfo
from bot.services.base import Calendars, ServiceBase
from bot.services.elections.cycle import ElectionCycle
from bot.services.elections.rules import (
    BallotPage,
    BuildingTurnout,
    CandidateRemoved,
    CandidateUnknown,
    ElectionResults,
    ElectionSettings,
    NoOpenElection,
    NotAResident,
    NotOnBallot,
    SelfVote,
    Standing,
    TickReport,
    Turnout,
    VoteOutcome,
    VotingClosed,
    VotingNotOpen,
)
from bot.services.routing import fmt_local
from storage.db import Database, Tx
from storage.elections import Election, ElectionsRepo
from storage.electorate import ElectorateRepo
from storage.registry import RegistryRepo


class ElectionService(ServiceBase):
    def __init__(self, db: Database, clock: Clock, calendars: Calendars) -> None:
        super().__init__(db, clock, calendars)
        self.cycle = ElectionCycle(db, clock, calendars)

    async def tick(self) -> TickReport:
        """Create, open and close what is due, then decide yearly titles (see :class:`ElectionCycle`)."""
        return await self.cycle.tick()

    async def settings_of(self, community_id: int) -> ElectionSettings:
        async with self.db.read() as tx:
            community = await self._community(tx, community_id)
        return ElectionSettings.from_settings(community.settings)

    async def latest_closed(self, community_id: int) -> Election | None:
        """The community's most recent closed election (for ``/results``)."""
        async with self.db.read() as tx:
            found = await ElectionsRepo(tx).of_community(community_id, ("closed",))
        return found[0] if found else None

    async def current_or_next(self, community_id: int) -> Election | None:
        """The open election, else the one waiting to open (for the staff's ``/election``)."""
        async with self.db.read() as tx:
            repo = ElectionsRepo(tx)
            found = await repo.of_community(community_id, ("open",)) or await repo.of_community(
                community_id, ("scheduled",)
            )
        return found[0] if found else None

    async def candidate_count(self, election_id: int) -> int:
        async with self.db.read() as tx:
            return await ElectionsRepo(tx).count_candidates(election_id)

    async def current(self, community_id: int) -> Election | None:
        """The community's open election (the latest one if, unusually, two are open)."""
        async with self.db.read() as tx:
            found = await ElectionsRepo(tx).of_community(community_id, ("open",))
        return found[0] if found else None

    async def ballot(
        self,
        building_id: int,
        page: int = 0,
        page_size: int | None = None,
        *,
        election_id: int | None = None,
        chat_id: int | None = None,
    ) -> BallotPage:
        """One page of the building's ballot in the open election (or in ``election_id``, which must
        be open: a closed or cancelled election's ballot is not shown). ``chat_id``: the chat a page
        button was pressed in, which must be the building's own (the ids are the presser's)."""
        now = self.clock.now()
        async with self.db.read() as tx:
            building = await RegistryRepo(tx).get_building(building_id)
            if building is None or (chat_id is not None and building.chat_id != chat_id):
                raise NotFound("error.building_unknown")
            community = await self._community(tx, building.community_id)
            repo = ElectionsRepo(tx)
            if election_id is None:
                found = await repo.of_community(community.id, ("open",))
                election = found[0] if found else None
            else:
                election = await repo.get(election_id)
            if election is None or election.community_id != community.id:
                raise NoOpenElection()
            self._must_be_open(election, now)
            size = page_size or ElectionSettings.from_settings(community.settings).page_size
            return await self.cycle.page(tx, election, building_id, page, size)

    async def vote(self, voter: UserInfo, election_id: int, candidate_id: int) -> VoteOutcome:
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = ElectionsRepo(tx)
            election = await repo.get(election_id)
            if election is None:
                raise NotFound("error.election_unknown")
            if election.state == "scheduled":
                raise VotingNotOpen(period=election.period)
            if election.state != "open" or now >= election.closes_at:
                raise VotingClosed(period=election.period)
            buildings = await ElectorateRepo(tx).resident_buildings(voter.id, election.community_id)
            if not buildings:
                raise NotAResident()
            candidate = await repo.candidate(election.id, candidate_id)
            if candidate is None:
                raise CandidateUnknown()
            if candidate.removed:
                raise CandidateRemoved(name=candidate.display)
            if candidate.user_id == voter.id:
                raise SelfVote()
            if election.scope == "own_building":  # any building whose ballot lists the candidate
                listed = await repo.buildings_of_candidate(election.id, candidate.user_id)
                shared = [b for b in buildings if b in listed]
                if not shared:
                    raise NotOnBallot(name=candidate.display, building=candidate.building_title)
                building_id = shared[0]
            else:
                building_id = buildings[0]
            previous = await repo.vote_of(election.id, voter.id)
            community = await self._community(tx, election.community_id)
            params: dict[str, object] = {
                "name": candidate.display,
                "unit": candidate.unit_name,
                "period": election.period,
                "closes": fmt_local(election.closes_at, community, now),
            }
            if previous == candidate.user_id:
                return VoteOutcome("done.vote_same", election.id, candidate.user_id, params)
            await repo.put_vote(election.id, voter.id, building_id, candidate.user_id, now)
        key = "done.vote_cast" if previous is None else "done.vote_changed"
        return VoteOutcome(key, election.id, candidate.user_id, params)

    async def my_vote(self, voter: UserInfo, election_id: int) -> int | None:
        """The voter's own current choice (to mark their button); nobody else's."""
        async with self.db.read() as tx:
            return await ElectionsRepo(tx).vote_of(election_id, voter.id)

    async def results(self, election_id: int) -> ElectionResults:
        """Published results of a closed election (counts only), with the turnout stored at closing."""
        async with self.db.read() as tx:
            election, community = await self._election(tx, election_id)
            if election.state != "closed":
                raise Conflict("error.election_not_closed", period=election.period)
            repo = ElectionsRepo(tx)
            candidates = {c.user_id: c for c in await repo.candidates(election.id, include_removed=True)}
            on_ballot = {
                (c.building_id, c.user_id): c for c in await repo.ballot_candidates(election.id, include_removed=True)
            }
            grouped: dict[int, list[Standing]] = {}
            stored_rows = await repo.results(election.id)
            for row in stored_rows:
                # a building's standings show the unit the candidate heads in that building
                c = on_ballot.get((row.building_id, row.candidate_id)) or candidates.get(row.candidate_id)
                if c is None:  # pragma: no cover - results reference candidates of the same election
                    continue
                grouped.setdefault(row.building_id, []).append(
                    Standing(c.user_id, c.display, c.unit_name, c.building_id, c.building_title, row.votes, row.rank)
                )
            turnout = await self._stored_turnout(tx, community, election)
        order = {c.user_id: (c.building_id, c.position) for c in candidates.values()}
        for rows in grouped.values():
            rows.sort(key=lambda s: (s.rank, order[s.candidate_id]))
        community_rows = tuple(grouped.pop(0, []))
        winners = tuple(s for s in community_rows if s.rank <= election.top_n and s.votes > 0)
        return ElectionResults(election, community_rows, {b: tuple(v) for b, v in grouped.items()}, turnout, winners)

    # --- lookups (ElectionStaffService uses them too) -------------------------------------------------
    async def _stored_turnout(self, tx: Tx, community: Community, election: Election) -> Turnout:
        """The turnout of every building as stored at closing (older elections: as their results kept it)."""
        repo = ElectionsRepo(tx)
        stored = await repo.stored_turnout(election.id)
        if not stored:
            stored = {r.building_id: (r.voters, r.eligible) for r in await repo.results(election.id)}
        titles = {b.id: b.title for b in await RegistryRepo(tx).buildings_of(community.id)}
        voters, eligible = stored.get(0, (0, 0))
        buildings = tuple(
            BuildingTurnout(b, titles.get(b, "?"), v, e) for b, (v, e) in sorted(stored.items()) if b != 0
        )
        return Turnout(election.id, election.period, election.state, buildings, voters, eligible)

    @staticmethod
    def _must_be_open(election: Election, now: datetime) -> None:
        if election.state == "scheduled":
            raise VotingNotOpen(period=election.period)
        if election.state != "open" or now >= election.closes_at:
            raise VotingClosed(period=election.period)

    async def _community(self, tx: Tx, community_id: int) -> Community:
        community = await RegistryRepo(tx).get_community(community_id)
        if community is None:
            raise NotFound()
        return community

    async def _election(self, tx: Tx, election_id: int) -> tuple[Election, Community]:
        election = await ElectionsRepo(tx).get(election_id)
        if election is None:
            raise NotFound("error.election_unknown")
        return election, await self._community(tx, election.community_id)
