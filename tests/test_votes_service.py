"""Domain tests of the monthly election, the yearly title and residents' proposals.

The community is built through the storage repositories inside the harness's database; the
services are called directly, with ``h.clock`` moved between steps (nothing sleeps). Notices are
checked in the outbox, where the services put them in the same transaction as the change.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.models import Role, UserInfo
from bot.services.elections import (
    CandidateRemoved,
    ElectionService,
    ElectionStaffService,
    NotAResident,
    NotOnBallot,
    SelfVote,
    VotingClosed,
    VotingNotOpen,
)
from bot.services.proposal_rules import HouseholdVoted, OptionUnknown
from bot.services.proposals import ProposalService
from storage.elections import ElectionsRepo
from storage.engines import open_database
from storage.proposals import ProposalsRepo
from storage.registry import RegistryRepo
from tests.harness import Harness, local

STAFF = UserInfo(1001, "Olga")
HA1, HA2 = UserInfo(3001, "Anna"), UserInfo(3002, "Boris")  # unit heads in house A
HB1, HB2 = UserInfo(3003, "Chen"), UserInfo(3004, "Dasha")  # unit heads in house B
HEAD_A = UserInfo(3100, "Egor")  # building head of house A
A1, A2, A3 = UserInfo(5001, "Ivy"), UserInfo(5002, "Jon"), UserInfo(5003, "Kim")  # residents of unit A1, A1, A2
A4, A5, A6 = UserInfo(5004, "Lev"), UserInfo(5005, "Mia"), UserInfo(5006, "Ned")  # residents of unit A3
B1, B2, B3, B4 = UserInfo(6001, "Oda"), UserInfo(6002, "Pia"), UserInfo(6003, "Quy"), UserInfo(6004, "Ron")
OUTSIDER = UserInfo(9001, "Zed")
STAFF_CHAT, CHAT_A, CHAT_B = -1009000000001, -1009000000002, -1009000000003
RESIDENT_IDS = {u.id for u in (A1, A2, A3, A4, A5, A6, B1, B2, B3, B4)}


@dataclass
class World:
    h: Harness
    community_id: int
    house_a: int
    house_b: int
    units: dict[str, int]
    elections: ElectionService
    election_staff: ElectionStaffService
    proposals: ProposalService

    async def outbox(self, template: str) -> list[dict[str, Any]]:
        async with self.h.services.db.read() as tx:
            rows = await tx.fetchall(
                "SELECT chat_id, template, params, dedupe_key FROM outbox WHERE template = ? ORDER BY id", (template,)
            )
        return [{**dict(r), "params": json.loads(r["params"])} for r in rows]

    async def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        async with self.h.services.db.read() as tx:
            return await tx.fetchval(sql, params)

    async def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        async with self.h.services.db.read() as tx:
            return [tuple(r) for r in await tx.fetchall(sql, params)]


async def build_world(h: Harness) -> World:
    """House A: units A1 (head Anna; residents Ivy, Jon, Anna), A2 (head Boris; Kim, Boris),
    A3 (no head; Lev, Mia, Ned). House B: B1 (head Chen; Oda, Pia), B2 (head Dasha; Quy, Ron)."""
    now = h.clock.now()
    everyone = (STAFF, HA1, HA2, HB1, HB2, HEAD_A, A1, A2, A3, A4, A5, A6, B1, B2, B3, B4, OUTSIDER)
    async with h.services.db.write() as tx:
        reg = RegistryRepo(tx)
        for person in everyone:
            await reg.upsert_user(person, now, started=True)
        cid = await reg.create_community(
            name="Sunny Side",
            staff_chat_id=STAFF_CHAT,
            timezone="Asia/Shanghai",
            country="CN",
            language="en",
            created_by=STAFF.id,
            now=now,
        )
        await reg.replace_staff(cid, Role.STAFF, [STAFF.id], now)
        house_a = await reg.create_building(cid, CHAT_A, "House A", now)
        house_b = await reg.create_building(cid, CHAT_B, "House B", now)
        await reg.set_building_head(house_a, HEAD_A.id)
        for building, names in ((house_a, ("A1", "A2", "A3")), (house_b, ("B1", "B2"))):
            for pos, name in enumerate(names, 1):
                await reg.add_unit(building, name, pos)
        units = {u.name: u.id for b in (house_a, house_b) for u in await reg.units_of(b)}
        for unit, head in (("A1", HA1), ("A2", HA2), ("B1", HB1), ("B2", HB2)):
            await reg.set_unit_head(units[unit], head.id)
        placement = {
            "A1": (A1, A2, HA1),
            "A2": (A3, HA2),
            "A3": (A4, A5, A6),
            "B1": (B1, B2),
            "B2": (B3, B4),
        }
        for unit, people in placement.items():
            building = house_a if unit.startswith("A") else house_b
            for person in people:
                await reg.set_resident(person.id, building, units[unit], now)
    calendars = h.services.registry.calendars
    elections = ElectionService(h.services.db, h.clock, calendars)
    return World(
        h,
        cid,
        house_a,
        house_b,
        units,
        elections,
        ElectionStaffService(elections),
        ProposalService(h.services.db, h.clock, calendars),
    )


async def open_november(w: World) -> int:
    w.h.clock.set(local(2026, 12, 1, 10, 0))
    report = await w.elections.tick()
    assert report.opened == 1, report
    election = await w.elections.current(w.community_id)
    assert election is not None and election.period == "2026-11"
    return election.id


async def cast(w: World, voter: UserInfo, election_id: int, candidate: UserInfo) -> str:
    w.h.clock.advance(timedelta(minutes=1))  # distinct moments: the tie order depends on them
    return (await w.elections.vote(voter, election_id, candidate.id)).key


# --- the monthly election ------------------------------------------------------------------------------
async def test_whole_monthly_election_across_two_buildings(h: Harness) -> None:
    w = await build_world(h)
    assert (await w.elections.tick()).total == 0  # created mid-November: nothing is due yet

    eid = await open_november(w)
    ballots = await w.outbox("election.ballot")
    assert sorted(b["chat_id"] for b in ballots) == sorted([CHAT_A, CHAT_B])
    assert len(await w.outbox("election.staff_opened")) == 1
    page = await w.elections.ballot(w.house_a)
    assert [c.user_id for c in page.candidates] == [HA1.id, HA2.id]
    assert [c.user_id for c in (await w.elections.ballot(w.house_b)).candidates] == [HB1.id, HB2.id]

    assert await cast(w, A1, eid, HA1) == "done.vote_cast"
    assert await cast(w, A2, eid, HA1) == "done.vote_cast"
    assert await cast(w, A3, eid, HA2) == "done.vote_cast"
    assert await cast(w, A3, eid, HA1) == "done.vote_changed"  # changed their mind
    assert await cast(w, A4, eid, HA2) == "done.vote_cast"
    assert await cast(w, A4, eid, HA2) == "done.vote_same"  # a double tap counts once
    with pytest.raises(SelfVote):
        await w.elections.vote(HA1, eid, HA1.id)
    assert await cast(w, HA1, eid, HA2) == "done.vote_cast"  # a unit head may vote for another
    assert await cast(w, B1, eid, HB1) == "done.vote_cast"
    assert await cast(w, B2, eid, HB2) == "done.vote_cast"
    with pytest.raises(NotOnBallot):
        await w.elections.vote(B3, eid, HA1.id)  # house A's candidate is not on house B's ballot
    with pytest.raises(NotAResident):
        await w.elections.vote(OUTSIDER, eid, HA1.id)
    assert await w.elections.my_vote(A3, eid) == HA1.id

    live = await w.election_staff.turnout(STAFF, eid)
    assert {(t.building_id, t.voters, t.eligible) for t in live.buildings} == {(w.house_a, 5, 8), (w.house_b, 2, 4)}
    with pytest.raises(PermissionDenied):
        await w.election_staff.turnout(A1, eid)
    with pytest.raises(Conflict):
        await w.elections.results(eid)  # no published counts while it is open

    h.clock.set(local(2026, 12, 8, 10, 0))  # the closing moment, before the sweep ran
    with pytest.raises(VotingClosed):
        await w.elections.vote(A5, eid, HA1.id)
    report = await w.elections.tick()
    assert report.closed == 1
    with pytest.raises(VotingClosed):
        await w.elections.vote(A5, eid, HA1.id)

    results = await w.elections.results(eid)
    # Anna 3, Boris 2, Chen 1, Dasha 1: equal votes share the rank (1, 2, 3, 3); Chen reached 1 first
    assert [(s.candidate_id, s.votes, s.rank) for s in results.community] == [
        (HA1.id, 3, 1),
        (HA2.id, 2, 2),
        (HB1.id, 1, 3),
        (HB2.id, 1, 3),
    ]
    # the boundary tie gives four winners for top 3: nobody is dropped by an arbitrary rule
    assert [s.candidate_id for s in results.winners] == [HA1.id, HA2.id, HB1.id, HB2.id]
    assert [(s.candidate_id, s.rank) for s in results.buildings[w.house_b]] == [(HB1.id, 1), (HB2.id, 1)]
    assert [(s.candidate_id, s.votes) for s in results.buildings[w.house_a]] == [(HA1.id, 3), (HA2.id, 2)]
    assert (results.turnout.voters, results.turnout.eligible) == (7, 12)

    awards = await w.rows(
        "SELECT user_id, kind, period, rank, votes FROM awards WHERE community_id = ? ORDER BY rank, user_id",
        (w.community_id,),
    )
    assert awards == [
        (HA1.id, "monthly_best", "2026-11", 1, 3),
        (HA2.id, "monthly_best", "2026-11", 2, 2),
        (HB1.id, "monthly_best", "2026-11", 3, 1),
        (HB2.id, "monthly_best", "2026-11", 3, 1),
    ]
    posted = await w.outbox("election.result")
    assert sorted(p["chat_id"] for p in posted) == sorted([CHAT_A, CHAT_B])
    to_a = next(p for p in posted if p["chat_id"] == CHAT_A)["params"]
    assert (to_a["voters"], to_a["eligible"], to_a["turnout"]) == (5, 8, 62)
    assert [bar["votes"] for bar in to_a["photo"]["bars"]] == [3, 2]
    assert to_a["lines"]["rows"][0] == {"rank": 1, "name": "Anna", "unit": "A1", "building": "House A", "votes": 3}
    assert len(await w.outbox("election.staff_result")) == 1
    assert sorted(p["chat_id"] for p in await w.outbox("election.award")) == sorted([HA1.id, HA2.id, HB1.id, HB2.id])

    before = await w.scalar("SELECT COUNT(*) FROM outbox")
    assert (await w.elections.tick()).total == 0  # closing never happens twice
    assert await w.scalar("SELECT COUNT(*) FROM outbox") == before
    assert await w.scalar("SELECT COUNT(*) FROM awards") == 4


async def test_ballots_are_secret_after_closing(h: Harness) -> None:
    w = await build_world(h)
    eid = await open_november(w)
    for voter, candidate in ((A1, HA1), (A3, HA2), (B1, HB1)):
        await cast(w, voter, eid, candidate)
    live = await w.election_staff.turnout(STAFF, eid)
    h.clock.set(local(2026, 12, 9, 10, 0))
    await w.elections.tick()
    results = await w.elections.results(eid)
    published = repr(results) + repr(live) + repr(await w.outbox("election.result"))
    assert not [voter for voter in RESIDENT_IDS if str(voter) in published]
    # who took part is kept (turnout audit); whom they chose is erased once the counts are stored
    assert await w.scalar("SELECT COUNT(*) FROM election_votes WHERE election_id = ?", (eid,)) == 3
    assert await w.scalar("SELECT COUNT(*) FROM election_votes WHERE candidate_id IS NOT NULL") == 0
    assert await w.elections.my_vote(A1, eid) is None


def in_step(monkeypatch: pytest.MonkeyPatch, repo: type, method: str) -> None:
    """Make two concurrent sweeps read the same due list before either acts (the worst race)."""
    barrier = asyncio.Barrier(2)
    original = getattr(repo, method)

    async def both_see_it(self: Any, now: Any) -> list[int]:
        due: list[int] = await original(self, now)
        await asyncio.wait_for(barrier.wait(), 5)
        return due

    monkeypatch.setattr(repo, method, both_see_it)


async def test_catch_up_after_downtime_acts_once_with_two_connections(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await build_world(h)
    other_db = open_database(h.services.db.url)
    await other_db.connect()
    try:
        other = ElectionService(other_db, h.clock, h.services.registry.calendars)
        h.clock.set(local(2026, 12, 3, 15, 0))  # the bot was down at the opening on the 1st
        with monkeypatch.context() as m:
            in_step(m, ElectionsRepo, "due_to_open")
            first = await asyncio.gather(w.elections.tick(), other.tick())
        assert sum(r.opened for r in first) == 1
        assert len(await w.outbox("election.ballot")) == 2
        assert len(await w.outbox("election.staff_opened_late")) == 1
        election = await w.elections.current(w.community_id)
        assert election is not None and election.closes_at == local(2026, 12, 8, 10, 0)  # still on time
        await cast(w, A1, election.id, HA1)

        h.clock.set(local(2026, 12, 10, 9, 0))  # ... and down at the closing too
        with monkeypatch.context() as m:
            in_step(m, ElectionsRepo, "due_to_close")
            second = await asyncio.gather(other.tick(), w.elections.tick())
        assert sum(r.closed for r in second) == 1
        assert len(await w.outbox("election.result")) == 2
        assert await w.scalar("SELECT COUNT(*) FROM awards") == 1
        assert sum(r.total for r in await asyncio.gather(other.tick(), w.elections.tick())) == 0

        # down for December's whole voting window: the election is recorded as missed, staff told once
        h.clock.set(local(2027, 1, 9, 11, 0))
        third = await asyncio.gather(w.elections.tick(), other.tick())
        assert sum(r.missed for r in third) == 1 and sum(r.opened for r in third) == 0
        assert [p["params"]["period"] for p in await w.outbox("election.staff_missed")] == ["2026-12"]
        states = await w.rows("SELECT period, state FROM elections ORDER BY period")
        assert states == [("2026-11", "closed"), ("2026-12", "missed")]
        assert sum(r.total for r in await asyncio.gather(other.tick(), w.elections.tick())) == 0

        # proposals close once too, whichever process gets there
        (question,) = await w.proposals.open(
            STAFF,
            community_id=w.community_id,
            building_id=w.house_b,
            question="Plant trees?",
            closes_at=h.clock.now() + timedelta(days=1),
        )
        await w.proposals.vote(B1, question.id, 0)
        h.clock.advance(timedelta(days=2))
        other_proposals = ProposalService(other_db, h.clock, h.services.registry.calendars)
        with monkeypatch.context() as m:
            in_step(m, ProposalsRepo, "due_to_close")
            closed = await asyncio.gather(w.proposals.tick(), other_proposals.tick())
        assert sum(closed) == 1
        assert await w.scalar("SELECT COUNT(*) FROM building_decisions") == 1
        assert len(await w.outbox("proposal.result")) == 2
    finally:
        await other_db.close()


async def test_staff_extend_withdraw_repost_cancel_and_shortlist(h: Harness) -> None:
    w = await build_world(h)
    eid = await open_november(w)
    page = await w.elections.ballot(w.house_a, 0, 1)
    assert (page.total, page.pages, [c.user_id for c in page.candidates]) == (2, 2, [HA1.id])
    assert [c.user_id for c in (await w.elections.ballot(w.house_a, 9, 1)).candidates] == [HA2.id]  # clamped

    await cast(w, B2, eid, HB2)
    await cast(w, B1, eid, HB1)
    with pytest.raises(PermissionDenied):
        await w.election_staff.withdraw(HEAD_A, eid, HB2.id)
    await w.election_staff.withdraw(STAFF, eid, HB2.id)  # e.g. Dasha moved away
    with pytest.raises(CandidateRemoved):
        await w.elections.vote(B3, eid, HB2.id)
    assert [c.user_id for c in (await w.elections.ballot(w.house_b)).candidates] == [HB1.id]

    with pytest.raises(PermissionDenied):
        await w.election_staff.extend(A1, eid, local(2026, 12, 10, 10, 0))
    with pytest.raises(InvalidInput):
        await w.election_staff.extend(STAFF, eid, local(2026, 12, 5, 10, 0))  # earlier than now planned
    extended = await w.election_staff.extend(STAFF, eid, local(2026, 12, 10, 10, 0))
    assert extended.closes_at == local(2026, 12, 10, 10, 0)
    assert sorted(p["chat_id"] for p in await w.outbox("election.extended")) == sorted([CHAT_A, CHAT_B])

    assert await w.election_staff.repost(STAFF, eid) == 2
    assert await w.election_staff.repost(STAFF, eid, w.house_b) == 1
    assert len(await w.outbox("election.ballot")) == 2 + 2 + 1  # each re-post is a new message

    h.clock.set(local(2026, 12, 9, 10, 0))  # the old closing moment has passed: still open
    assert (await w.elections.tick()).closed == 0
    assert await cast(w, B2, eid, HB1) == "done.vote_changed"
    h.clock.set(local(2026, 12, 10, 10, 0))
    assert (await w.elections.tick()).closed == 1
    with pytest.raises(VotingClosed):
        await w.election_staff.extend(STAFF, eid, local(2026, 12, 20, 10, 0))
    results = await w.elections.results(eid)
    assert [(s.candidate_id, s.votes) for s in results.buildings[w.house_b]] == [(HB1.id, 2)]

    # December: staff nominate a shortlist before the opening; only the shortlist stands
    nominated = await w.election_staff.nominate(STAFF, w.community_id, w.units["A2"])
    assert nominated.user_id == HA2.id
    with pytest.raises(Conflict):
        await w.election_staff.nominate(STAFF, w.community_id, w.units["A2"])
    with pytest.raises(PermissionDenied):
        await w.election_staff.nominate(HEAD_A, w.community_id, w.units["A1"])
    h.clock.set(local(2027, 1, 1, 10, 0))
    assert (await w.elections.tick()).opened == 1
    december = await w.elections.current(w.community_id)
    assert december is not None and december.period == "2026-12"
    assert [c.user_id for c in (await w.elections.ballot(w.house_a)).candidates] == [HA2.id]
    december_ballots = [b for b in await w.outbox("election.ballot") if f"el:{december.id}:" in b["dedupe_key"]]
    assert [b["chat_id"] for b in december_ballots] == [CHAT_A]  # house B has nobody on the ballot
    with pytest.raises(NotOnBallot):
        await w.elections.vote(B1, december.id, HA2.id)

    await cast(w, A1, december.id, HA2)
    cancelled = await w.election_staff.cancel(STAFF, december.id)
    assert cancelled.state == "cancelled"
    assert [p["chat_id"] for p in await w.outbox("election.cancelled")] == [CHAT_A]
    with pytest.raises(VotingClosed):
        await w.elections.vote(A2, december.id, HA2.id)
    with pytest.raises(Conflict):
        await w.election_staff.cancel(STAFF, december.id)
    h.clock.set(local(2027, 1, 9, 10, 0))
    assert (await w.elections.tick()).closed == 0
    assert await w.scalar("SELECT COUNT(*) FROM election_votes WHERE candidate_id IS NOT NULL") == 0


async def test_schedule_is_configurable_and_a_vote_before_opening_is_refused(h: Harness) -> None:
    w = await build_world(h)
    with pytest.raises(PermissionDenied):
        await w.election_staff.configure(A1, w.community_id, "open_day", "3")
    with pytest.raises(InvalidInput):
        await w.election_staff.configure(STAFF, w.community_id, "open_day", "31")
    with pytest.raises(InvalidInput):
        await w.election_staff.configure(STAFF, w.community_id, "colour", "red")
    await w.election_staff.configure(STAFF, w.community_id, "open_day", "3")
    settings = (await w.election_staff.configure(STAFF, w.community_id, "open_time", "09:30")).settings
    assert (settings.open_day, settings.open_time.hour, settings.open_time.minute) == (3, 9, 30)

    nominated = await w.election_staff.nominate(STAFF, w.community_id, w.units["B1"])  # creates the scheduled one
    with pytest.raises(VotingNotOpen):
        await w.elections.vote(B2, nominated.election_id, HB1.id)
    h.clock.set(local(2026, 12, 1, 10, 0))
    assert (await w.elections.tick()).opened == 0
    h.clock.set(local(2026, 12, 3, 9, 30))
    assert (await w.elections.tick()).opened == 1
    assert await cast(w, B2, nominated.election_id, HB1) == "done.vote_cast"


# --- the yearly title ---------------------------------------------------------------------------------
async def test_yearly_title_from_the_monthly_results_once(h: Harness) -> None:
    w = await build_world(h)
    november = await open_november(w)
    for voter, candidate in ((A1, HA1), (A2, HA1), (B1, HB1)):
        await cast(w, voter, november, candidate)
    h.clock.set(local(2026, 12, 8, 10, 0))
    assert (await w.elections.tick()).titles == 0  # November alone does not end the year

    h.clock.set(local(2027, 1, 1, 10, 0))
    report = await w.elections.tick()
    assert (report.opened, report.titles) == (1, 0)  # December's vote is still running
    december = await w.elections.current(w.community_id)
    assert december is not None
    for voter, candidate in ((B1, HB1), (B2, HB1), (B3, HB1), (A1, HA1)):
        await cast(w, voter, december.id, candidate)

    h.clock.set(local(2027, 1, 8, 10, 0))
    report = await w.elections.tick()
    assert (report.closed, report.titles) == (1, 1)
    # one monthly win each (Anna in November, Chen in December): total votes decide, Chen 4 : Anna 3
    title = await w.rows("SELECT user_id, period, rank, votes FROM awards WHERE kind = 'yearly_title'")
    assert title == [(HB1.id, "2026", 1, 4)]
    announced = await w.outbox("title.announce")
    assert sorted(a["chat_id"] for a in announced) == sorted([CHAT_A, CHAT_B, STAFF_CHAT])
    winner = announced[0]["params"]["winners"]["rows"][0]
    assert (winner["name"], winner["unit"], winner["building"], winner["votes"]) == ("Chen", "B1", "House B", 4)
    assert [a["chat_id"] for a in await w.outbox("title.award")] == [HB1.id]

    h.clock.advance(timedelta(days=3))
    assert (await w.elections.tick()).total == 0
    assert len(await w.outbox("title.announce")) == 3


async def test_yearly_title_by_votes_rule(h: Harness) -> None:
    w = await build_world(h)
    await w.election_staff.configure(STAFF, w.community_id, "yearly_rule", "votes")
    november = await open_november(w)
    for voter, candidate in ((A1, HA1), (A2, HA1), (A3, HA1), (B1, HB1), (B2, HB1)):
        await cast(w, voter, november, candidate)
    h.clock.set(local(2027, 1, 1, 10, 0))
    await w.elections.tick()  # closes November, opens December
    december = await w.elections.current(w.community_id)
    assert december is not None
    await cast(w, B1, december.id, HB1)
    h.clock.set(local(2027, 1, 8, 10, 0))
    assert (await w.elections.tick()).titles == 1
    # wins 1 : 1, votes Anna 3 : Chen 3 -> the earliest win (November, Anna) decides
    assert await w.rows("SELECT user_id FROM awards WHERE kind = 'yearly_title'") == [(HA1.id,)]


# --- proposals ----------------------------------------------------------------------------------------
async def test_proposals_quorum_modes_and_history(h: Harness) -> None:
    w = await build_world(h)
    closes = h.clock.now() + timedelta(days=3)
    with pytest.raises(PermissionDenied):
        await w.proposals.open(
            HEAD_A, community_id=w.community_id, building_id=w.house_b, question="Paint B?", closes_at=closes
        )
    with pytest.raises(PermissionDenied):
        await w.proposals.open(
            HEAD_A, community_id=w.community_id, building_id=None, question="Paint all?", closes_at=closes
        )
    with pytest.raises(PermissionDenied):
        await w.proposals.open(
            A1, community_id=w.community_id, building_id=w.house_a, question="Hmm?", closes_at=closes
        )
    for bad_options in (["Only one"], [f"o{i}" for i in range(11)], ["Same", "same "]):
        with pytest.raises(InvalidInput):
            await w.proposals.open(
                STAFF,
                community_id=w.community_id,
                building_id=w.house_a,
                question="Which one?",
                closes_at=closes,
                options=bad_options,
            )
    with pytest.raises(InvalidInput):
        await w.proposals.open(
            STAFF, community_id=w.community_id, building_id=w.house_a, question="Late?", closes_at=h.clock.now()
        )

    # the building head asks house A (yes / no / abstain, one vote per resident, quorum 50 %)
    (barrier,) = await w.proposals.open(
        HEAD_A,
        community_id=w.community_id,
        building_id=w.house_a,
        question="Install a parking barrier?",
        closes_at=closes,
        quorum_pct=50,
    )
    assert [p["chat_id"] for p in await w.outbox("proposal.opened")] == [CHAT_A]
    assert (await w.proposals.vote(A1, barrier.id, 0)).key == "done.proposal_vote_cast"
    assert (await w.proposals.vote(A2, barrier.id, 1)).key == "done.proposal_vote_cast"
    assert (await w.proposals.vote(A2, barrier.id, 0)).key == "done.proposal_vote_changed"
    assert (await w.proposals.vote(A2, barrier.id, 0)).key == "done.proposal_vote_same"
    await w.proposals.vote(A3, barrier.id, 0)
    await w.proposals.vote(A4, barrier.id, 2)  # abstains: takes part, does not decide
    with pytest.raises(NotOnBallot):
        await w.proposals.vote(B1, barrier.id, 0)
    with pytest.raises(NotAResident):
        await w.proposals.vote(OUTSIDER, barrier.id, 0)
    with pytest.raises(OptionUnknown):
        await w.proposals.vote(A5, barrier.id, 3)
    live = await w.proposals.status(barrier.id)
    assert (live.voters, live.eligible, live.households_voted, live.households, live.decision) == (4, 8, 3, 3, None)

    # staff ask every building (custom options, one vote per unit, quorum 60 %)
    fund = await w.proposals.open(
        STAFF,
        community_id=w.community_id,
        building_id=None,
        question="What should the repair fund pay for?",
        closes_at=closes,
        options=["Barrier", "Roof", "Gate"],
        quorum_pct=60,
        mode="per_unit",
    )
    fund_a, fund_b = sorted(fund, key=lambda p: p.building_id)
    assert (fund_a.building_id, fund_b.building_id) == (w.house_a, w.house_b)
    assert sorted(p["chat_id"] for p in await w.outbox("proposal.opened_custom")) == sorted([CHAT_A, CHAT_B])
    await w.proposals.vote(A1, fund_a.id, 0)
    with pytest.raises(HouseholdVoted):
        await w.proposals.vote(A2, fund_a.id, 1)  # Jon lives in A1 too: the unit has voted
    assert (await w.proposals.vote(A1, fund_a.id, 2)).key == "done.proposal_vote_changed"
    await w.proposals.vote(A3, fund_a.id, 2)
    await w.proposals.vote(B1, fund_b.id, 1)
    with pytest.raises(HouseholdVoted):
        await w.proposals.vote(B2, fund_b.id, 0)  # Pia shares Oda's unit

    # a proposal withdrawn by its opener decides nothing
    (withdrawn,) = await w.proposals.open(
        HEAD_A, community_id=w.community_id, building_id=w.house_a, question="Repaint the hall?", closes_at=closes
    )
    with pytest.raises(PermissionDenied):
        await w.proposals.cancel(A1, withdrawn.id)
    await w.proposals.cancel(HEAD_A, withdrawn.id)

    h.clock.set(closes)
    with pytest.raises(VotingClosed):
        await w.proposals.vote(A5, barrier.id, 0)
    assert await w.proposals.tick() == 3
    assert await w.proposals.tick() == 0  # closing happens once

    adopted = await w.proposals.status(barrier.id)
    assert adopted.decision is not None
    assert (adopted.decision.outcome, adopted.decision.counts, adopted.decision.quorum_met) == (
        "adopted",
        (3, 0, 1),
        True,
    )
    chosen = (await w.proposals.status(fund_a.id)).decision
    assert chosen is not None
    # per unit: Ivy and Jon share A1, so A1 counts once; 2 of 3 households took part (>= 60 %)
    assert (chosen.outcome, chosen.winner_option, chosen.counts) == ("chosen", 2, (0, 0, 2))
    assert (chosen.voters, chosen.eligible, chosen.households_voted, chosen.households) == (2, 3, 2, 3)
    missed = (await w.proposals.status(fund_b.id)).decision
    assert missed is not None
    assert (missed.outcome, missed.quorum_met, missed.households_voted, missed.households) == ("no_quorum", False, 1, 2)

    history = await w.proposals.history(w.house_a)
    assert {d.proposal_id for d in history} == {barrier.id, fund_a.id}
    assert [d.proposal_id for d in await w.proposals.history(w.house_b)] == [fund_b.id]
    results = await w.outbox("proposal.result")
    assert sorted(r["chat_id"] for r in results) == sorted([CHAT_A, STAFF_CHAT])
    assert results[0]["params"]["verdict_key"] == "proposal.verdict.adopted"
    assert (results[0]["params"]["yes"], results[0]["params"]["quorum_key"]) == (3, "proposal.quorum_met")
    custom = await w.outbox("proposal.result_custom")
    assert len(custom) == 4  # two proposals, each to its building chat and to the staff chat
    assert {r["params"]["verdict_key"] for r in custom} == {"proposal.verdict.chosen", "proposal.verdict.no_quorum"}
    published = repr(history) + repr(results) + repr(custom)
    assert not [voter for voter in RESIDENT_IDS if str(voter) in published]
    assert await w.scalar("SELECT COUNT(*) FROM proposal_votes WHERE option_index IS NOT NULL") == 0
    assert await w.scalar("SELECT COUNT(*) FROM building_decisions") == 3


# --- fixes after the audit of issue 3 ----------------------------------------------------------------
def test_announcements_go_out_in_the_daytime_on_any_day() -> None:
    """E3: 08:00-21:00 local at once, else the next 08:00 (never held to Monday); a deadline first."""
    from bot.models import Community
    from bot.services.elections import send_at

    town = Community(1, "x", -1, None, "Asia/Shanghai", "CN", "en", {}, True)
    friday_night = local(2026, 11, 27, 22, 0)
    assert send_at(town, friday_night) == local(2026, 11, 28, 8, 0)  # Saturday morning
    assert send_at(town, local(2026, 11, 29, 7, 0)) == local(2026, 11, 29, 8, 0)  # Sunday, before 08:00
    assert send_at(town, local(2026, 11, 28, 12, 0)) == local(2026, 11, 28, 12, 0)
    assert send_at(town, local(2026, 11, 28, 21, 0)) == local(2026, 11, 29, 8, 0)
    assert send_at(town, friday_night, deadline=local(2026, 11, 28, 12, 0)) == local(2026, 11, 28, 8, 0)
    assert send_at(town, friday_night, deadline=local(2026, 11, 28, 7, 0)) == friday_night  # at once


async def test_a_replanned_election_whose_moment_passed_opens_at_the_next_tick(h: Harness) -> None:
    """E5: it opens now and runs duration_days from then."""
    w = await build_world(h)
    await w.election_staff.configure(STAFF, w.community_id, "open_day", "5")
    nominated = await w.election_staff.nominate(STAFF, w.community_id, w.units["A1"])
    h.clock.set(local(2026, 12, 3, 12, 0))
    assert (await w.elections.tick()).total == 0
    view = await w.election_staff.configure(STAFF, w.community_id, "open_day", "2")
    assert (view.next_period, view.next_opens) == ("2026-11", local(2026, 12, 3, 12, 0))
    assert (await w.elections.tick()).opened == 1
    election = await w.elections.current(w.community_id)
    assert election is not None and election.id == nominated.election_id
    assert election.closes_at == local(2026, 12, 10, 12, 0)
    assert await w.rows("SELECT COUNT(*) FROM elections WHERE state = 'missed'") == [(0,)]


async def test_extend_and_repost_of_an_election_not_open_yet_say_so(h: Harness) -> None:
    """E8: "has not opened yet", not "already closed"."""
    w = await build_world(h)
    nominated = await w.election_staff.nominate(STAFF, w.community_id, w.units["A1"])
    with pytest.raises(VotingNotOpen):
        await w.election_staff.extend(STAFF, nominated.election_id, local(2026, 12, 9, 10, 0))
    with pytest.raises(VotingNotOpen):
        await w.election_staff.repost(STAFF, nominated.election_id)


async def test_withdrawing_from_the_open_election_tells_the_candidates_buildings(h: Harness) -> None:
    """E7: their building chat is told their voters may vote again; no voter is named."""
    w = await build_world(h)
    eid = await open_november(w)
    await cast(w, B3, eid, HB2)
    withdrawn = await w.election_staff.withdraw_unit(STAFF, w.community_id, w.units["B2"])
    assert (withdrawn.from_shortlist, withdrawn.candidate.user_id) == (False, HB2.id)
    told = await w.outbox("election.withdrawn")
    assert [(t["chat_id"], t["params"]) for t in told] == [(CHAT_B, {"period": "2026-11", "name": "Dasha"})]
    assert (await w.elections.vote(B3, eid, HB1.id)).key == "done.vote_changed"
    with pytest.raises(NotFound):
        await w.election_staff.withdraw_unit(STAFF, w.community_id, w.units["A3"])  # no unit head
