"""Telegram adapters of micro-wishes (rules and permissions: bot.services.wishes).

Commands
    ``/wish`` in private (or the keyboard button "🎁 A wish"): write a wish; in a group, a button to
    the private chat. ``/wishes`` in a building chat: its open wishes (no names); in the staff chat:
    the community's figures and fulfilment rate.

Buttons (``wi:<action>[:<id>]``, every id bounded by ``handlers.callback_data``)
    ``wi:b:<building>`` the building to write for; ``wi:t:<days>`` by when; ``wi:n:<0|1>`` with the
    name or not (posts it); ``wi:c:0`` drop the draft; ``wi:h:<wish>`` I'll help (in the building
    chat); ``wi:w:<wish>`` / ``wi:s:<wish>`` write to the other side / stop; ``wi:d:<wish>`` the
    volunteer says it is done; ``wi:q:<wish>`` the volunteer gives up; ``wi:ok:<wish>`` /
    ``wi:no:<wish>`` the resident confirms / not yet; ``wi:x:<wish>`` the resident cancels.
"""

from __future__ import annotations

from datetime import datetime

from telegram import Update

from bot.errors import Conflict, InvalidInput, WrongChat
from bot.models import Button, Content, Reply
from bot.services.wishes.rules import LIST_MAX
from handlers.callback_data import button_ids, place_of
from handlers.common import actor, deep_link, is_group, send_reply, translator
from handlers.context import AppContext

WISH_BUTTON = r"^wi:(b|t|n|c|h|w|s|d|q|ok|no|x):\d{1,19}$"


async def wish_command(update: Update, context: AppContext) -> None:
    if is_group(update):
        link = deep_link(context, "wish")
        await send_reply(update, context, Reply("wish.go_private", {}, ((Button("btn.open_bot", url=link),),)))
        return
    reply = await context.services.wishes.start(actor(update), place_of(update))
    await send_reply(update, context, reply)


async def wishes_command(update: Update, context: AppContext) -> None:
    """/wishes: a building chat's open wishes, or the staff chat's figures."""
    chat = update.effective_chat
    if chat is None or not is_group(update):
        raise WrongChat("error.building_chat_only")
    ctx = await context.services.registry.chat_context(chat.id)
    if ctx is not None and ctx.kind == "staff":
        from handlers.setup import _sync_if_staff_chat

        await _sync_if_staff_chat(update, context)
        counts = await context.services.wishes.figures(actor(update), chat.id)
        closed = counts.fulfilled + counts.expired
        rate = round(100 * counts.fulfilled / closed) if closed else 0
        params = {
            "open": counts.open,
            "claimed": counts.claimed,
            "fulfilled": counts.fulfilled,
            "expired": counts.expired,
            "cancelled": counts.cancelled,
            "rate": rate,
        }
        await send_reply(update, context, Reply("wish.figures", params))
        return
    title, wishes, community = await context.services.wishes.open_in_chat(chat.id, LIST_MAX)
    if not wishes:
        await send_reply(update, context, Reply("wish.list_none", {"building": title}))
        return
    t = await translator(update, context)
    from bot.dates import moment

    lines = "\n".join(
        t("wish.list_line", id=w.id, body=w.body[:80] or "-", by=moment(w.wanted_by, community.timezone))
        for w in wishes
    )
    rows = tuple((Button("wish.btn.help_id", data=f"wi:h:{w.id}", params={"id": w.id}),) for w in wishes)
    await send_reply(update, context, Reply("wish.list", {"building": title, "lines": lines}, rows), t)


async def start_wish(update: Update, context: AppContext) -> None:
    """``/start wish`` (the group's button) and the keyboard button."""
    reply = await context.services.wishes.start(actor(update), place_of(update))
    await send_reply(update, context, reply)


async def wish_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    action = query.data.split(":")[1]
    (value,) = button_ids(query.data, 2, 1)
    wishes, who, place = context.services.wishes, actor(update), place_of(update)
    if action == "h":  # in the building chat: the answer is an alert for the presser alone
        reply = await wishes.claim(who, value, place)
        t = await translator(update, context)
        await query.answer(t(reply.template, **reply.params)[:200], show_alert=True)
        context.bot_data.outbox().kick()
        return
    if action == "b":
        reply = await wishes.choose_building(who, value, place)
    elif action == "t":
        reply = await wishes.choose_when(who, value, place)
    elif action == "n" and value in (0, 1):
        reply = await wishes.publish(who, value == 1, place)
    elif action == "c":
        if not await wishes.cancel_draft(who, place):
            raise Conflict("general.nothing_to_cancel")  # an old button: nothing is being written
        reply = Reply("wish.draft_dropped")
    elif action == "w":
        reply = await wishes.begin_writing(who, value, place)
    elif action == "s":
        reply = await wishes.stop_writing(who, value, place)
    elif action == "d":
        reply = await wishes.volunteer_done(who, value, place)
    elif action == "q":
        reply = await wishes.give_up(who, value, place)
    elif action == "ok":
        reply = await wishes.confirm(who, value, place)
    elif action == "no":
        reply = await wishes.not_yet(who, value, place)
    elif action == "x":
        reply = await wishes.cancel(who, value, place)
    else:
        raise InvalidInput("error.stale_button")
    await query.answer()
    await send_reply(update, context, reply)
    context.bot_data.outbox().kick()


async def private_message(
    update: Update, context: AppContext, content: Content, filing_since: datetime | None = None
) -> bool:
    """The appeal router asks first: a wish's words, or a message to pass on about a wish."""
    reply = await context.services.wishes.take_private(actor(update), content, filing_since)
    if reply is None:
        return False
    await send_reply(update, context, reply)
    context.bot_data.outbox().kick()
    return True
