"""``/start <payload>`` deep links: ``ap_<building>`` (file an appeal for that building),
``act_<kind>_<appeal>`` (a head's reply / ask / resolve from a card), ``card_<token>`` (a scanned
ID card), ``rc_<code>`` (a scanned perk code), ``wish`` and ``care`` (issue 12: the buttons /wish
and /care answer with in a group)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.errors import NotFound
from bot.models import ActionKind
from handlers import care, wishes
from handlers.callback_data import parse_id
from handlers.common import actor
from handlers.context import AppContext
from handlers.errors import on_error
from handlers.filing import show_step
from handlers.outcomes import tell_outcome
from handlers.perks import check_code
from handlers.points import verify_card
from handlers.setup import is_chat_member


async def start_payload(update: Update, context: AppContext, payload: str) -> bool:
    """Deep links: ap_<building> (file an appeal), act_<kind>_<appeal> (reply/ask/resolve), wish
    and care (the buttons of /wish and /care sent in a group)."""
    if payload == "wish":
        await wishes.start_wish(update, context)
        return True
    if payload == "care":
        await care.start_care(update, context)
        return True
    if payload.startswith("ap_") and payload[3:].isdigit():
        building_id = parse_id(payload[3:])
        if building_id is None:
            raise NotFound("error.building_unknown")
        user = actor(update)
        chat_id = await context.services.filing.link_chat(user, building_id)  # None: lives there already
        member = chat_id is not None and await is_chat_member(context, chat_id, user.id)
        step = await context.services.filing.start(user, building_id, chat_member=member)
        await show_step(update, context, step)
        return True
    if payload.startswith("act_"):
        parts = payload.split("_")
        if len(parts) == 3 and parts[2].isdigit() and parts[1] in {k.value for k in ActionKind}:
            appeal_id = parse_id(parts[2])
            if appeal_id is None:
                raise NotFound("error.appeal_unknown", id=parts[2][:24])
            outcome = await context.services.workflow.begin(actor(update), appeal_id, ActionKind(parts[1]))
            await tell_outcome(update, context, outcome)
            return True
    return False


async def start_link(update: Update, context: AppContext) -> None:
    """``/start card_<token>`` (a scanned ID card) and ``/start rc_<CODE>`` (a scanned perk code)."""
    payload = context.args[0] if context.args else ""
    try:
        await context.services.registry.mark_started(actor(update))
        if payload.startswith("card_"):
            await verify_card(update, context, payload[len("card_") :])
        else:
            await check_code(update, context, payload[len("rc_") :])
    except Exception as exc:  # answered like any other handler's error, then no welcome text
        context.error = exc
        await on_error(update, context)
    raise ApplicationHandlerStop
