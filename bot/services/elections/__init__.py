"""The monthly "best unit head" election and the yearly title.

- :mod:`~bot.services.elections.rules`: the schedule, settings, tie rule and secrecy (its docstring is
  the reference), the domain errors and the result records;
- :mod:`~bot.services.elections.cycle`: :class:`ElectionCycle`, the periodic tick that opens and closes
  elections, tallies, posts ballots and results and decides yearly titles
  (:mod:`~bot.services.elections.title`);
- :mod:`~bot.services.elections.service`: :class:`ElectionService`, what residents do (votes, ballots,
  results);
- :mod:`~bot.services.elections.staff`: :class:`ElectionStaffService`, staff's controls (settings,
  shortlist, extend, cancel, repost, live turnout);
- :mod:`~bot.services.elections.publish`: ballot buttons and the parameters of result messages.
"""

from bot.services.elections.cycle import ElectionCycle
from bot.services.elections.publish import (
    ballot_buttons,
    building_result,
    chart,
    photo_spec,
    result_lines,
    staff_result,
)
from bot.services.elections.rules import (
    EDITABLE,
    BallotPage,
    CandidateRemoved,
    CandidateUnknown,
    ElectionResults,
    ElectionSettings,
    NoBallotHere,
    NoOpenElection,
    NotACandidate,
    NotAResident,
    NotOnBallot,
    SelfVote,
    SettingsView,
    Standing,
    TickReport,
    Turnout,
    VoteOutcome,
    VotingClosed,
    VotingNotOpen,
    Withdrawn,
    percent,
    period_of,
    rank_standings,
    send_at,
    shift_month,
)
from bot.services.elections.service import ElectionService
from bot.services.elections.staff import ElectionStaffService

__all__ = [
    "EDITABLE",
    "BallotPage",
    "CandidateRemoved",
    "CandidateUnknown",
    "ElectionCycle",
    "ElectionResults",
    "ElectionService",
    "ElectionSettings",
    "ElectionStaffService",
    "NoBallotHere",
    "NoOpenElection",
    "NotACandidate",
    "NotAResident",
    "NotOnBallot",
    "SelfVote",
    "SettingsView",
    "Standing",
    "TickReport",
    "Turnout",
    "VoteOutcome",
    "VotingClosed",
    "VotingNotOpen",
    "Withdrawn",
    "ballot_buttons",
    "building_result",
    "chart",
    "percent",
    "period_of",
    "photo_spec",
    "rank_standings",
    "result_lines",
    "send_at",
    "shift_month",
    "staff_result",
]
