"""The rules of residents' proposals and their records, without storage: the options, who counts
(households and modes), which ballots count, the quorum and the verdict, the ballot buttons and the
parameters of a result message. :class:`bot.services.proposals.ProposalService` applies them.

Options
    Yes / no / abstain by default, or 2..10 custom options. With the default options, *abstain*
    counts for turnout and quorum but not for the decision.

Households and modes
    A *household* is a unit of the building with at least one registered resident (``residents``
    rows; a person registered in two units of the building is counted in the unit they registered
    last, as the ``residents`` table holds one unit per person and building).
    ``per_resident``: every registered resident of the building has one vote.
    ``per_unit``: one vote per household; the first resident of the unit to vote holds the
    household's ballot (they may change it until closing), the others are told it was cast.

Ballots and moving unit (``/myunit``) while a proposal is open
    A person has one ballot per proposal (found by their id, in either mode), and it belongs to the
    household they live in *now*: moving to another unit of the building takes their ballot along.
    ``per_unit``: a household is taken when one of its current residents has a ballot, so after a
    move the unit left may vote again and the unit joined may not vote twice (a resident who moves
    into a unit that has voted is told so; should two current residents of a unit both hold a
    ballot, the one cast from that unit counts, else the earliest). Only ballots of people
    registered in the building at closing count. So nobody counts twice, no household counts twice
    and the households that took part never outnumber the households.

Quorum
    ``quorum_pct`` percent of the building's households must take part (a household takes part when
    any of its current residents voted, in either mode), counted at closing. With no household
    registered the quorum is met only when it is 0 %.

Decision
    Quorum missed: ``no_quorum``. Otherwise the option with strictly most votes wins (``adopted`` /
    ``rejected`` for yes / no, ``chosen`` for custom options); equal leaders, or no votes at all,
    give ``tie``. The decision, counts and turnout are kept in ``building_decisions``; the link
    voter -> option is erased at closing (ballot secrecy), who took part is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, get_args

from bot.errors import Conflict, InvalidInput
from bot.models import Button
from bot.services.elections import percent
from storage.proposals import Ballot, Decision, Proposal

Mode = Literal["per_resident", "per_unit"]
MODES: tuple[str, ...] = get_args(Mode)
DEFAULT_OPTIONS = ("yes", "no", "abstain")
ABSTAIN = 2  # index of "abstain" among the default options
QUESTION_MAX = 500
OPTION_MAX = 100
MIN_OPTIONS, MAX_OPTIONS = 2, 10
MIN_DURATION = timedelta(minutes=10)
MAX_DURATION = timedelta(days=90)


class HouseholdVoted(Conflict):
    """Per-unit mode: another resident of the unit holds the household's ballot."""

    key = "error.vote_household_voted"


class OptionUnknown(InvalidInput):
    key = "error.vote_option_unknown"


@dataclass(frozen=True)
class ProposalVote:
    key: str  # done.proposal_vote_cast | done.proposal_vote_changed | done.proposal_vote_same
    proposal_id: int
    option: int
    params: dict[str, object]


@dataclass(frozen=True)
class ProposalStatus:
    """Live turnout while open; the decision (with counts) once closed. No voter ids."""

    proposal: Proposal
    voters: int
    eligible: int
    households_voted: int
    households: int
    decision: Decision | None

    @property
    def turnout(self) -> int:
        return percent(self.voters, self.eligible)


def verdict(counts: Sequence[int], custom: bool, quorum_met: bool) -> tuple[str, int | None]:
    """(outcome, winning option index) - see the module docstring."""
    if not quorum_met:
        return "no_quorum", None
    considered = list(range(len(counts))) if custom else [i for i in range(len(counts)) if i != ABSTAIN]
    best = max(counts[i] for i in considered)
    leaders = [i for i in considered if counts[i] == best]
    if best == 0 or len(leaders) > 1:
        return "tie", None
    winner = leaders[0]
    if custom:
        return "chosen", winner
    return ("adopted" if winner == 0 else "rejected"), winner


@dataclass(frozen=True)
class Counted:
    counts: dict[int, int]  # option index -> ballots (choices erased: empty)
    voters: int  # ballots that count
    households: int  # households taking part


def holder_rank(ballot: Ballot) -> tuple[bool, int, int]:
    """Per unit, which of a household's ballots is its vote (lowest first): one cast from that unit
    before one brought along from another unit, then the earliest."""
    return (ballot.cast_from != ballot.household, ballot.cast_at, ballot.voter_id)


def count_ballots(ballots: Sequence[Ballot], mode: str) -> Counted:
    """Which ballots count (see the module docstring): every ballot of a resident; per unit only one
    per household (the unit the voter lives in now): the one cast from that unit, else the earliest."""
    person: dict[int, Ballot] = {}  # one per person (older data may hold two)
    for b in sorted(ballots, key=lambda b: (b.cast_at, b.household)):
        person.setdefault(b.voter_id, b)
    kept = list(person.values())
    if mode == "per_unit":
        holder: dict[int, Ballot] = {}
        for b in kept:
            held = holder.get(b.household)
            if held is None or holder_rank(b) < holder_rank(held):
                holder[b.household] = b
        kept = list(holder.values())
    counts: dict[int, int] = {}
    for b in kept:
        if b.option is not None:
            counts[b.option] = counts.get(b.option, 0) + 1
    return Counted(counts, len(kept), len({b.household for b in kept}))


def quorum_met(households_voted: int, households: int, quorum_pct: int) -> bool:
    if quorum_pct <= 0:
        return True
    return households > 0 and households_voted * 100 >= quorum_pct * households


def clean_options(options: Sequence[str] | None) -> tuple[tuple[str, ...], bool]:
    """(options, custom); raises InvalidInput for fewer than 2, more than 10, too long or repeated."""
    if options is None:
        return DEFAULT_OPTIONS, False
    cleaned = [" ".join(o.split()) for o in options]
    cleaned = [o for o in cleaned if o]
    if not MIN_OPTIONS <= len(cleaned) <= MAX_OPTIONS:
        raise InvalidInput("error.proposal_options", min=MIN_OPTIONS, max=MAX_OPTIONS)
    if any(len(o) > OPTION_MAX for o in cleaned):
        raise InvalidInput("error.proposal_option_long", max=OPTION_MAX)
    if len({o.casefold() for o in cleaned}) != len(cleaned):
        raise InvalidInput("error.proposal_option_repeated")
    return tuple(cleaned), True


def option_buttons(proposal: Proposal) -> tuple[tuple[Button, ...], ...]:
    """``pv:<proposal>:<option index>``; default options on one row, custom ones one per row."""
    if not proposal.custom:
        return (
            tuple(
                Button(f"proposal.option.{name}", data=f"pv:{proposal.id}:{i}")
                for i, name in enumerate(proposal.options)
            ),
        )
    return tuple(
        (Button("btn.proposal_option", data=f"pv:{proposal.id}:{i}", params={"n": i + 1, "text": text}),)
        for i, text in enumerate(proposal.options)
    )


def result_params(proposal: Proposal, decision: Decision) -> dict[str, object]:
    """Template parameters of a result: counts, turnout, quorum and the verdict (no voter ids)."""
    params: dict[str, object] = {
        "id": proposal.id,
        "question": proposal.question,
        "verdict_key": f"proposal.verdict.{decision.outcome}",
        "counts": list(decision.counts),
        "voters": decision.voters,
        "eligible": decision.eligible,
        "turnout": percent(decision.voters, decision.eligible),
        "households_voted": decision.households_voted,
        "households": decision.households,
        "quorum_pct": decision.quorum_pct,  # "quorum" is the met/missed text (quorum_key)
        "quorum_key": "proposal.quorum_met" if decision.quorum_met else "proposal.quorum_missed",
        "mode_key": f"proposal.mode.{proposal.mode}",
    }
    if proposal.custom:
        params["lines"] = "\n".join(f"{o} — {n}" for o, n in zip(proposal.options, decision.counts, strict=True))
        params["winner"] = proposal.options[decision.winner_option] if decision.winner_option is not None else "-"
    else:
        params.update(yes=decision.counts[0], no=decision.counts[1], abstain=decision.counts[2])
    return params
