"""The monthly "best unit head" election and the yearly title.

Schedule
    Each community runs one election per month (``UNIQUE (community_id, period)``, period
    ``"2026-10"`` = the month the vote is about). :class:`ElectionSettings` lives in
    ``communities.settings['elections']``; by default the election for a month opens on the 1st of
    the next month at 10:00 local time and runs 7 days. :meth:`ElectionService.tick` (called by the
    sweep) drives everything and catches up after downtime:

    * it creates the election of the most recent opening moment that has passed (only that one; a
      community created after that moment starts with the next month, and so does a schedule changed
      or re-enabled after it: ``schedule_since``, set by :meth:`ElectionStaffService.configure`, is
      the moment of the last change of ``open_day`` / ``open_time`` or of switching elections on, and
      openings before it are skipped, never reported as missed);
    * an election created early (a staff nomination creates it before its opening) follows later
      changes of ``open_day``, ``open_time``, ``duration_days``, ``top_n`` and ``scope`` until it opens
      (re-planned by ``configure``; if its new opening moment has passed it opens at the next tick
      and runs ``duration_days`` from then). An open election keeps its settings;
    * a scheduled election is not opened while elections are switched off (``enabled`` false): it is
      cancelled (note ``disabled``) and staff are told once;
    * a scheduled election whose opening moment passed is opened late but closes at its scheduled
      time; if the bot was down for the whole window it is marked ``missed`` (staff are told) rather
      than opened and closed with no chance to vote;
    * an open election whose closing moment passed is closed and tallied.

    Every transition is a guarded ``UPDATE ... WHERE state = '<from>'`` in an immediate transaction
    whose row count says who made it, so two sweeps (or two processes) never act twice.

Candidates and ballots
    Candidates are the community's unit heads at opening (snapshot with unit and building; a person
    heading several units stands once, with their first unit), or, when staff nominated anybody
    before the opening, exactly that shortlist. At opening the ballots are snapshot too
    (``election_candidate_buildings``): a candidate is on the ballot of their own building and of
    every other building where they head a unit (shown with the unit they head there). With scope
    ``own_building`` (default) each building's ballot lists those candidates and its residents may
    vote only for them; the vote counts in that building's standings (a voter registered in two
    buildings counts in the first one they registered in that lists the candidate). With scope
    ``community`` every ballot lists every candidate. Ballots are paged
    (:meth:`ElectionService.ballot`).

    Staff withdraw a person by unit: if they are on the shortlist of the election still waiting to
    open, they leave that shortlist; otherwise they are withdrawn from the open election (votes for
    them stop counting, their voters may vote again, and the building chats whose ballot listed them
    are told so, without any voter's name).

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
    ``election_results``, the turnout of every building in ``election_turnout``, and the link is
    erased (``candidate_id`` set to NULL and the candidate's building set to 0, so a person
    registered in two buildings does not reveal whose building's candidate they chose), keeping
    only who took part. A cancelled election's choices are erased the same way.

Tally and tie rule
    One ``GROUP BY building, candidate`` over a covering index. Ranking is standard competition
    ranking: equal votes share the rank (1, 1, 3). Every candidate whose rank is within ``top_n`` and
    who got at least one vote is a winner and gets an award (``kind='monthly_best'``), so a tie at the
    boundary may give more than ``top_n`` winners: nobody is dropped by an arbitrary rule. Within a
    tie the listing order is who reached that count first (the earlier moment of their latest
    counted vote), then ballot order. Votes for a candidate removed during the election do not count.

Yearly title
    Decided once per community and year (``yearly_titles`` primary key) after December's election
    closes, or at January's opening moment when no election of the year is still pending. Rule
    ``wins`` (default): most monthly wins (community rank 1 with votes), then total votes over the
    year, then the earliest win. Rule ``votes``: total votes, then wins, then earliest win. People
    still equal on all of these share the title. Recorded as ``kind='yearly_title'`` awards.

Announcements (ballots, results, opened / extended / cancelled / withdrawn notices, award messages) go
to the chats through the outbox in the same transaction as the change; they are sent at once in the
daytime (08:00-21:00 local, on any day: a weekend or holiday opening is not held until Monday) and
otherwise at the next 08:00 local (:func:`send_at`). A ballot whose vote would close before that
morning goes out at once: never after its closing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from bot.errors import Conflict, NotFound, PermissionDenied
from bot.models import Community
from storage.elections import Candidate, Election

MONTHLY = "monthly_best"
YEARLY = "yearly_title"
MAX_EXTENSION = timedelta(days=30)
TEXT_MAX = 50  # lines of the community-wide list in the staff's text ("...and N more")
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


class NoBallotHere(NotFound):
    """The open election lists nobody on this building's ballot."""

    key = "error.election_no_ballot_here"


class NotACandidate(NotFound):
    """Withdraw: the person is neither on the next election's shortlist nor on the open ballot."""

    key = "error.election_not_candidate"


# --- settings ---------------------------------------------------------------------------------------
class ElectionSettings(BaseModel):
    """Stored as JSON in ``communities.settings['elections']``; staff change it with
    :meth:`ElectionStaffService.configure`."""

    model_config = ConfigDict(extra="ignore")

    enabled: bool = True
    open_day: int = Field(1, ge=1, le=28)
    open_time: time = time(10, 0)
    duration_days: int = Field(7, ge=1, le=27)
    top_n: int = Field(3, ge=1, le=10)
    scope: Literal["own_building", "community"] = "own_building"
    yearly_rule: Literal["wins", "votes"] = "wins"
    page_size: int = Field(8, ge=1, le=20)
    # not editable: the moment of the last change of open_day / open_time or of switching elections
    # on; openings before it are skipped (the change takes effect from the next opening)
    schedule_since: datetime | None = None

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


EDITABLE = tuple(k for k in ElectionSettings.model_fields if k != "schedule_since")
SCHEDULE_KEYS = ("enabled", "open_day", "open_time")  # a change here sets schedule_since
REPLAN_KEYS = ("open_day", "open_time", "duration_days", "top_n", "scope")  # a scheduled election follows them


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


@dataclass(frozen=True)
class SettingsView:
    """The settings with what they mean now (the answer to ``/election set``)."""

    settings: ElectionSettings
    next_period: str | None  # the next election to open; None: elections are switched off
    next_opens: datetime | None
    open_period: str | None  # an election open right now: it keeps the settings it opened with


@dataclass(frozen=True)
class Withdrawn:
    election: Election
    candidate: Candidate
    from_shortlist: bool  # True: taken off the next election's shortlist; False: off the open ballot


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


def send_at(community: Community, now: datetime, deadline: datetime | None = None) -> datetime:
    """When an announcement goes out: at once in the daytime (08:00-21:00 local, any day, so a weekend
    opening is not held until Monday), otherwise at the next 08:00 local. With ``deadline`` (a
    ballot's closing moment) it is never held to or past the deadline: then it goes out at once."""
    tz = ZoneInfo(community.timezone)
    local = now.astimezone(tz)
    if DAYTIME[0] <= local.time() < DAYTIME[1]:
        return now
    day = local.date() if local.time() < DAYTIME[0] else local.date() + timedelta(days=1)
    morning = datetime.combine(day, DAYTIME[0], tzinfo=tz)
    if deadline is not None and morning >= deadline:
        return now
    return morning


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
