"""The election's clock: :meth:`ElectionCycle.tick` (run by the periodic sweep) creates, opens and
closes elections and decides yearly titles (:mod:`bot.services.elections.title`), catching up after
downtime; it also posts ballots and results. Every transition is a guarded update in an immediate
transaction, so a repeated tick or a second process never acts twice (the rules are described in
:mod:`bot.services.elections.rules`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.errors import NotFound
from bot.models import Building, Community, Notice, Priority
from bot.services.base import ServiceBase
from bot.services.elections.publish import (
    ballot_buttons,
    building_result,
    result_rows,
    staff_result,
    turnout_rows,
)
from bot.services.elections.rules import (
    MONTHLY,
    BallotPage,
    BuildingTurnout,
    ElectionResults,
    ElectionSettings,
    Standing,
    TickReport,
    Turnout,
    rank_standings,
    send_at,
)
from bot.services.elections.title import yearly_title
from bot.services.point_rules import record_award
from bot.services.routing import fmt_local
from storage.awards import AwardsRepo
from storage.db import Tx
from storage.elections import Candidate, Election, ElectionsRepo, TallyRow
from storage.electorate import ElectorateRepo
from storage.registry import RegistryRepo


class ElectionCycle(ServiceBase):
    async def tick(self) -> TickReport:
        """Create, open and close what is due (catching up after downtime), then decide yearly
        titles. Safe to run at any time, repeatedly and from several processes."""
        report = TickReport()
        now = self.clock.now()
        async with self.db.read() as tx:
            ids = await ElectorateRepo(tx).active_community_ids()
            communities = [c for c in [await RegistryRepo(tx).get_community(i) for i in ids] if c is not None]
        for community in communities:
            await self._schedule(community, now)
        async with self.db.read() as tx:
            due_open = await ElectionsRepo(tx).due_to_open(now)
        for election_id in due_open:
            outcome = await self._open(election_id, now)
            if outcome == "opened":
                report.opened += 1
            elif outcome == "missed":
                report.missed += 1
            elif outcome == "cancelled":
                report.cancelled += 1
            if outcome:
                report.details.append(f"{outcome}:{election_id}")
        async with self.db.read() as tx:
            due_close = await ElectionsRepo(tx).due_to_close(now)
        for election_id in due_close:
            if await self._close(election_id, now):
                report.closed += 1
                report.details.append(f"closed:{election_id}")
        for community in communities:
            if await yearly_title(self, community, now):
                report.titles += 1
                report.details.append(f"title:{community.id}")
        return report

    async def _schedule(self, community: Community, now: datetime) -> None:
        settings = ElectionSettings.from_settings(community.settings)
        if not settings.enabled:
            return
        tz = ZoneInfo(community.timezone)
        period, opens = settings.latest_opening(tz, now)
        async with self.db.read() as tx:
            repo = ElectionsRepo(tx)
            if await ElectorateRepo(tx).community_created_at(community.id) >= opens:
                return  # the community did not exist yet when this one should have opened
            if settings.schedule_since is not None and opens < settings.schedule_since:
                return  # the schedule was changed (or switched on) after it: it starts with the next one
            if await repo.by_period(community.id, period) is not None:
                return
        async with self.db.write() as tx:
            await ElectionsRepo(tx).create(
                community_id=community.id,
                period=period,
                opens_at=opens,
                closes_at=opens + timedelta(days=settings.duration_days),
                top_n=settings.top_n,
                scope=settings.scope,
                now=now,
            )

    async def _open(self, election_id: int, now: datetime) -> str | None:
        async with self.db.write() as tx:
            repo = ElectionsRepo(tx)
            election = await repo.claim(election_id)  # locked: several processes share the ticks
            if election is None or election.state != "scheduled" or election.opens_at > now:
                return None
            community = await self._community(tx, election.community_id)
            if not ElectionSettings.from_settings(community.settings).enabled:
                if not await repo.mark_cancelled(election.id, now, "disabled"):
                    return None
                await self.announce(
                    tx,
                    Notice(
                        community.staff_chat_id,
                        "election.staff_disabled",
                        {"period": election.period},
                        dedupe_key=f"el:{election.id}:disabled",
                    ),
                    community,
                    now,
                )
                return "cancelled"
            if election.closes_at <= now:
                if not await repo.mark_missed(election.id, now):
                    return None
                await self.announce(
                    tx,
                    Notice(
                        community.staff_chat_id,
                        "election.staff_missed",
                        {"period": election.period, "closes": fmt_local(election.closes_at, community, now)},
                        dedupe_key=f"el:{election.id}:missed",
                    ),
                    community,
                    now,
                )
                return "missed"
            if not await repo.mark_open(election.id, now):
                return None
            if not election.shortlisted:
                for position, head in enumerate(await ElectorateRepo(tx).unit_heads(community.id)):
                    await repo.add_candidate(election.id, head, position, "heads")
            await repo.snapshot_ballots(election.id, community.id)
            if await repo.count_candidates(election.id) == 0:
                await repo.mark_cancelled(election.id, now, "no_candidates")
                await self.announce(
                    tx,
                    Notice(
                        community.staff_chat_id,
                        "election.staff_no_candidates",
                        {"period": election.period},
                        dedupe_key=f"el:{election.id}:no_candidates",
                    ),
                    community,
                    now,
                )
                return "cancelled"
            opened = await repo.get(election.id)
            assert opened is not None
            posted = await self.post_ballots(tx, community, opened, now)
            late = now - opened.opens_at > timedelta(hours=1)
            await self.announce(
                tx,
                Notice(
                    community.staff_chat_id,
                    "election.staff_opened_late" if late else "election.staff_opened",
                    {
                        "period": opened.period,
                        "closes": fmt_local(opened.closes_at, community, now),
                        "candidates": await repo.count_candidates(opened.id),
                        "buildings": posted,
                    },
                    dedupe_key=f"el:{opened.id}:opened",
                ),
                community,
                now,
            )
            return "opened"

    async def _close(self, election_id: int, now: datetime) -> bool:
        async with self.db.write() as tx:
            repo = ElectionsRepo(tx)
            election = await repo.claim(election_id)  # locked: several processes share the ticks
            if election is None or election.state != "open" or election.closes_at > now:
                return False
            if not await repo.mark_closed(election.id, now):
                return False
            community = await self._community(tx, election.community_id)
            results = await self._tally(tx, community, election)
            await repo.add_results(election.id, result_rows(results))
            await repo.add_turnout(election.id, turnout_rows(results))
            for winner in results.winners:
                await AwardsRepo(tx).add_award(
                    community_id=community.id,
                    user_id=winner.candidate_id,
                    kind=MONTHLY,
                    period=election.period,
                    rank=winner.rank,
                    votes=winner.votes,
                    election_id=election.id,
                    now=now,
                )
                if winner.rank == 1:  # a monthly win also earns points (idempotent per election and person)
                    await record_award(
                        tx, community.id, winner.candidate_id, kind="election_win", ref_id=election.id, now=now
                    )
            await repo.forget_choices(election.id)
            await self._post_results(tx, community, election, results, now)
        return True

    async def _tally(self, tx: Tx, community: Community, election: Election) -> ElectionResults:
        repo = ElectionsRepo(tx)
        candidates = await repo.candidates(election.id)  # removed candidates are not counted
        active = {c.user_id for c in candidates}
        rows: list[TallyRow] = [r for r in await repo.tally(election.id) if r.candidate_id in active]
        total: dict[int, tuple[int, int]] = {}
        by_building: dict[int, dict[int, tuple[int, int]]] = {}
        for r in rows:
            votes, last = total.get(r.candidate_id, (0, 0))
            total[r.candidate_id] = (votes + r.votes, max(last, r.last_at))
            by_building.setdefault(r.building_id, {})[r.candidate_id] = (r.votes, r.last_at)
        community_standings = tuple(rank_standings(candidates, total))
        turnout = await self.turnout(tx, community, election)
        ballots: dict[int, list[Candidate]] = {}  # each building's ballot, with the unit headed there
        for cand in await repo.ballot_candidates(election.id):
            ballots.setdefault(cand.building_id, []).append(cand)
        buildings: dict[int, tuple[Standing, ...]] = {}
        for bt in turnout.buildings:
            counts = by_building.get(bt.building_id, {})
            if election.scope == "own_building":
                pool = ballots.get(bt.building_id, [])
            else:
                pool = [c for c in candidates if c.user_id in counts]
            if pool:
                buildings[bt.building_id] = tuple(rank_standings(pool, counts))
        winners = tuple(s for s in community_standings if s.rank <= election.top_n and s.votes > 0)
        return ElectionResults(election, community_standings, buildings, turnout, winners)

    async def turnout(self, tx: Tx, community: Community, election: Election) -> Turnout:
        repo = ElectionsRepo(tx)
        electorate = ElectorateRepo(tx)
        voters = await repo.voters_by_building(election.id)
        eligible = await electorate.eligible_by_building(community.id)
        titles = {b.id: b.title for b in await RegistryRepo(tx).buildings_of(community.id)}
        rows = tuple(
            BuildingTurnout(bid, titles.get(bid, "?"), voters.get(bid, 0), eligible.get(bid, 0))
            for bid in sorted(set(eligible) | set(voters))
        )
        return Turnout(
            election.id,
            election.period,
            election.state,
            rows,
            sum(voters.values()),
            await electorate.eligible_total(community.id),
        )

    async def announce(
        self, tx: Tx, notice: Notice, community: Community, now: datetime, deadline: datetime | None = None
    ) -> bool:
        """Queue an announcement by the daytime rule (:func:`send_at`; ``deadline``: the vote's closing)."""
        if notice.chat_id < 0:  # a fan-out to the building chats: after personal messages (outbox priority)
            notice = replace(notice, priority=Priority.BULK)
        return await self.queue(tx, notice, community, now, not_before=send_at(community, now, deadline))

    async def ballot_buildings(self, tx: Tx, community: Community, election: Election) -> list[Building]:
        buildings = [b for b in await RegistryRepo(tx).buildings_of(community.id) if b.active]
        if election.scope == "community":
            return buildings
        with_candidates = set(await ElectionsRepo(tx).candidate_buildings(election.id))
        return [b for b in buildings if b.id in with_candidates]

    async def post_ballots(
        self, tx: Tx, community: Community, election: Election, now: datetime, only: int | None = None
    ) -> int:
        posted = 0
        settings = ElectionSettings.from_settings(community.settings)
        for building in await self.ballot_buildings(tx, community, election):
            if only is not None and building.id != only:
                continue
            page = await self.page(tx, election, building.id, 0, settings.page_size)
            if not page.total:
                continue
            await self.announce(
                tx,
                Notice(
                    building.chat_id,
                    "election.ballot",
                    {
                        "period": election.period,
                        "closes": fmt_local(election.closes_at, community, now),
                        "building": building.title,
                        "candidates": page.total,
                        "page": page.page + 1,
                        "pages": page.pages,
                    },
                    buttons=ballot_buttons(page),
                    dedupe_key=f"el:{election.id}:ballot:{building.id}:{election.repost_seq}",
                ),
                community,
                now,
                election.closes_at,
            )
            posted += 1
        return posted

    async def _post_results(
        self, tx: Tx, community: Community, election: Election, results: ElectionResults, now: datetime
    ) -> None:
        for building in await RegistryRepo(tx).buildings_of(community.id):
            if not building.active:
                continue
            template, params = building_result(results, building)
            await self.announce(
                tx,
                Notice(building.chat_id, template, params, dedupe_key=f"el:{election.id}:result:{building.id}"),
                community,
                now,
            )
        template, params = staff_result(results)
        await self.announce(
            tx,
            Notice(community.staff_chat_id, template, params, dedupe_key=f"el:{election.id}:result:staff"),
            community,
            now,
        )
        for winner in results.winners:
            await self.announce(
                tx,
                Notice(
                    winner.candidate_id,
                    "election.award",
                    {"period": election.period, "rank": winner.rank, "votes": winner.votes},
                    user_id=winner.candidate_id,
                    dedupe_key=f"el:{election.id}:award:{winner.candidate_id}",
                ),
                community,
                now,
            )

    async def post_withdrawn(
        self, tx: Tx, community: Community, election: Election, candidate: Candidate, now: datetime
    ) -> None:
        """Tell the building chats whose ballot listed a candidate withdrawn from the open election
        that their voters may vote again (no voter is named)."""
        buildings = [b for b in await RegistryRepo(tx).buildings_of(community.id) if b.active]
        if election.scope == "own_building":  # (the candidate may have been the building's only one)
            theirs = set(await ElectionsRepo(tx).buildings_of_candidate(election.id, candidate.user_id))
            buildings = [b for b in buildings if b.id in theirs]
        for building in buildings:
            await self.announce(
                tx,
                Notice(
                    building.chat_id,
                    "election.withdrawn",
                    {"period": election.period, "name": candidate.display},
                    dedupe_key=f"el:{election.id}:withdrawn:{candidate.user_id}:{building.id}",
                ),
                community,
                now,
            )

    async def page(self, tx: Tx, election: Election, building_id: int, page: int, size: int) -> BallotPage:
        repo = ElectionsRepo(tx)
        scope = building_id if election.scope == "own_building" else None
        size = max(1, min(size, 20))
        total = await repo.count_candidates(election.id, building_id=scope)
        pages = max(1, -(-total // size))
        page = max(0, min(page, pages - 1))
        rows = await repo.candidates(election.id, building_id=scope, offset=page * size, limit=size)
        return BallotPage(
            election.id, building_id, election.period, election.closes_at, tuple(rows), page, pages, total
        )

    async def _community(self, tx: Tx, community_id: int) -> Community:
        community = await RegistryRepo(tx).get_community(community_id)
        if community is None:
            raise NotFound()
        return community
