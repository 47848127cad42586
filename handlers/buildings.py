"""A building's own name and its poster code: ``/buildingname NAME`` and ``/poster`` in the building
chat, for staff and the building head (rules in bot.services.buildings)."""

from __future__ import annotations

from telegram import Update

from bot.errors import WrongChat
from bot.services.building_codes import shown
from handlers.common import actor, is_group, say
from handlers.context import AppContext


async def building_name(update: Update, context: AppContext) -> None:
    chat = update.effective_chat
    if chat is None or not is_group(update):
        raise WrongChat("error.building_chat_only")
    building = await context.services.buildings.rename(actor(update), chat.id, " ".join(context.args or []))
    await say(update, context, "building.renamed", title=building.title)


async def poster(update: Update, context: AppContext) -> None:
    chat = update.effective_chat
    if chat is None or not is_group(update):
        raise WrongChat("error.building_chat_only")
    building, code = await context.services.buildings.poster(actor(update), chat.id)
    await say(update, context, "building.poster", title=building.title, code=shown(code), bot=context.bot.username)
