"""The yearly title (rules: :mod:`bot.services.elections.rules`, "Yearly title"): decided from the
year's monthly awards once December's election has closed (or January's opening moment has passed
with nothing of the year pending), claimed once per community and year, and announced by the
:class:`~bot.services.elections.cycle.ElectionCycle` that calls it from its tick: a chart and a text
in every building chat and the staff chat, and a private message to each winner."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.i18n import rows
from bot.models import Community, Notice
from bot.services.elections.publish import photo_spec
from bot.services.elections.rules import YEARLY, ElectionSettings
from storage.awards import AwardsRepo
from storage.elections import ElectionsRepo
from storage.registry import RegistryRepo

if TYPE_CHECKING:
    from bot.services.elections.cycle import ElectionCycle


async def yearly_title(cycle: ElectionCycle, community: Community, now: datetime) -> bool:
    """Decide and announce the community's title of last year once it is due; True if this call did."""
    settings = ElectionSettings.from_settings(community.settings)
    tz = ZoneInfo(community.timezone)
    year = now.astimezone(tz).year - 1
    if now < settings.opening_in(tz, year + 1, 1):
        return False  # December's election has not even opened yet
    async with cycle.db.read() as tx:
        awards = AwardsRepo(tx)
        if await awards.title_decided(community.id, year):
            return False
        if any(e.state in ("scheduled", "open") for e in await ElectionsRepo(tx).of_year(community.id, year)):
            return False
        standings = [r for r in await awards.year_standings(community.id, year) if r["votes"]]
    if not standings:
        return False

    def key(row: Any) -> tuple[int, int, str]:
        wins, votes, first = int(row["wins"]), int(row["votes"]), row["first_win"] or "9999-99"
        return (-wins, -votes, first) if settings.yearly_rule == "wins" else (-votes, -wins, first)

    best = min(key(r) for r in standings)
    winners = sorted((r for r in standings if key(r) == best), key=lambda r: int(r["user_id"]))
    async with cycle.db.write() as tx:
        repo = AwardsRepo(tx)
        if not await repo.claim_title(community.id, year, settings.yearly_rule, len(winners), now):
            return False
        lines: list[dict[str, Any]] = []
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
            lines.append({"name": name, "unit": unit, "building": building, "wins": wins, "votes": votes})
            await cycle.announce(
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
            "winners": rows("title.winner_line", lines),
            "count": len(winners),
            "rule_key": f"title.rule.{settings.yearly_rule}",
        }
        bars: list[dict[str, object]] = []  # the year's standings as a chart, like the monthly results
        for rank, row in enumerate(sorted(standings, key=key), 1):
            snap = await repo.last_candidate_snapshot(community.id, int(row["user_id"]))
            value = int(row["wins"]) if settings.yearly_rule == "wins" else int(row["votes"])
            bars.append(
                {
                    "label": snap.display if snap else str(row["user_id"]),
                    "unit": snap.unit_name if snap else "",
                    "building": snap.building_title if snap else "",
                    "votes": value,
                    "rank": 1 if key(row) == best else rank,
                }
            )
        measure = "wins" if settings.yearly_rule == "wins" else "votes"
        params["photo"] = photo_spec("votes.chart_year", {"year": year, "rule_key": params["rule_key"]}, bars, measure)
        chats = [b.chat_id for b in await RegistryRepo(tx).buildings_of(community.id) if b.active]
        for chat_id in [*chats, community.staff_chat_id]:
            await cycle.announce(
                tx,
                Notice(chat_id, "title.announce", params, dedupe_key=f"title:{community.id}:{year}:{chat_id}"),
                community,
                now,
            )
    return True
