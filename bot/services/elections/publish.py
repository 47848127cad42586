"""What the election posts: the ballot's buttons, the results' text lines and chart bars, and the
result messages (counts only: nothing here says who voted for whom). The chart itself is drawn when
the message is sent (``handlers.outbox_sender``), so the outbox stores only numbers.

The text versions name every winner and list every candidate of a building; only the community-wide
list in the staff's text stops after ``TEXT_MAX`` lines ("...and N more"). Charts show every
candidate (several images when there are many: ``handlers.common.chart_pages``)."""

from __future__ import annotations

from typing import Any

from bot.i18n import rows
from bot.models import Building, Button
from bot.services.elections.rules import TEXT_MAX, BallotPage, ElectionResults, Standing
from storage.elections import ResultRow


def result_lines(standings: tuple[Standing, ...] | list[Standing], limit: int | None = None) -> dict[str, Any]:
    """The text version of results (accessibility: what screen readers read), one line per candidate
    in the reader's language ("1. Uma (unit 1, Building 7) — votes: 3"): every line, or the first ``limit``."""
    shown = standings if limit is None else standings[:limit]
    return rows(
        "election.result_line",
        [
            {"rank": s.rank, "name": s.display, "unit": s.unit_name, "building": s.building_title, "votes": s.votes}
            for s in shown
        ],
    )


def chart(standings: tuple[Standing, ...] | list[Standing]) -> list[dict[str, object]]:
    """Bars for a chart image, every candidate, best first: name, unit, building, votes and rank."""
    return [
        {"label": s.display, "unit": s.unit_name, "building": s.building_title, "votes": s.votes, "rank": s.rank}
        for s in standings
    ]


def result_rows(results: ElectionResults) -> list[ResultRow]:
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


def turnout_rows(results: ElectionResults) -> list[tuple[int, int, int]]:
    """(building, voters, eligible) of every building, and building 0 for the whole community."""
    rows = [(0, results.turnout.voters, results.turnout.eligible)]
    rows.extend((t.building_id, t.voters, t.eligible) for t in results.turnout.buildings)
    return rows


def _summary(results: ElectionResults) -> dict[str, Any]:
    election = results.election
    params: dict[str, Any] = {
        "period": election.period,
        "top_n": election.top_n,
        "community_lines": result_lines(results.community, TEXT_MAX),
        "voters_total": results.turnout.voters,
        "eligible_total": results.turnout.eligible,
        "turnout_total": results.turnout.percent,
    }
    if results.winners:
        params["winners"] = result_lines(results.winners)
    else:  # nobody got a counted vote: say so rather than leave the list blank
        params["winners_key"] = "election.no_winners"
    return params


def photo_spec(
    caption_key: str, caption_params: dict[str, Any], bars: list[dict[str, object]], measure: str = "votes"
) -> dict[str, Any]:
    """A bar chart the outbox renders at send time (``handlers.outbox_sender``: sendPhoto, then the text);
    ``measure``: what the bars count ("votes", or "wins" for a yearly title decided by monthly wins)."""
    return {
        "kind": "bars",
        "caption_key": caption_key,
        "caption_params": caption_params,
        "bars": bars,
        "measure": measure,
    }


def building_result(results: ElectionResults, building: Building) -> tuple[str, dict[str, Any]]:
    """(template, parameters) of the results for one building chat (counts only, no voter ids)."""
    mine = results.buildings.get(building.id, ())
    bt = next((t for t in results.turnout.buildings if t.building_id == building.id), None)
    params: dict[str, Any] = {
        **_summary(results),
        "building": building.title,
        "lines": result_lines(mine),
        "voters": bt.voters if bt else 0,
        "eligible": bt.eligible if bt else 0,
        "turnout": bt.percent if bt else 0,
    }
    if not results.turnout.voters:  # nobody voted at all: no chart of zeros, no thanks to voters
        return "election.result_no_votes", params
    if mine:
        caption = {"period": results.election.period, "building": building.title}
        params["photo"] = photo_spec("votes.chart_building", caption, chart(mine))
    elif results.community:  # no candidates of its own: the community's standings
        params["photo"] = photo_spec(
            "votes.chart_community", {"period": results.election.period}, chart(results.community)
        )
    return "election.result", params


def staff_result(results: ElectionResults) -> tuple[str, dict[str, Any]]:
    """(template, parameters) of the staff's results: community standings and every building's turnout."""
    params: dict[str, Any] = {
        **_summary(results),
        "turnout_lines": "\n".join(
            f"{t.title}: {t.voters}/{t.eligible} ({t.percent}%)" for t in results.turnout.buildings
        )
        or "-",
    }
    bars = chart(results.community)
    if bars and results.turnout.voters:
        params["photo"] = photo_spec("votes.chart_community", {"period": results.election.period}, bars)
    more = len(results.community) - TEXT_MAX
    if more > 0:
        params["more"] = more
        return "election.staff_result_more", params
    return "election.staff_result", params


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
