"""Residents' proposals: a question put to a building (or to every building of a community), voted
by button, closed by the sweep, kept in the building's history of decisions. The options, households
and modes, which ballots count, the quorum and the verdict are described (and decided) in
:mod:`bot.services.proposal_rules`.

Who may open
    Community staff (any building, or all buildings at once: one proposal per building sharing a
    ``batch``, each with its own quorum and result) and the building head (their building only).

Closing is done by :meth:`ProposalService.tick` (catching up after downtime) with a guarded update,
so it happens exactly once.

Announcements (the ballot, the result, the withdrawal notice) follow the elections' daytime rule
(:func:`bot.services.elections.send_at`): at once 08:00-21:00 local on any day, otherwise at the
next 08:00; a ballot whose vote closes before that morning goes out at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.models import Building, Community, Notice, Priority, Role, UserInfo
from bot.services.base import ServiceBase
from bot.services.elections import NotAResident, NotOnBallot, VotingClosed, send_at
from bot.services.metoo.decided import proposal_finished
from bot.services.proposal_rules import (
    MAX_DURATION,
    MIN_DURATION,
    MODES,
    QUESTION_MAX,
    HouseholdVoted,
    OptionUnknown,
    ProposalStatus,
    ProposalVote,
    clean_options,
    count_ballots,
    holder_rank,
    option_buttons,
    quorum_met,
    result_params,
    verdict,
)
from bot.services.routing import fmt_local
from storage.db import Tx
from storage.electorate import ElectorateRepo
from storage.proposals import Decision, Proposal, ProposalsRepo
from storage.registry import RegistryRepo


class ProposalService(ServiceBase):
    async def open(
        self,
        actor: UserInfo,
        *,
        community_id: int,
        building_id: int | None,
        question: str,
        closes_at: datetime,
        options: Sequence[str] | None = None,
        quorum_pct: int = 50,
        mode: str = "per_resident",
    ) -> list[Proposal]:
        """Open a proposal in ``building_id``, or (``None``, staff only) in every active building."""
        if mode not in MODES:
            raise InvalidInput("error.proposal_mode", choices=", ".join(MODES))
        if not 0 <= quorum_pct <= 100:
            raise InvalidInput("error.proposal_quorum")
        question = " ".join(question.split())
        if not 3 <= len(question) <= QUESTION_MAX:
            raise InvalidInput("error.proposal_question", max=QUESTION_MAX)
        opts, custom = clean_options(options)
        now = self.clock.now()
        if closes_at.tzinfo is None or not now + MIN_DURATION <= closes_at <= now + MAX_DURATION:
            raise InvalidInput("error.proposal_closes", days=MAX_DURATION.days)
        async with self.db.write() as tx:
            reg = RegistryRepo(tx)
            community = await reg.get_community(community_id)
            if community is None:
                raise NotFound()
            is_staff = await reg.has_role(community.id, actor.id, Role.STAFF)
            if building_id is None:
                if not is_staff:
                    raise PermissionDenied("error.staff_only")
                buildings = [b for b in await reg.buildings_of(community.id) if b.active]
                if not buildings:
                    raise Conflict("error.proposal_no_buildings")
            else:
                building = await reg.get_building(building_id)
                if building is None or building.community_id != community.id or not building.active:
                    raise NotFound("error.building_unknown")
                if not is_staff and building.head_user_id != actor.id:
                    raise PermissionDenied("error.building_manager_only")
                buildings = [building]
            await reg.upsert_user(actor, now)
            batch = secrets.token_hex(6)
            repo = ProposalsRepo(tx)
            created: list[Proposal] = []
            for building in buildings:
                pid = await repo.create(
                    community_id=community.id,
                    building_id=building.id,
                    batch=batch,
                    question=question,
                    options=opts,
                    custom=custom,
                    mode=mode,
                    quorum_pct=quorum_pct,
                    opened_by=actor.id,
                    now=now,
                    closes_at=closes_at,
                )
                proposal = await repo.get(pid)
                assert proposal is not None
                created.append(proposal)
                await self._post_opened(tx, community, building, proposal, now)
            await self._announce(
                tx,
                Notice(
                    community.staff_chat_id,
                    "proposal.staff_opened",
                    {
                        "question": question,
                        "buildings": ", ".join(b.title for b in buildings),
                        "closes": fmt_local(closes_at, community, now),
                        "quorum": quorum_pct,
                        "mode_key": f"proposal.mode.{mode}",
                        "by": actor.display,
                    },
                    dedupe_key=f"pr:{batch}:staff",
                ),
                community,
                now,
            )
        return created

    async def _post_opened(
        self, tx: Tx, community: Community, building: Building, proposal: Proposal, now: datetime
    ) -> None:
        params: dict[str, object] = {
            "id": proposal.id,
            "question": proposal.question,
            "closes": fmt_local(proposal.closes_at, community, now),
            "quorum": proposal.quorum_pct,
            "mode_key": f"proposal.mode.{proposal.mode}",
            "building": building.title,
        }
        if proposal.custom:
            params["options"] = "\n".join(f"{i + 1}. {o}" for i, o in enumerate(proposal.options))
        await self._announce(
            tx,
            Notice(
                building.chat_id,
                "proposal.opened_custom" if proposal.custom else "proposal.opened",
                params,
                buttons=option_buttons(proposal),
                dedupe_key=f"pr:{proposal.id}:open",
            ),
            community,
            now,
            deadline=proposal.closes_at,
        )

    async def open_linked(
        self, tx: Tx, community: Community, building: Building, opener: UserInfo, question: str, closes_at: datetime
    ) -> Proposal:
        """A yes/no proposal in one building opened inside the caller's transaction (a major appeal
        put to the residents, :mod:`bot.services.metoo.residents`; the caller checked who may)."""
        now = self.clock.now()
        question = " ".join(question.split())[:QUESTION_MAX]
        if len(question) < 3:
            raise InvalidInput("error.proposal_question", max=QUESTION_MAX)
        opts, custom = clean_options(None)
        await RegistryRepo(tx).upsert_user(opener, now)
        repo = ProposalsRepo(tx)
        pid = await repo.create(
            community_id=community.id,
            building_id=building.id,
            batch=secrets.token_hex(6),
            question=question,
            options=opts,
            custom=custom,
            mode="per_resident",
            quorum_pct=50,  # as /propose by default
            opened_by=opener.id,
            now=now,
            closes_at=closes_at,
        )
        proposal = await repo.get(pid)
        assert proposal is not None
        await self._post_opened(tx, community, building, proposal, now)
        return proposal

    async def vote(self, voter: UserInfo, proposal_id: int, option: int) -> ProposalVote:
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = ProposalsRepo(tx)
            proposal = await repo.get(proposal_id)
            if proposal is None:
                raise NotFound("error.proposal_unknown")
            if proposal.state != "open" or now >= proposal.closes_at:
                raise VotingClosed(question=proposal.question[:80])
            unit = await RegistryRepo(tx).resident_unit(voter.id, proposal.building_id)
            if unit is None:
                if await ElectorateRepo(tx).resident_buildings(voter.id, proposal.community_id):
                    raise NotOnBallot(question=proposal.question[:80])
                raise NotAResident()
            if not 0 <= option < len(proposal.options):
                raise OptionUnknown()
            mine = await repo.ballot_of_voter(proposal.id, voter.id)  # one per person, wherever cast
            if proposal.mode == "per_unit":  # the unit's vote is held by another resident of it?
                here = await repo.ballots(proposal.id, proposal.building_id, unit_id=unit.id)
                holder = min(here, key=holder_rank, default=None)
                if holder is not None and holder.voter_id != voter.id:
                    raise HouseholdVoted(unit=unit.name)
            label = proposal.options[option]
            params: dict[str, object] = {"question": proposal.question, "id": proposal.id}
            if proposal.custom:
                params["option"] = label
            else:
                params["option_key"] = f"proposal.option.{label}"
            same = mine is not None and mine["option_index"] == option
            if mine is None:
                await repo.put_vote(proposal.id, f"r{voter.id}", voter.id, unit.id, option, now)
            elif not same or mine["unit_id"] != unit.id:  # changed, or cast from the unit they left
                await repo.change_vote(proposal.id, voter.id, unit.id, option, now)
        if same:
            return ProposalVote("done.proposal_vote_same", proposal.id, option, params)
        key = "done.proposal_vote_cast" if mine is None else "done.proposal_vote_changed"
        return ProposalVote(key, proposal.id, option, params)

    async def cancel(
        self, actor: UserInfo, proposal_id: int, *, community_id: int | None = None, building_id: int | None = None
    ) -> Proposal:
        """The opener or staff withdraw an open proposal; nothing is decided. ``community_id`` and
        ``building_id``: those of the chat the request was sent in (a building chat cancels only its
        own building's proposals, a staff chat its own community's)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            repo = ProposalsRepo(tx)
            proposal = await repo.get(proposal_id)
            elsewhere = proposal is not None and (
                (community_id is not None and proposal.community_id != community_id)
                or (building_id is not None and proposal.building_id != building_id)
            )
            if proposal is None or elsewhere:
                raise NotFound("error.proposal_unknown")
            reg = RegistryRepo(tx)
            if proposal.opened_by != actor.id and not await reg.has_role(proposal.community_id, actor.id, Role.STAFF):
                raise PermissionDenied("error.staff_only")
            if not await repo.mark_cancelled(proposal.id, now):
                raise VotingClosed(question=proposal.question[:80])
            await repo.forget_choices(proposal.id)
            community = await reg.get_community(proposal.community_id)
            building = await reg.get_building(proposal.building_id)
            assert community is not None and building is not None
            await self._announce(
                tx,
                Notice(
                    building.chat_id,
                    "proposal.cancelled",
                    {"id": proposal.id, "question": proposal.question},
                    dedupe_key=f"pr:{proposal.id}:cancel",
                ),
                community,
                now,
            )
            await proposal_finished(self, tx, community, proposal, None, now)  # its appeal goes on
            fresh = await repo.get(proposal.id)
        assert fresh is not None
        return fresh

    async def tick(self) -> int:
        """Close every proposal whose time has come (catching up after downtime); returns how many."""
        now = self.clock.now()
        async with self.db.read() as tx:
            due = await ProposalsRepo(tx).due_to_close(now)
        closed = 0
        for proposal_id in due:
            if await self._close(proposal_id, now):
                closed += 1
        return closed

    async def _close(self, proposal_id: int, now: datetime) -> bool:
        async with self.db.write() as tx:
            repo = ProposalsRepo(tx)
            proposal = await repo.get(proposal_id)
            if proposal is None or not await repo.mark_closed(proposal.id, now):
                return False
            counted = count_ballots(await repo.ballots(proposal.id, proposal.building_id), proposal.mode)
            counts = tuple(counted.counts.get(i, 0) for i in range(len(proposal.options)))
            voters, households_voted = counted.voters, counted.households
            households = await repo.households_count(proposal.building_id)
            eligible = households if proposal.mode == "per_unit" else await repo.residents_count(proposal.building_id)
            met = quorum_met(households_voted, households, proposal.quorum_pct)
            outcome, winner = verdict(counts, proposal.custom, met)
            decision = Decision(
                building_id=proposal.building_id,
                proposal_id=proposal.id,
                question=proposal.question,
                outcome=outcome,
                winner_option=winner,
                counts=counts,
                voters=voters,
                eligible=eligible,
                households_voted=households_voted,
                households=households,
                quorum_pct=proposal.quorum_pct,
                quorum_met=met,
                decided_at=now,
            )
            await repo.add_decision(decision)
            await repo.forget_choices(proposal.id)
            reg = RegistryRepo(tx)
            community = await reg.get_community(proposal.community_id)
            building = await reg.get_building(proposal.building_id)
            assert community is not None and building is not None
            params = result_params(proposal, decision)
            params["building"] = building.title
            template = "proposal.result_custom" if proposal.custom else "proposal.result"
            for chat_id, suffix in ((building.chat_id, "building"), (community.staff_chat_id, "staff")):
                await self._announce(
                    tx,
                    Notice(chat_id, template, params, dedupe_key=f"pr:{proposal.id}:result:{suffix}"),
                    community,
                    now,
                )
            await proposal_finished(self, tx, community, proposal, decision, now)  # opened from an appeal?
        return True

    async def status(self, proposal_id: int) -> ProposalStatus:
        async with self.db.read() as tx:
            repo = ProposalsRepo(tx)
            proposal = await repo.get(proposal_id)
            if proposal is None:
                raise NotFound("error.proposal_unknown")
            decision = await repo.decision_of(proposal.id)
            if decision is not None:
                return ProposalStatus(
                    proposal,
                    decision.voters,
                    decision.eligible,
                    decision.households_voted,
                    decision.households,
                    decision,
                )
            counted = count_ballots(await repo.ballots(proposal.id, proposal.building_id), proposal.mode)
            voters, households_voted = counted.voters, counted.households
            households = await repo.households_count(proposal.building_id)
            eligible = households if proposal.mode == "per_unit" else await repo.residents_count(proposal.building_id)
        return ProposalStatus(proposal, voters, eligible, households_voted, households, None)

    async def open_in_building(self, building_id: int) -> list[Proposal]:
        async with self.db.read() as tx:
            return await ProposalsRepo(tx).open_in_building(building_id)

    async def history(self, building_id: int, limit: int = 20) -> list[Decision]:
        """The building's decisions, newest first."""
        async with self.db.read() as tx:
            return await ProposalsRepo(tx).decisions(building_id, max(1, min(limit, 100)))

    async def _announce(
        self, tx: Tx, notice: Notice, community: Community, now: datetime, deadline: datetime | None = None
    ) -> bool:
        """Queue by the daytime rule (``deadline``: a ballot's closing moment, see :func:`send_at`)."""
        if notice.chat_id < 0:  # a fan-out to the building chats: after personal messages (outbox priority)
            notice = replace(notice, priority=Priority.BULK)
        return await self.queue(tx, notice, community, now, not_before=send_at(community, now, deadline))
