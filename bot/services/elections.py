"""The monthly "best unit head" election and the yearly title.

Schedule
    Each community runs one election per month (``UNIQUE (community_id, period)``, period
    ``"2026-10"`` = the month the vote is about). :class:`ElectionSettings` lives in
    ``communities.settings['elections']``; by default the election for a month opens on the 1st of
    the next month at 10:00 local time and runs 7 days. :meth:`ElectionService.tick` (called by the
    sweep) drives everything and catches up after downtime:

    * it creates the election of the most recent opening moment that has passed (only that one; a
      community created after that moment starts with the next month);
    * a scheduled election whose opening moment passed is opened late but closes at its scheduled
      time; if the bot was down for the whole window it is marked ``missed`` (staff are told) rather
      than opened and closed with no chance to vote;
    * an open election whose closing moment passed is closed and tallied.

    Every transition is a guarded ``UPDATE ... WHERE state = '<from>'`` in an immediate transaction
    whose row count says who made it, so two sweeps (or two processes) never act twice.

Candidates and ballots
    Candidates are the community's unit heads at opening (snapshot with unit and building; a person
    heading several units stands once, with their first unit), or, when staff nominated anybody
    before the opening, exactly that shortlist. With scope ``own_building`` (default) each building's
    ballot lists the candidates whose unit is in that building and residents may vote only for them;
    with scope ``community`` every ballot lists every candidate. Ballots are paged
    (:meth:`ElectionService.ballot`).

Voters
    Registered residents of the community (a ``residents`` row: a person with a unit). One vote per
    voter and election (primary key), changeable until closing; a unit head cannot vote for
    themselves. Refusals are distinct domain errors: :class:`VotingClosed` (late),
    :class:`VotingNotOpen`, :class:`NotAResident`, :class:`SelfVote`, :class:`NotOnBallot`,
    :class:`CandidateRemoved`, :class:`CandidateUnknown`.

Secrecy
    Published results and the staff audit show counts only (turnout per building = distinct voters
    / registered residents). While the election is open a vote row links voter and candidate (the
    only way to allow one *changeable* vote per person); at closing the counts are stored in
    ``election_results`` and the link is erased (``candidate_id`` set to NULL), keeping only who took
    part. A cancelled election's choices are erased too.

Tally and tie rule
    One ``GROUP BY building, candidate`` over a covering index. Ranking is standard competition
    ranking: equal votes share the rank (1, 1, 3). Every candidate whose rank is within ``top_n`` and
    who got at least one vote is a winner and gets an award (``kind='monthly_best'``), so a tie at the
    boundary may give more than ``top_n`` winners: nobody is dropped by an arbitrary rule. Within a
    tie the listing order is who reached that count first (the earlier moment of their latest
    counted vote), then ballot order. Votes for a candidate removed during the election do not count.

Yearly title
    Decided once per community and year (``yearly_titles`` primary key) after December's election
    closes, or at December's opening moment when no election of the year is still pending. Rule
    ``wins`` (default): most monthly wins (community rank 1 with votes), then total votes over the
    year, then the earliest win. Rule ``votes``: total votes, then wins, then earliest win. People
    still equal on all of these share the title. Recorded as ``kind='yearly_title'`` awards.

Announcements go to group chats through the outbox in the same transaction as the change; they are
sent at once in the daytime (08:00-21:00 local) and otherwise wait for the community's working hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.models import Building, Button, Community, Notice, Role, UserInfo
from bot.services.base import ServiceBase
from bot.services.points import record_award
from bot.services.routing import fmt_local
from storage.db import Tx
from storage.registry import RegistryRepo
from storage.votes import Candidate, Election, ElectionsRepo, ResultRow, TallyRow

MONTHLY = "monthly_best"
YEARLY = "yearly_title"
MAX_EXTENSION = timedelta(days=30)
CHART_MAX = 10  # bars in a chart / lines in a text version
DAYTIME = (time(8, 0), time(21, 0))


# --- domain errors (keys for handlers/errors.py) ------------------------------------------------------
class VotingClosed(Conflict):
    """The vote came after closing (or the vote was cancelled)."""

    key = "error.vote_closed"


class VotingNotOpen(Conflict):
    key = "error.vote_not_open"


class NotAResident(PermissionDenied):
    key = "error.vote_not_resident"


class SelfVote(PermissionDenied):
    key = "error.vote_self"


class NotOnBallot(PermissionDenied):
    """The candidate is on another building's ballot."""

    key = "error.vote_other_building"


class CandidateRemoved(Conflict):
    key = "error.vote_candidate_removed"


class CandidateUnknown(NotFound):
    key = "error.vote_candidate_unknown"


class NoOpenElection(NotFound):
    key = "error.election_none_open"


# --- settings ---------------------------------------------------------------------------------------
class ElectionSettings(BaseModel):
    """Stored as JSON in ``communities.settings['elections']``; staff change it with
    :meth:`ElectionService.configure`."""

    model_config = ConfigDict(extra="ignore")

    enabled: bool = True
    open_day: int = Field(1, ge=1, le=28)
    open_time: time = time(10, 0)
    duration_days: int = Field(7, ge=1, le=27)
    top_n: int = Field(3, ge=1, le=10)
    scope: Literal["own_building", "community"] = "own_building"
    yearly_rule: Literal["wins", "votes"] = "wins"
    page_size: int = Field(8, ge=1, le=20)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> ElectionSettings:
        return cls.model_validate(settings.get("elections", {}))

    def opening_in(self, tz: ZoneInfo, year: int, month: int) -> datetime:
        """The opening moment in (year, month): the vote about the month before."""
        return datetime.combine(date(year, month, self.open_day), self.open_time, tzinfo=tz)

    def latest_opening(self, tz: ZoneInfo, now: datetime) -> tuple[str, datetime]:
        """(period, opening moment) of the most recent opening at or before ``now``."""
        local = now.astimezone(tz)
        year, month = local.year, local.month
        opens = self.opening_in(tz, year, month)
        if opens > now:
            year, month = shift_month(year, month, -1)
            opens = self.opening_in(tz, year, month)
        return period_of(*shift_month(year, month, -1)), opens

    def next_opening(self, tz: ZoneInfo, now: datetime) -> tuple[str, datetime]:
        """(period, opening moment) of the first opening after ``now``."""
        local = now.astimezone(tz)
        year, month = local.year, local.month
        opens = self.opening_in(tz, year, month)
        if opens <= now:
            year, month = shift_month(year, month, 1)
            opens = self.opening_in(tz, year, month)
        return period_of(*shift_month(year, month, -1)), opens


EDITABLE = tuple(ElectionSettings.model_fields)


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def period_of(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


# --- results ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BallotPage:
    election_id: int
    building_id: int
    period: str
    closes_at: datetime
    candidates: tuple[Candidate, ...]
    page: int  # 0-based
    pages: int
    total: int


@dataclass(frozen=True)
class VoteOutcome:
    key: str  # done.vote_cast | done.vote_changed | done.vote_same
    election_id: int
    candidate_id: int
    params: dict[str, object]


@dataclass(frozen=True)
class Standing:
    candidate_id: int
    display: str
    unit_name: str
    building_id: int
    building_title: str
    votes: int
    rank: int


@dataclass(frozen=True)
class BuildingTurnout:
    building_id: int
    title: str
    voters: int
    eligible: int

    @property
    def percent(self) -> int:
        return percent(self.voters, self.eligible)


@dataclass(frozen=True)
class Turnout:
    election_id: int
    period: str
    state: str
    buildings: tuple[BuildingTurnout, ...]
    voters: int
    eligible: int

    @property
    def percent(self) -> int:
        return percent(self.voters, self.eligible)


@dataclass(frozen=True)
class ElectionResults:
    """Counts only: nothing here says who voted for whom."""

    election: Election
    community: tuple[Standing, ...]
    buildings: dict[int, tuple[Standing, ...]]
    turnout: Turnout
    winners: tuple[Standing, ...]


@dataclass
class TickReport:
    opened: int = 0
    closed: int = 0
    missed: int = 0
    cancelled: int = 0
    titles: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.opened + self.closed + self.missed + self.cancelled + self.titles


def in_daytime(notice: Notice, community: Community, now: datetime) -> Notice:
    """Announcements go out at once in the daytime (08:00-21:00 local, any day, so a weekend
    opening is not held until Monday); at night they wait for the community's working hours."""
    local = now.astimezone(ZoneInfo(community.timezone)).time()
    return replace(notice, urgent=notice.urgent or DAYTIME[0] <= local < DAYTIME[1])


def percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def rank_standings(candidates: list[Candidate], counts: dict[int, tuple[int, int]]) -> list[Standing]:
    """Competition ranking (equal votes share the rank); ``counts``: candidate -> (votes, last vote at).
    Order within a tie: who reached the count first, then ballot order."""
    order = sorted(
        candidates,
        key=lambda c: (
            -counts.get(c.user_id, (0, 0))[0],
            counts.get(c.user_id, (0, 0))[1],
            c.building_id,
            c.position,
            c.user_id,
        ),
    )
    standings: list[Standing] = []
    for i, cand in enumerate(order):
        votes = counts.get(cand.user_id, (0, 0))[0]
        rank = standings[-1].rank if standings and standings[-1].votes == votes else i + 1
        standings.append(
            Standing(cand.user_id, cand.display, cand.unit_name, cand.building_id, cand.building_title, votes, rank)
        )
    return standings


def result_lines(standings: tuple[Standing, ...] | list[Standing], limit: int = CHART_MAX) -> str:
    """A short language-neutral text version (accessibility; the template adds the words)."""
    return "\n".join(
        f"{s.rank}. {s.display} ({s.unit_name}, {s.building_title}) — {s.votes}" for s in standings[:limit]
    )


def chart(standings: tuple[Standing, ...] | list[Standing], limit: int = CHART_MAX) -> list[dict[str, object]]:
    """Bars for a chart image: label and value, best first."""
    return [{"label": s.display, "unit": s.unit_name, "votes": s.votes, "rank": s.rank} for s in standings[:limit]]


class ElectionService(ServiceBase):
    # --- settings ---------------------------------------------------------------------------------
    async def settings_of(self, community_id: int) -> ElectionSettings:
        async with self.db.read() as tx:
            community = await self._community(tx, community_id)
        return ElectionSettings.from_settings(community.settings)

    async def configure(self, actor: UserInfo, community_id: int, key: str, value: str) -> ElectionSettings:
        if key not in EDITABLE:
            raise InvalidInput("error.election_setting_key", keys=", ".join(EDITABLE))
        async with self.db.write() as tx:
            community = await self._community(tx, community_id)
            await self._staff(tx, community, actor)
            raw: dict[str, Any] = dict(community.settings.get("elections", {}))
            raw[key] = value.strip()
            try:
                parsed = ElectionSettings.model_validate(raw)
            except ValidationError as exc:
                raise InvalidInput("error.election_setting_value", name=key) from exc
            settings = dict(community.settings)
            settings["elections"] = parsed.model_dump(mode="json")
            await RegistryRepo(tx).set_community_settings(community.id, settings)
        return parsed

    # --- the periodic tick ------------------------------------------------------------------------
    async def tick(self) -> TickReport:
        """Create, open and close what is due (catching up after downtime), then decide yearly
        titles. Safe to run at any time, repeatedly and from several processes."""
        report = TickReport()
        now = self.clock.now()
        async with self.db.read() as tx:
            ids = await ElectionsRepo(tx).active_community_ids()
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
            if await self._yearly_title(community, now):
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
            if await repo.community_created_at(community.id) >= opens:
                return  # the community did not exist yet when this one should have opened
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
            election = await repo.get(election_id)
            if election is None or election.state != "scheduled" or election.opens_at > now:
                return None
            community = await self._community(tx, election.community_id)
            if election.closes_at <= now:
                if not await repo.mark_missed(election.id, now):
                    return None
                await self._announce(
                    tx,
                    Notice(
                        community.staff_chat_id,
                        "election.staff_missed",
                        {"period": election.period, "closes": fmt_local(election.closes_at, community)},
                        dedupe_key=f"el:{election.id}:missed",
                    ),
                    community,
                    now,
                )
                return "missed"
            if not await repo.mark_open(election.id, now):
                return None
            if not election.shortlisted:
                for position, head in enumerate(await repo.unit_heads(community.id)):
                    await repo.add_candidate(election.id, head, position, "heads")
            if await repo.count_candidates(election.id) == 0:
                await repo.mark_cancelled(election.id, now, "no_candidates")
                await self._announce(
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
            posted = await self._post_ballots(tx, community, opened, now)
            late = now - opened.opens_at > timedelta(hours=1)
            await self._announce(
                tx,
                Notice(
                    community.staff_chat_id,
                    "election.staff_opened_late" if late else "election.staff_opened",
                    {
                        "period": opened.period,
                        "closes": fmt_local(opened.closes_at, community),
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
            election = await repo.get(election_id)
            if election is None or election.state != "open" or election.closes_at > now:
                return False
            if not await repo.mark_closed(election.id, now):
                return False
            community = await self._community(tx, election.community_id)
            results = await self._tally(tx, community, election)
            await repo.add_results(election.id, _result_rows(results))
            for winner in results.winners:
                await repo.add_award(
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
        turnout = await self._turnout(tx, community, election)
        buildings: dict[int, tuple[Standing, ...]] = {}
        for bt in turnout.buildings:
            counts = by_building.get(bt.building_id, {})
            if election.scope == "own_building":
                pool = [c for c in candidates if c.building_id == bt.building_id]
            else:
                pool = [c for c in candidates if c.user_id in counts]
            if pool:
                buildings[bt.building_id] = tuple(rank_standings(pool, counts))
        winners = tuple(s for s in community_standings if s.rank <= election.top_n and s.votes > 0)
        return ElectionResults(election, community_standings, buildings, turnout, winners)

    async def _turnout(self, tx: Tx, community: Community, election: Election) -> Turnout:
        repo = ElectionsRepo(tx)
        voters = await repo.voters_by_building(election.id)
        eligible = await repo.eligible_by_building(community.id)
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
            await repo.eligible_total(community.id),
        )

    # --- announcements -----------------------------------------------------------------------------
    async def _announce(self, tx: Tx, notice: Notice, community: Community, now: datetime) -> bool:
        return await self.queue(tx, in_daytime(notice, community, now), community, now)

    async def _ballot_buildings(self, tx: Tx, community: Community, election: Election) -> list[Building]:
        buildings = [b for b in await RegistryRepo(tx).buildings_of(community.id) if b.active]
        if election.scope == "community":
            return buildings
        with_candidates = set(await ElectionsRepo(tx).candidate_buildings(election.id))
        return [b for b in buildings if b.id in with_candidates]

    async def _post_ballots(
        self, tx: Tx, community: Community, election: Election, now: datetime, only: int | None = None
    ) -> int:
        posted = 0
        settings = ElectionSettings.from_settings(community.settings)
        for building in await self._ballot_buildings(tx, community, election):
            if only is not None and building.id != only:
                continue
            page = await self._page(tx, election, building.id, 0, settings.page_size)
            if not page.total:
                continue
            await self._announce(
                tx,
                Notice(
                    building.chat_id,
                    "election.ballot",
                    {
                        "period": election.period,
                        "closes": fmt_local(election.closes_at, community),
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
            )
            posted += 1
        return posted

    async def _post_results(
        self, tx: Tx, community: Community, election: Election, results: ElectionResults, now: datetime
    ) -> None:
        for building in await RegistryRepo(tx).buildings_of(community.id):
            if not building.active:
                continue
            await self._announce(
                tx,
                Notice(
                    building.chat_id,
                    "election.result",
                    building_result_params(results, building),
                    dedupe_key=f"el:{election.id}:result:{building.id}",
                ),
                community,
                now,
            )
        await self._announce(
            tx,
            Notice(
                community.staff_chat_id,
                "election.staff_result",
                staff_result_params(results),
                dedupe_key=f"el:{election.id}:result:staff",
            ),
            community,
            now,
        )
        for winner in results.winners:
            await self._announce(
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

    async def find_units(self, community_id: int, name: str) -> list[tuple[int, str, str]]:
        """Units of the community called ``name`` (``"House A / 3"`` picks the building too):
        (unit id, building title, unit name). Case-insensitive."""
        building_part, _, unit_part = name.rpartition("/")
        wanted_unit = " ".join(unit_part.split()).casefold()
        wanted_building = " ".join(building_part.split()).casefold()
        found: list[tuple[int, str, str]] = []
        async with self.db.read() as tx:
            reg = RegistryRepo(tx)
            for building in await reg.buildings_of(community_id):
                if not building.active or (wanted_building and building.title.casefold() != wanted_building):
                    continue
                found.extend(
                    (u.id, building.title, u.name)
                    for u in await reg.units_of(building.id)
                    if u.name.casefold() == wanted_unit
                )
        return found

    async def unit_head_of(self, community_id: int, unit_id: int) -> int | None:
        """The head of ``unit_id`` if the unit belongs to the community (for withdrawing by unit)."""
        async with self.db.read() as tx:
            head = await ElectionsRepo(tx).unit_head(unit_id)
            building = await RegistryRepo(tx).get_building(head.building_id) if head else None
        if head is None or building is None or building.community_id != community_id:
            return None
        return head.user_id

    # --- the yearly title --------------------------------------------------------------------------
    async def _yearly_title(self, community: Community, now: datetime) -> bool:
        settings = ElectionSettings.from_settings(community.settings)
        tz = ZoneInfo(community.timezone)
        year = now.astimezone(tz).year - 1
        if now < settings.opening_in(tz, year + 1, 1):
            return False  # December's election has not even opened yet
        async with self.db.read() as tx:
            repo = ElectionsRepo(tx)
            if await repo.title_decided(community.id, year):
                return False
            if any(e.state in ("scheduled", "open") for e in await repo.of_year(community.id, year)):
                return False
            standings = [r for r in await repo.year_standings(community.id, year) if r["votes"]]
        if not standings:
            return False

        def key(row: Any) -> tuple[int, int, str]:
            wins, votes, first = int(row["wins"]), int(row["votes"]), row["first_win"] or "9999-99"
            return (-wins, -votes, first) if settings.yearly_rule == "wins" else (-votes, -wins, first)

        best = min(key(r) for r in standings)
        winners = sorted((r for r in standings if key(r) == best), key=lambda r: int(r["user_id"]))
        async with self.db.write() as tx:
            repo = ElectionsRepo(tx)
            if not await repo.claim_title(community.id, year, settings.yearly_rule, len(winners), now):
                return False
            lines = []
            for row in winners:
                user_id, wins, votes = int(row["user_id"]), int(row["wins"]), int(row["votes"])
                await repo.add_award(
                    community_id=community.id,
                    user_id=user_id,
                    kind=YEARLY,
                    period=str(year),
                    rank=1,
                    votes=votes,
                    election_id=None,
                    now=now,
                )
                snap = await repo.last_candidate_snapshot(community.id, user_id)
                name = snap.display if snap else str(user_id)
                unit = snap.unit_name if snap else "-"
                building = snap.building_title if snap else "-"
                lines.append(f"{name} ({unit}, {building}) — {wins} / {votes}")
                await self._announce(
                    tx,
                    Notice(
                        user_id,
                        "title.award",
                        {"year": year, "wins": wins, "votes": votes},
                        user_id=user_id,
                        dedupe_key=f"title:{community.id}:{year}:award:{user_id}",
                    ),
                    community,
                    now,
                )
            params = {
                "year": year,
                "winners": "\n".join(lines),
                "count": len(winners),
                "rule_key": f"title.rule.{settings.yearly_rule}",
            }
            bars: list[dict[str, object]] = []  # the year's standings as a chart, like the monthly results
            for rank, row in enumerate(sorted(standings, key=key)[:CHART_MAX], 1):
                snap = await repo.last_candidate_snapshot(community.id, int(row["user_id"]))
                value = int(row["wins"]) if settings.yearly_rule == "wins" else int(row["votes"])
                bars.append(
                    {
                        "label": snap.display if snap else str(row["user_id"]),
                        "unit": snap.unit_name if snap else "",
                        "votes": value,
                        "rank": 1 if key(row) == best else rank,
                    }
                )
            params["photo"] = photo_spec("votes.chart_year", {"year": year, "rule_key": params["rule_key"]}, bars)
            chats = [b.chat_id for b in await RegistryRepo(tx).buildings_of(community.id) if b.active]
            for chat_id in [*chats, community.staff_chat_id]:
                await self._announce(
                    tx,
                    Notice(chat_id, "title.announce", params, dedupe_key=f"title:{community.id}:{year}:{chat_id}"),
                    community,
                    now,
                )
        return True

    # --- staff actions -----------------------------------------------------------------------------
    async def nominate(self, actor: UserInfo, community_id: int, unit_id: int) -> Candidate:
        """Put the head of ``unit_id`` on the shortlist of the next election (before it opens).
        Once anybody is nominated, only the shortlist stands."""
        now = self.clock.now()
        async with self.db.write() as tx:
            community = await self._community(tx, community_id)
            await self._staff(tx, community, actor)
            repo = ElectionsRepo(tx)
            head = await repo.unit_head(unit_id)
            building = await RegistryRepo(tx).get_building(head.building_id) if head else None
            if head is None or building is None or building.community_id != community.id:
                raise NotFound("error.election_unit_no_head")
            election = await self._upcoming(tx, community, now)
            if await repo.candidate(election.id, head.user_id) is not None:
                raise Conflict("error.election_already_nominated", name=head.display)
            position = len(await repo.candidates(election.id, include_removed=True))
            await repo.add_candidate(election.id, head, position, "nominated")
            await repo.set_shortlisted(election.id)
            candidate = await repo.candidate(election.id, head.user_id)
        assert candidate is not None
        return candidate

    async def _upcoming(self, tx: Tx, community: Community, now: datetime) -> Election:
        repo = ElectionsRepo(tx)
        scheduled = await repo.of_community(community.id, ("scheduled",))
        if scheduled:
            return scheduled[-1]  # the earliest one still waiting to open
        settings = ElectionSettings.from_settings(community.settings)
        period, opens = settings.next_opening(ZoneInfo(community.timezone), now)
        await repo.create(
            community_id=community.id,
            period=period,
            opens_at=opens,
            closes_at=opens + timedelta(days=settings.duration_days),
            top_n=settings.top_n,
            scope=settings.scope,
            now=now,
        )
        election = await repo.by_period(community.id, period)
        assert election is not None
        if election.state != "scheduled":
            raise Conflict("error.election_not_scheduled", period=period)
        return election

    async def withdraw(self, actor: UserInfo, election_id: int, user_id: int) -> Election:
        """Take a candidate off: before opening they are dropped from the shortlist; while open they
        are marked removed (votes for them stop counting; their voters may vote again)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            election, community = await self._election(tx, election_id)
            await self._staff(tx, community, actor)
            repo = ElectionsRepo(tx)
            candidate = await repo.candidate(election.id, user_id)
            if candidate is None or candidate.removed:
                raise CandidateUnknown()
            if election.state == "scheduled":
                await repo.delete_candidate(election.id, user_id)
                if not await repo.count_candidates(election.id):
                    await repo.set_shortlisted(election.id, False)  # back to "all unit heads"
            elif election.state == "open" and now < election.closes_at:
                await repo.remove_candidate(election.id, user_id, now)
            else:
                raise VotingClosed(period=election.period)
        return election

    async def extend(self, actor: UserInfo, election_id: int, closes_at: datetime) -> Election:
        if closes_at.tzinfo is None:
            raise InvalidInput("error.election_extend_time")
        now = self.clock.now()
        async with self.db.write() as tx:
            election, community = await self._election(tx, election_id)
            await self._staff(tx, community, actor)
            if election.state != "open" or now >= election.closes_at:
                raise VotingClosed(period=election.period)
            if closes_at <= election.closes_at:
                raise InvalidInput("error.election_extend_earlier", closes=fmt_local(election.closes_at, community))
            if closes_at > now + MAX_EXTENSION:
                raise InvalidInput("error.election_extend_too_far", days=MAX_EXTENSION.days)
            repo = ElectionsRepo(tx)
            if not await repo.set_closes_at(election.id, closes_at, now):
                raise VotingClosed(period=election.period)
            fresh = await repo.get(election.id)
            assert fresh is not None
            for building in await self._ballot_buildings(tx, community, fresh):
                await self._announce(
                    tx,
                    Notice(
                        building.chat_id,
                        "election.extended",
                        {"period": fresh.period, "closes": fmt_local(fresh.closes_at, community)},
                        dedupe_key=f"el:{fresh.id}:ext:{int(closes_at.timestamp())}:{building.id}",
                    ),
                    community,
                    now,
                )
        return fresh

    async def cancel(self, actor: UserInfo, election_id: int) -> Election:
        now = self.clock.now()
        async with self.db.write() as tx:
            election, community = await self._election(tx, election_id)
            await self._staff(tx, community, actor)
            repo = ElectionsRepo(tx)
            if not await repo.mark_cancelled(election.id, now, "by_staff"):
                raise Conflict("error.election_not_cancellable", period=election.period)
            await repo.forget_choices(election.id)
            if election.state == "open":
                for building in await self._ballot_buildings(tx, community, election):
                    await self._announce(
                        tx,
                        Notice(
                            building.chat_id,
                            "election.cancelled",
                            {"period": election.period},
                            dedupe_key=f"el:{election.id}:cancel:{building.id}",
                        ),
                        community,
                        now,
                    )
            fresh = await repo.get(election.id)
        assert fresh is not None
        return fresh

    async def repost(self, actor: UserInfo, election_id: int, building_id: int | None = None) -> int:
        """Post the ballot again (all ballot buildings, or one); returns how many were queued."""
        now = self.clock.now()
        async with self.db.write() as tx:
            election, community = await self._election(tx, election_id)
            await self._staff(tx, community, actor)
            if election.state != "open" or now >= election.closes_at:
                raise VotingClosed(period=election.period)
            await ElectionsRepo(tx).bump_repost(election.id)
            fresh = await ElectionsRepo(tx).get(election.id)
            assert fresh is not None
            return await self._post_ballots(tx, community, fresh, now, only=building_id)

    async def turnout(self, actor: UserInfo, election_id: int) -> Turnout:
        """Live turnout per building (staff audit): counts of voters, never their choices."""
        async with self.db.read() as tx:
            election, community = await self._election(tx, election_id)
            await self._staff(tx, community, actor)
            return await self._turnout(tx, community, election)

    # --- residents ---------------------------------------------------------------------------------
    async def current(self, community_id: int) -> Election | None:
        """The community's open election (the latest one if, unusually, two are open)."""
        async with self.db.read() as tx:
            found = await ElectionsRepo(tx).of_community(community_id, ("open",))
        return found[0] if found else None

    async def ballot(
        self, building_id: int, page: int = 0, page_size: int | None = None, *, election_id: int | None = None
    ) -> BallotPage:
        """One page of the building's ballot in the open election (or in ``election_id``)."""
        async with self.db.read() as tx:
            building = await RegistryRepo(tx).get_building(building_id)
            if building is None:
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
            size = page_size or ElectionSettings.from_settings(community.settings).page_size
            return await self._page(tx, election, building_id, page, size)

    async def _page(self, tx: Tx, election: Election, building_id: int, page: int, size: int) -> BallotPage:
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
            buildings = await repo.resident_buildings(voter.id, election.community_id)
            if not buildings:
                raise NotAResident()
            candidate = await repo.candidate(election.id, candidate_id)
            if candidate is None:
                raise CandidateUnknown()
            if candidate.removed:
                raise CandidateRemoved(name=candidate.display)
            if candidate.user_id == voter.id:
                raise SelfVote()
            if election.scope == "own_building":
                if candidate.building_id not in buildings:
                    raise NotOnBallot(name=candidate.display, building=candidate.building_title)
                building_id = candidate.building_id
            else:
                building_id = buildings[0]
            previous = await repo.vote_of(election.id, voter.id)
            community = await self._community(tx, election.community_id)
            params: dict[str, object] = {
                "name": candidate.display,
                "unit": candidate.unit_name,
                "period": election.period,
                "closes": fmt_local(election.closes_at, community),
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
        """Published results of a closed election (counts only)."""
        async with self.db.read() as tx:
            election, community = await self._election(tx, election_id)
            if election.state != "closed":
                raise Conflict("error.election_not_closed", period=election.period)
            repo = ElectionsRepo(tx)
            candidates = {c.user_id: c for c in await repo.candidates(election.id, include_removed=True)}
            grouped: dict[int, list[Standing]] = {}
            stored_rows = await repo.results(election.id)
            for row in stored_rows:
                c = candidates.get(row.candidate_id)
                if c is None:  # pragma: no cover - results reference candidates of the same election
                    continue
                grouped.setdefault(row.building_id, []).append(
                    Standing(c.user_id, c.display, c.unit_name, c.building_id, c.building_title, row.votes, row.rank)
                )
            stored = {r.building_id: (r.voters, r.eligible) for r in stored_rows}
            titles = {b.id: b.title for b in await RegistryRepo(tx).buildings_of(community.id)}
        order = {c.user_id: (c.building_id, c.position) for c in candidates.values()}
        for rows in grouped.values():
            rows.sort(key=lambda s: (s.rank, order[s.candidate_id]))
        community_rows = tuple(grouped.pop(0, []))
        voters, eligible = stored.get(0, (0, 0))
        turnout = Turnout(
            election.id,
            election.period,
            election.state,
            tuple(
                BuildingTurnout(b, titles.get(b, "?"), stored[b][0], stored[b][1])
                for b in sorted(grouped)
                if b in stored
            ),
            voters,
            eligible,
        )
        winners = tuple(s for s in community_rows if s.rank <= election.top_n and s.votes > 0)
        return ElectionResults(election, community_rows, {b: tuple(v) for b, v in grouped.items()}, turnout, winners)

    # --- helpers -------------------------------------------------------------------------------------
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

    async def _staff(self, tx: Tx, community: Community, actor: UserInfo) -> None:
        if not await RegistryRepo(tx).has_role(community.id, actor.id, Role.STAFF):
            raise PermissionDenied("error.staff_only")


def _result_rows(results: ElectionResults) -> list[ResultRow]:
    by_id = {t.building_id: t for t in results.turnout.buildings}
    rows = [
        ResultRow(0, s.candidate_id, s.votes, s.rank, results.turnout.voters, results.turnout.eligible)
        for s in results.community
    ]
    for building_id, standings in results.buildings.items():
        bt = by_id.get(building_id)
        rows.extend(
            ResultRow(building_id, s.candidate_id, s.votes, s.rank, bt.voters if bt else 0, bt.eligible if bt else 0)
            for s in standings
        )
    return rows


def _summary(results: ElectionResults) -> dict[str, Any]:
    election = results.election
    return {
        "period": election.period,
        "top_n": election.top_n,
        "winners": result_lines(results.winners),
        "community_lines": result_lines(results.community),
        "community_chart": chart(results.community),
        "voters_total": results.turnout.voters,
        "eligible_total": results.turnout.eligible,
        "turnout_total": results.turnout.percent,
    }


def photo_spec(caption_key: str, caption_params: dict[str, Any], bars: list[dict[str, object]]) -> dict[str, Any]:
    """A bar chart the outbox renders at send time (``handlers.delivery``: sendPhoto, then the text)."""
    return {"kind": "bars", "caption_key": caption_key, "caption_params": caption_params, "bars": bars}


def building_result_params(results: ElectionResults, building: Building) -> dict[str, Any]:
    """Parameters of ``election.result`` for one building chat (counts only, no voter ids)."""
    mine = results.buildings.get(building.id, ())
    bt = next((t for t in results.turnout.buildings if t.building_id == building.id), None)
    params: dict[str, Any] = {
        **_summary(results),
        "building": building.title,
        "lines": result_lines(mine) or "-",
        "chart": chart(mine),
        "voters": bt.voters if bt else 0,
        "eligible": bt.eligible if bt else 0,
        "turnout": bt.percent if bt else 0,
    }
    if mine:
        caption = {"period": results.election.period, "building": building.title}
        params["photo"] = photo_spec("votes.chart_building", caption, chart(mine))
    elif results.community:  # no candidates of its own: the community's standings
        params["photo"] = photo_spec(
            "votes.chart_community", {"period": results.election.period}, chart(results.community)
        )
    return params


def staff_result_params(results: ElectionResults) -> dict[str, Any]:
    """Parameters of ``election.staff_result`` (community standings and turnout per building)."""
    params: dict[str, Any] = {
        **_summary(results),
        "turnout_lines": "\n".join(
            f"{t.title}: {t.voters}/{t.eligible} ({t.percent}%)" for t in results.turnout.buildings
        ),
    }
    bars = chart(results.community)
    if bars:
        params["photo"] = photo_spec("votes.chart_community", {"period": results.election.period}, bars)
    return params


def ballot_buttons(page: BallotPage) -> tuple[tuple[Button, ...], ...]:
    """One button per candidate (``ev:<election>:<candidate>``), then paging (``ep:<election>:<building>:<page>``)."""
    rows: list[tuple[Button, ...]] = [
        (
            Button(
                "btn.vote_for",
                data=f"ev:{page.election_id}:{c.user_id}",
                params={"name": c.display, "unit": c.unit_name},
            ),
        )
        for c in page.candidates
    ]
    nav: list[Button] = []
    if page.page > 0:
        nav.append(Button("btn.page_prev", data=f"ep:{page.election_id}:{page.building_id}:{page.page - 1}"))
    if page.page + 1 < page.pages:
        nav.append(Button("btn.page_next", data=f"ep:{page.election_id}:{page.building_id}:{page.page + 1}"))
    if nav:
        rows.append(tuple(nav))
    return tuple(rows)
