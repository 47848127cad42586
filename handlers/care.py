"""Telegram adapters of the care list and visits (rules and privacy: bot.services.care).

Commands
    ``/care`` in private (unit heads, building heads, staff): the households they may see, and
    "add" for unit heads and staff; in a group it answers with a button to the private chat (the
    list is never shown in a group). ``/knock`` in a building chat (its building head or staff):
    starts a door-knocking round, or shows the running round's progress (counts per unit only).

Buttons (``cr:<action>:<id>``, ids bounded by ``handlers.callback_data``; private chat only)
    ``cr:new:0`` add; ``cr:u:<unit>`` the unit; ``cr:n:<need>`` / ``cr:f:<days>`` / ``cr:k:0`` the
    draft's need, frequency, no note; ``cr:c:0`` drop the draft; ``cr:v:<household>`` open it;
    ``cr:w|p|a:<household>`` visited all well / needs help / not at home; ``cr:r:<household>`` remove.
"""

from __future__ import annotations

from datetime import datetime

from telegram import Update

from bot.errors import Conflict, InvalidInput, WrongChat
from bot.models import Button, Content, Reply
from handlers.callback_data import button_ids, place_of
from handlers.common import actor, deep_link, is_group, send_reply
from handlers.context import AppContext
from handlers.setup import _sync_if_staff_chat

CARE_BUTTON = r"^cr:(new|u|n|f|k|c|v|w|p|a|r):\d{1,19}$"


async def care_command(update: Update, context: AppContext) -> None:
    """/care: the list in private; counts in the staff chat; elsewhere a button to the private chat."""
    chat = update.effective_chat
    if chat is not None and is_group(update):
        ctx = await context.services.registry.chat_context(chat.id)
        if ctx is not None and ctx.kind == "staff":
            await _sync_if_staff_chat(update, context)
            f = await context.services.care.figures(actor(update), chat.id)
            params = {"households": f.households, "overdue": f.overdue, "well": f.well, "help": f.help, "away": f.away}
            await send_reply(update, context, Reply("care.figures", params))
            return
    if is_group(update):
        link = deep_link(context, "care")
        await send_reply(update, context, Reply("care.go_private", {}, ((Button("btn.open_bot", url=link),),)))
        return
    await send_reply(update, context, await context.services.care.overview(actor(update), place_of(update)))


async def start_care(update: Update, context: AppContext) -> None:
    """``/start care`` (the group's button)."""
    await send_reply(update, context, await context.services.care.overview(actor(update), place_of(update)))


async def knock_command(update: Update, context: AppContext) -> None:
    chat = update.effective_chat
    if chat is None or not is_group(update):
        raise WrongChat("error.building_chat_only")
    reply = await context.services.visits.knock(actor(update), chat.id)
    await send_reply(update, context, reply)
    context.bot_data.outbox().kick()


async def care_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    action = query.data.split(":")[1]
    (value,) = button_ids(query.data, 2, 1)
    care, visits, who, place = context.services.care, context.services.visits, actor(update), place_of(update)
    if action == "new":
        reply = await care.add_start(who, place)
    elif action == "u":
        reply = await care.pick_unit(who, value, place)
    elif action == "n":
        reply = await care.choose(who, "need", value, place)
    elif action == "f":
        reply = await care.choose(who, "freq", value, place)
    elif action == "k":
        reply = await care.choose(who, "skip", value, place)
    elif action == "c":
        if not await care.cancel_draft(who, place):
            raise Conflict("general.nothing_to_cancel")  # an old button: nothing is being entered
        reply = Reply("care.draft_dropped")
    elif action == "v":
        reply = await care.view(who, value, place)
    elif action in ("w", "p", "a"):
        reply = await visits.record(who, value, action, place)
    elif action == "r":
        reply = await care.remove(who, value, place)
    else:
        raise InvalidInput("error.stale_button")
    await query.answer()
    await send_reply(update, context, reply)
    context.bot_data.outbox().kick()


async def private_message(
    update: Update, context: AppContext, content: Content, filing_since: datetime | None = None
) -> bool:
    """The appeal router asks first: the typed label or note of a care-list entry."""
    reply = await context.services.care.take_private(actor(update), content, filing_since)
    if reply is None:
        return False
    await send_reply(update, context, reply)
    return True
