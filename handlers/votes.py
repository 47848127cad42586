"""Telegram adapters of the monthly election and residents' proposals (rules: bot.services.elections and
bot.services.proposals; permissions are checked there).

Buttons
    ``ev:<election>:<candidate>``  a vote (the answer is an alert only the voter sees; nothing is posted)
    ``ep:<election>:<building>:<page>``  another page of a long ballot (the ballot message is edited)
    ``pv:<proposal>:<option>``  a vote on a proposal

Commands
    building chat: ``/vote`` (the ballot again), ``/results`` (last closed election), ``/decisions``
    (the building's decisions and open proposals), ``/propose`` (building head: this building)
    staff chat: ``/election`` (status and live turnout) with ``extend YYYY-MM-DD HH:MM``, ``cancel``,
    ``repost``, ``nominate [BUILDING /] UNIT``, ``withdraw [BUILDING /] UNIT``, ``set [KEY VALUE]``;
    ``/results`` (community standings), ``/propose`` (every building)

``/propose [YYYY-MM-DD HH:MM |] [NN% |] [per_resident|per_unit |] QUESTION [| OPTION | OPTION ...]``;
defaults: closes in 7 days, quorum 50 %, one vote per resident, options yes / no / abstain.
``/propose cancel ID`` withdraws an open proposal (its opener or staff); any ``/propose`` whose first
word is ``cancel`` is a cancel request (without a valid id the answer is the usage).

Ids in buttons and commands have at most 18 digits (they fit the database's 64-bit integers); longer
ones match no pattern here (the button is answered as out of date) or are "unknown".
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from telegram import InputFile, Update
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.app import AppContext
from bot.charts import chart_png
from bot.errors import InvalidInput, NotFound, WrongChat
from bot.i18n import Translator
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
from bot.services.proposals import MODES
from bot.services.registry import ChatContext
from bot.services.routing import fmt_local
from handlers.common import actor, is_group, keyboard, send_reply, send_text, translator
from handlers.setup import _sync_if_staff_chat

if TYPE_CHECKING:
    from bot.app import UnitApp

STATE_KEYS = {
    "scheduled": "votes.state.scheduled",
    "open": "votes.state.open",
    "closed": "votes.state.closed",
    "cancelled": "votes.state.cancelled",
    "missed": "votes.state.missed",
}
DEFAULT_DAYS = 7
DEFAULT_QUORUM = 50
WHEN = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})$")
QUORUM = re.compile(r"^(\d{1,3})\s*%$")
LOOKS_LIKE_QUORUM = re.compile(r"^[-+]?\s*[\d.,]+\s*%$")  # "-5%", "12.5%", "1000%": a quorum, but a wrong one
LOOKS_LIKE_MODE = re.compile(r"^per[_ -][a-z]+$", re.IGNORECASE)  # "per_household", "per unit"
CANCEL = re.compile(r"^cancel(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
ID = re.compile(r"^#?(\d+)$")
MAX_ID_DIGITS = 18  # a 64-bit integer holds every 18-digit number
HISTORY = 10
log = logging.getLogger(__name__)


def register(app: UnitApp) -> None:
    commands = {
        "vote": vote_command,
        "results": results_command,
        "election": election_command,
        "propose": propose_command,
        "decisions": decisions_command,
    }
    for name, callback in commands.items():
        app.add_handler(CommandHandler(name, callback), group=0)
    app.add_handler(CallbackQueryHandler(vote_button, pattern=r"^ev:\d{1,18}:\d{1,18}$"), group=0)
    app.add_handler(CallbackQueryHandler(page_button, pattern=r"^ep:\d{1,18}:\d{1,18}:\d{1,6}$"), group=0)
    app.add_handler(CallbackQueryHandler(proposal_button, pattern=r"^pv:\d{1,18}:\d{1,3}$"), group=0)


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


def command_text(update: Update) -> str:
    """What follows the command, with the user's own spacing and ``|`` separators."""
    message = update.effective_message
    text = (message.text or "") if message is not None else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


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
    _, election_id, candidate_id = query.data.split(":")
    outcome = await context.services.elections.vote(actor(update), int(election_id), int(candidate_id))
    t = await translator(update, context)
    await query.answer(t(outcome.key, **outcome.params)[:200], show_alert=True)


async def page_button(update: Update, context: AppContext) -> None:
    """``ep:<election>:<building>:<page>``: show another page in the same ballot message."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, election_id, building_id, page_no = query.data.split(":")
    elections = context.services.elections
    page = await elections.ballot(int(building_id), int(page_no), election_id=int(election_id))
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
    photo = params.get("photo")
    chat = update.effective_chat
    assert chat is not None
    if isinstance(photo, dict):
        caption = t(str(photo["caption_key"]), **dict(photo.get("caption_params") or {}))
        try:
            png: bytes | None = chart_png(caption, photo.get("bars") or [])
        except Exception:  # a chart that cannot be drawn: the text alone says it all
            log.exception("the results chart could not be drawn; sending the text only")
            png = None
        if png is not None:
            await context.bot.send_photo(chat.id, InputFile(png, filename="results.png"), caption=caption[:1024])
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
    if sub == "set":
        await election_settings(update, context, community, rest)
        return
    if sub == "nominate":
        unit_id = await pick_unit(context, community, " ".join(rest))
        candidate = await elections.nominate(me, community.id, unit_id)
        await send_reply(
            update, context, Reply("votes.nominated", {"name": candidate.display, "unit": candidate.unit_name})
        )
        return
    if sub == "":
        await election_status(update, context, community)
        return
    if sub == "withdraw":
        unit_id = await pick_unit(context, community, " ".join(rest))
        done = await elections.withdraw_unit(me, community.id, unit_id)
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
        fresh = await elections.extend(me, election.id, parse_local(rest[0], rest[1], community))
        await send_reply(
            update,
            context,
            Reply("votes.extended", {"period": fresh.period, "closes": fmt_local(fresh.closes_at, community)}),
        )
    elif sub == "cancel":
        fresh = await elections.cancel(me, election.id)
        await send_reply(update, context, Reply("votes.cancelled", {"period": fresh.period}))
    else:
        posted = await elections.repost(me, election.id)
        await send_reply(update, context, Reply("votes.reposted", {"period": election.period, "count": posted}))


async def pick_unit(context: AppContext, community: Community, name: str) -> int:
    if not name.strip():
        raise InvalidInput("votes.election_usage")
    found = await context.services.elections.find_units(community.id, name)
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
    turnout = await elections.turnout(actor(update), election.id)
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
    elections = context.services.elections
    if len(rest) >= 2:
        view = await elections.configure(actor(update), community.id, rest[0], " ".join(rest[1:]))
    elif not rest:
        view = await elections.settings_view(community.id)
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


# --- proposals --------------------------------------------------------------------------------------
def parse_proposal(text: str, community: Community, now: datetime) -> dict[str, Any]:
    """``[WHEN |] [NN% |] [MODE |] QUESTION [| OPTION ...]`` -> arguments of ProposalService.open."""
    parts = [p.strip() for p in text.split("|")]
    closes: datetime | None = None
    quorum: int | None = None
    mode: str | None = None
    while parts:
        head = parts[0]
        when, pct = WHEN.match(head), QUORUM.match(head)
        if when and closes is None:
            closes = parse_local(when.group(1), when.group(2), community)
        elif pct and quorum is None:
            quorum = int(pct.group(1))
        elif LOOKS_LIKE_QUORUM.match(head) and quorum is None:
            raise InvalidInput("error.proposal_quorum")
        elif LOOKS_LIKE_MODE.match(head) and mode is None:
            mode = re.sub(r"[ -]", "_", head.casefold())  # "per unit", "Per-Unit": per_unit
            if mode not in MODES:
                raise InvalidInput("error.proposal_mode", choices=", ".join(MODES))
        else:
            break
        parts.pop(0)
    if not parts or not parts[0]:
        raise InvalidInput("votes.propose_usage")
    options = [p for p in parts[1:] if p]
    return {
        "question": parts[0],
        "options": options or None,
        "closes_at": closes or now + timedelta(days=DEFAULT_DAYS),
        "quorum_pct": DEFAULT_QUORUM if quorum is None else quorum,
        "mode": mode or "per_resident",
    }


async def propose_command(update: Update, context: AppContext) -> None:
    """/propose in the staff chat (every building) or a building chat (its building head or staff)."""
    ctx = await chat_ctx(update, context)
    if ctx.kind == "staff":
        await _sync_if_staff_chat(update, context)
    elif ctx.kind != "building":
        raise WrongChat("error.building_chat_only")
    text = command_text(update)
    proposals = context.services.proposals
    cancel = CANCEL.match(text)
    if cancel:  # "/propose cancel ..." is always a cancel request, never a question
        found = ID.match((cancel.group(1) or "").strip())
        if found is None:
            raise InvalidInput("votes.propose_cancel_usage")
        if len(found.group(1)) > MAX_ID_DIGITS:
            raise NotFound("error.proposal_unknown")
        proposal = await proposals.cancel(actor(update), int(found.group(1)))
        await send_reply(update, context, Reply("votes.proposal_cancelled", {"id": proposal.id}))
        return
    if not text:
        raise InvalidInput("votes.propose_usage")
    args = parse_proposal(text, ctx.community, context.services.clock.now())
    building_id = ctx.building.id if ctx.kind == "building" and ctx.building is not None else None
    created = await proposals.open(actor(update), community_id=ctx.community.id, building_id=building_id, **args)
    ids = ", ".join(f"#{p.id}" for p in created)
    params = {"ids": ids, "count": len(created), "closes": fmt_local(args["closes_at"], ctx.community)}
    await send_reply(update, context, Reply("votes.proposal_opened", params))


async def proposal_button(update: Update, context: AppContext) -> None:
    """``pv:<proposal>:<option>``: recorded (or changed); told to the voter alone."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, proposal_id, option = query.data.split(":")
    outcome = await context.services.proposals.vote(actor(update), int(proposal_id), int(option))
    t = await translator(update, context)
    await query.answer(t(outcome.key, **outcome.params)[:200], show_alert=True)


def decision_line(t: Translator, community: Community, d: Any) -> str:
    return t(
        "votes.decision_line",
        id=d.proposal_id,
        date=fmt_local(d.decided_at, community)[:10],
        question=d.question,
        verdict_key=f"proposal.verdict.{d.outcome}",
        voters=d.voters,
        eligible=d.eligible,
        quorum_key="proposal.quorum_met" if d.quorum_met else "proposal.quorum_missed",
    )


async def decisions_command(update: Update, context: AppContext) -> None:
    """/decisions in a building chat: proposals still open, then the building's decisions."""
    ctx = await building_ctx(update, context)
    assert ctx.building is not None
    proposals = context.services.proposals
    t = await translator(update, context)
    still_open = await proposals.open_in_building(ctx.building.id)
    decided = await proposals.history(ctx.building.id, HISTORY)
    open_lines = "\n".join(
        t("votes.open_line", id=p.id, question=p.question, closes=fmt_local(p.closes_at, ctx.community))
        for p in still_open
    )
    done_lines = "\n".join(decision_line(t, ctx.community, d) for d in decided)
    if not open_lines and not done_lines:
        await send_reply(update, context, Reply("votes.decisions_none", {"building": ctx.building.title}), t)
        return
    params = {"building": ctx.building.title, "open": open_lines or "-", "decided": done_lines or "-"}
    await send_reply(update, context, Reply("votes.decisions", params), t)
