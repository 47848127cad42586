""" "Which community?": a head in several communities picks one for /points, /top, /card or /perks
(``pt:ch:<command>:<community>`` buttons; the service checks that the presser heads there)."""

from __future__ import annotations

from telegram import Update

from bot.errors import PermissionDenied
from bot.services.access import require_private
from handlers.callback_data import button_id, place_of
from handlers.common import actor, translator
from handlers.context import AppContext
from handlers.perks import categories_reply
from handlers.points import PAGE, edit_or_send, render_summary, render_top, send_card


async def choice_button(update: Update, context: AppContext) -> None:
    """``pt:ch:<command>:<community>``: the chosen community's /points, /top, /card or /perks."""
    query = update.callback_query
    assert query is not None and query.data is not None
    require_private(place_of(update))  # a person's points: never into a group
    _, _, command, community = query.data.split(":")
    community_id, me = button_id(community), actor(update)
    service = context.services.points
    if command == "card":
        await query.answer()
        await send_card(update, context, await context.services.cards.card_token(me, community_id))
        return
    if command == "perks":  # the categories of that community (the service checks the person heads there)
        text, rows = await categories_reply(update, context, 0, community_id)
        await edit_or_send(update, context, text, rows)
        return
    if community_id not in await service.communities_of(me.id):
        raise PermissionDenied("error.heads_only")
    t = await translator(update, context)
    if command == "points":
        reply = render_summary(t, context, await service.summary(me.id, community_id, page_size=PAGE))
        await edit_or_send(update, context, t(reply.template, **reply.params), reply.buttons)
    else:
        text, rows = render_top(t, await service.leaderboard(community_id, "month", viewer_id=me.id))
        await edit_or_send(update, context, text, rows)
