"""What the election posts: the ballot's buttons, the results' text lines and chart bars, and the
parameters of the result messages (counts only: nothing here says who voted for whom). The chart
itself is drawn when the message is sent (``handlers.delivery``), so the outbox stores only numbers."""

from __future__ import annotations

from typing import Any

from bot.models import Building, Button
from bot.services.elections.rules import CHART_MAX, BallotPage, ElectionResults, Standing
from storage.elections import ResultRow


def result_lines(standings: tuple[Standing, ...] | list[Standing], limit: int = CHART_MAX) -> str:
    """A short language-neutral text version (accessibility; the template adds the words)."""
    return "\n".join(
        f"{s.rank}. {s.display} ({s.unit_name}, {s.building_title}) — {s.votes}" for s in standings[:limit]
    )


def chart(standings: tuple[Standing, ...] | list[Standing], limit: int = CHART_MAX) -> list[dict[str, object]]:
    """Bars for a chart image: label and value, best first."""
    return [{"label": s.display, "unit": s.unit_name, "votes": s.votes, "rank": s.rank} for s in standings[:limit]]


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
