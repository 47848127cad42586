"""Telegram adapters of the monthly election (rules: bot.services.elections; permissions are checked
there). Residents' proposals are in :mod:`handlers.proposals`; ``register`` adds both, in one order.

Buttons
    ``ev:<election>:<candidate>``  a vote (the answer is an alert only the voter sees; nothing is posted)
    ``ep:<election>:<building>:<page>``  another page of a long ballot (the ballot message is edited)
    ``pv:<proposal>:<option>``  a vote on a proposal (:mod:`handlers.proposals`)

Commands
    building chat: ``/vote`` (the ballot again), ``/results`` (last closed election); ``/decisions``
    and ``/propose`` are in :mod:`handlers.proposals`
    staff chat: ``/election`` (status and live turnout) with ``extend YYYY-MM-DD HH:MM``, ``cancel``,
    ``repost``, ``nominate [BUILDING /] UNIT``, ``withdraw [BUILDING /] UNIT``, ``set [KEY VALUE]``;
    ``/results`` (community standings)

Ids in buttons have at most 18 digits (they fit the database's 64-bit integers); longer ones match no
pattern here (the button is answered as out of date).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from telegram import InputFile, Update
from telegram.error import BadRequest

from bot.errors import InvalidInput, NotFound, WrongChat
from bot.i18n import Translator, plural
from bot.models import Community, Reply
from bot.services.elections import (
    EDITABLE,
    BallotPage,
    NoBallotHere,
    NoOpenElection,
    SettingsView,
    ballot_buttons,
    building_result,
    staff_result,
)
from bot.services.registry import ChatContext
from bot.services.routing import fmt_local
from handlers.callback_data import button_ids, place_of
from handlers.common import actor, chart_pages, draw_chart, is_group, keyboard, send_reply, send_text, translator
from handlers.context import AppContext
from handlers.setup import _sync_if_staff_chat

if TYPE_CHECKING:
    pass

STATE_KEYS = {
    "scheduled": "votes.state.scheduled",
    "open": "votes.state.open",
    "closed": "votes.state.closed",
    "cancelled": "votes.state.cancelled",
    "missed": "votes.state.missed",
}
WHEN = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})$")


# --- where a command was sent -----------------------------------------------------------------------
async def chat_ctx(update: Update, context: AppContext) -> ChatContext:
    chat = update.effective_chat
    ctx = await context.services.registry.chat_context(chat.id) if chat is not None and is_group(update) else None
    if ctx is None:
        raise WrongChat("error.building_chat_only")
    return ctx


async def building_ctx(update: Update, context: AppContext) -> ChatContext:
    ctx = await chat_ctx(update, context)
    if ctx.kind != "building" or ctx.building is None:
        raise WrongChat("error.building_chat_only")
    return ctx


async def staff_ctx(update: Update, context: AppContext) -> ChatContext:
    chat = update.effective_chat
    ctx = await context.services.registry.chat_context(chat.id) if chat is not None and is_group(update) else None
    if ctx is None or ctx.kind != "staff":
        raise WrongChat("error.staff_chat_only")
    await _sync_if_staff_chat(update, context)  # staff are the chat's admins: refresh before acting
    return ctx


def parse_local(day: str, clock: str, community: Community) -> datetime:
    try:
        return datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(community.timezone))
    except ValueError as exc:
        raise InvalidInput("votes.bad_time") from exc


# --- ballots ----------------------------------------------------------------------------------------
def ballot_reply(page: BallotPage, community: Community, building_title: str) -> Reply:
    params = {
        "period": page.period,
        "closes": fmt_local(page.closes_at, community),
        "building": building_title,
        "candidates": page.total,
        "page": page.page + 1,
        "pages": page.pages,
    }
    return Reply("election.ballot", params, ballot_buttons(page))


async def vote_command(update: Update, context: AppContext) -> None:
    """/vote in a building chat: the current ballot again (first page)."""
    ctx = await building_ctx(update, context)
    assert ctx.building is not None
    page = await context.services.elections.ballot(ctx.building.id)
    if not page.total:
        raise NoBallotHere(period=page.period, building=ctx.building.title)
    await send_reply(update, context, ballot_reply(page, ctx.community, ctx.building.title))


async def vote_button(update: Update, context: AppContext) -> None:
    """``ev:<election>:<candidate>``: the choice is confirmed to the voter alone."""
    query = update.callback_query
    assert query is not None and query.data is not None
    election_id, candidate_id = button_ids(query.data, 1, 2)
    outcome = await context.services.elections.vote(actor(update), election_id, candidate_id)
    t = await translator(update, context)
    await query.answer(t(outcome.key, **outcome.params)[:200], show_alert=True)


async def page_button(update: Update, context: AppContext) -> None:
    """``ep:<election>:<building>:<page>``: show another page in the same ballot message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    election_id, building_id, page_no = button_ids(query.data, 1, 3)
    elections = context.services.elections
    place = place_of(update)
    if place.chat_id is None:
        raise NotFound("error.building_unknown")
    page = await elections.ballot(building_id, page_no, election_id=election_id, chat_id=place.chat_id)
    ctx = await context.services.registry.chat_context(query.message.chat.id) if query.message else None
    if ctx is None or ctx.building is None or ctx.building.id != page.building_id:
        raise NotFound("error.building_unknown")
    t = await translator(update, context)
    reply = ballot_reply(page, ctx.community, ctx.building.title)
    await query.answer()
    try:
        await query.edit_message_text(t(reply.template, **reply.params), reply_markup=keyboard(t, reply.buttons))
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


# --- results ----------------------------------------------------------------------------------------
async def send_with_chart(update: Update, context: AppContext, template: str, params: dict[str, Any]) -> None:
    """The chart image (if any) and the text version, which is what screen readers read."""
    t = await translator(update, context)
    chat = update.effective_chat
    assert chat is not None
    for rows, caption in chart_pages(t, params):  # several images when there are many candidates
        png = await draw_chart(rows, caption, context.services.settings.card_font)
        if png is not None:
            await context.bot.send_photo(chat.id, InputFile(png, filename="results.png"), caption=caption)
    await send_reply(update, context, Reply(template, params), t)


async def results_command(update: Update, context: AppContext) -> None:
    """/results: the last closed election (a building chat: its ballot; the staff chat: the community)."""
    ctx = await chat_ctx(update, context)
    elections = context.services.elections
    election = await elections.latest_closed(ctx.community.id)
    if election is None:
        raise NotFound("votes.no_results")
    results = await elections.results(election.id)
    if ctx.kind == "building" and ctx.building is not None:
        template, params = building_result(results, ctx.building)
    else:
        template, params = staff_result(results)
    await send_with_chart(update, context, template, params)


# --- staff: /election -------------------------------------------------------------------------------
async def election_command(update: Update, context: AppContext) -> None:
    ctx = await staff_ctx(update, context)
    community = ctx.community
    args = list(context.args or [])
    sub = args[0].lower() if args else ""
    rest = args[1:]
    me = actor(update)
    elections = context.services.elections
    staff = context.services.election_staff
    if sub == "set":
        await election_settings(update, context, community, rest)
        return
    if sub == "nominate":
        unit_id = await pick_unit(context, community, " ".join(rest))
        candidate = await staff.nominate(me, community.id, unit_id)
        await send_reply(
            update, context, Reply("votes.nominated", {"name": candidate.display, "unit": candidate.unit_name})
        )
        return
    if sub == "":
        await election_status(update, context, community)
        return
    if sub == "withdraw":
        unit_id = await pick_unit(context, community, " ".join(rest))
        done = await staff.withdraw_unit(me, community.id, unit_id)
        key = "votes.withdrawn_shortlist" if done.from_shortlist else "votes.withdrawn"
        await send_reply(update, context, Reply(key, {"period": done.election.period, "name": done.candidate.display}))
        return
    if sub not in ("extend", "cancel", "repost"):
        raise InvalidInput("votes.election_usage")
    if sub == "extend" and (len(rest) != 2 or not WHEN.match(" ".join(rest))):
        raise InvalidInput("votes.election_usage")
    election = await elections.current(community.id)  # these act on the open election only
    if election is None:
        raise NoOpenElection()
    if sub == "extend":
        fresh = await staff.extend(me, election.id, parse_local(rest[0], rest[1], community))
        await send_reply(
            update,
            context,
            Reply("votes.extended", {"period": fresh.period, "closes": fmt_local(fresh.closes_at, community)}),
        )
    elif sub == "cancel":
        fresh = await staff.cancel(me, election.id)
        await send_reply(update, context, Reply("votes.cancelled", {"period": fresh.period}))
    else:
        posted = await staff.repost(me, election.id)
        await send_reply(
            update,
            context,
            Reply("votes.reposted", {"period": election.period, "count": plural("count.building_chats", posted)}),
        )


async def pick_unit(context: AppContext, community: Community, name: str) -> int:
    if not name.strip():
        raise InvalidInput("votes.election_usage")
    found = await context.services.election_staff.find_units(community.id, name)
    if not found:
        raise NotFound("votes.unit_unknown", unit=name)
    if len(found) > 1:
        raise InvalidInput("votes.unit_ambiguous", unit=name, buildings=", ".join(b for _, b, _ in found))
    return found[0][0]


async def election_status(update: Update, context: AppContext, community: Community) -> None:
    """The open (else the next) election with live turnout per building: counts, never choices."""
    elections = context.services.elections
    election = await elections.current_or_next(community.id)
    if election is None:
        settings = await elections.settings_of(community.id)
        key = "votes.status_none" if settings.enabled else "votes.status_disabled"
        await send_reply(update, context, Reply(key, {}))
        return
    turnout = await context.services.election_staff.turnout(actor(update), election.id)
    lines = "\n".join(f"{b.title}: {b.voters}/{b.eligible} ({b.percent}%)" for b in turnout.buildings) or "-"
    params = {
        "period": election.period,
        "state_key": STATE_KEYS.get(election.state, "votes.state.open"),
        "opens": fmt_local(election.opens_at, community),
        "closes": fmt_local(election.closes_at, community),
        "candidates": await elections.candidate_count(election.id),
        "voters": turnout.voters,
        "eligible": turnout.eligible,
        "turnout": turnout.percent,
        "lines": lines,
    }
    await send_reply(update, context, Reply("votes.status", params))


async def election_settings(update: Update, context: AppContext, community: Community, rest: list[str]) -> None:
    staff = context.services.election_staff
    if len(rest) >= 2:
        view = await staff.configure(actor(update), community.id, rest[0], " ".join(rest[1:]))
    elif not rest:
        view = await staff.settings_view(community.id)
    else:
        raise InvalidInput("votes.election_usage")
    t = await translator(update, context)
    await send_text(update, context, settings_text(t, view, community))


def settings_text(t: Translator, view: SettingsView, community: Community) -> str:
    """The settings, then when the next election opens and whether an open one keeps its own."""
    values = view.settings.model_dump(mode="json")
    lines = "\n".join(f"{k} = {values[k]}" for k in EDITABLE)
    parts = [t("votes.settings", lines=lines)]
    if view.next_opens is None:
        parts.append(t("votes.settings_off"))
    else:
        parts.append(t("votes.settings_next", period=view.next_period, opens=fmt_local(view.next_opens, community)))
    if view.open_period is not None:
        parts.append(t("votes.settings_open_now", period=view.open_period))
    return "\n\n".join(parts)
