"""Telegram adapters of residents' proposals (rules: bot.services.proposals and
bot.services.proposal_rules; permissions are checked there). ``handlers.register`` adds them
with the election's handlers.

Buttons
    ``pv:<proposal>:<option>``  a vote on a proposal (the answer is an alert only the voter sees)

Commands
    building chat: ``/decisions`` (the building's decisions and open proposals), ``/propose``
    (building head: this building); staff chat: ``/propose`` (every building)

``/propose [YYYY-MM-DD HH:MM |] [NN% |] [per_resident|per_unit |] QUESTION [| OPTION | OPTION ...]``;
defaults: closes in 7 days, quorum 50 %, one vote per resident, options yes / no / abstain.
``/propose cancel ID`` withdraws an open proposal (its opener or staff); any ``/propose`` whose first
word is ``cancel`` is a cancel request (without a valid id the answer is the usage).

Ids in buttons and commands have at most 18 digits (they fit the database's 64-bit integers); longer
ones match no pattern here (the button is answered as out of date) or are "unknown".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from telegram import Update

from bot.errors import InvalidInput, NotFound, WrongChat
from bot.i18n import Translator
from bot.models import Community, Reply
from bot.services.proposal_rules import MODES
from bot.services.routing import fmt_local
from handlers.callback_data import button_ids, parse_id
from handlers.common import actor, send_reply, translator
from handlers.context import AppContext
from handlers.setup import _sync_if_staff_chat
from handlers.votes import WHEN, building_ctx, chat_ctx, parse_local

DEFAULT_DAYS = 7
DEFAULT_QUORUM = 50
QUORUM = re.compile(r"^(\d{1,3})\s*%$")
LOOKS_LIKE_QUORUM = re.compile(r"^[-+]?\s*[\d.,]+\s*%$")  # "-5%", "12.5%", "1000%": a quorum, but a wrong one
LOOKS_LIKE_MODE = re.compile(r"^per[_ -][a-z]+$", re.IGNORECASE)  # "per_household", "per unit"
CANCEL = re.compile(r"^cancel(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
ID = re.compile(r"^#?(\d+)$")
HISTORY = 10


def command_text(update: Update) -> str:
    """What follows the command, with the user's own spacing and ``|`` separators."""
    message = update.effective_message
    text = (message.text or "") if message is not None else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


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
        proposal_id = parse_id(found.group(1))
        if proposal_id is None:  # more digits than any id has
            raise NotFound("error.proposal_unknown")
        building_id = ctx.building.id if ctx.kind == "building" and ctx.building is not None else None
        proposal = await proposals.cancel(
            actor(update), proposal_id, community_id=ctx.community.id, building_id=building_id
        )
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
    proposal_id, option = button_ids(query.data, 1, 2)
    outcome = await context.services.proposals.vote(actor(update), proposal_id, option)
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
