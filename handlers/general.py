"""/start, /help, /lang and the language buttons."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.app import AppContext
from bot.errors import Conflict
from bot.i18n import LANGUAGES
from bot.models import Button, Reply
from handlers.appeals import start_payload
from handlers.common import actor, is_group, is_private, say, send_reply, send_text, translator, user_info
from handlers.setup import register_building


async def start(update: Update, context: AppContext) -> None:
    """/start [payload]. In private: deep links or a welcome. In a group: the add-to-group link of
    an invite arrives as /start CODE and registers the building."""
    payload = context.args[0] if context.args else ""
    if is_group(update):
        if payload:
            await register_building(update, context, payload)
        else:
            await say(update, context, "general.group_help")
        return
    if is_private(update):
        await context.services.registry.mark_started(actor(update))
        if payload and await start_payload(update, context, payload):
            return
    await say(update, context, "general.welcome", name=actor(update).first_name)


async def help_command(update: Update, context: AppContext) -> None:
    """Short help for what the person can do here: residents see the appeal commands only; unit and
    building heads also their points, perks and card; merchants /check; the staff chat its commands."""
    if not is_private(update):
        chat = update.effective_chat
        ctx = await context.services.registry.chat_context(chat.id) if chat is not None else None
        staff = ctx is not None and ctx.kind == "staff"
        await say(update, context, "general.staff_help" if staff else "general.group_help")
        return
    me = actor(update).id
    t = await translator(update, context)
    parts = [t("general.help_private")]
    if await context.services.points.communities_of(me):
        parts.append(t("general.help_heads"))
    if await context.services.perks.is_merchant(me):
        parts.append(t("general.help_merchants"))
    await send_text(update, context, "\n\n".join(parts))


async def edited_command(update: Update, context: AppContext) -> None:
    """A command the person edited after sending it: it already ran (or was refused) as first sent;
    running it again would repeat its effect, so the bot asks for a new message instead."""
    await say(update, context, "general.edited_command")
    raise ApplicationHandlerStop


async def lang(update: Update, context: AppContext) -> None:
    args = context.args or []
    if args:
        await context.services.registry.set_language(actor(update), args[0].lower())
        await say(update, context, "general.language_set")
        return
    row = tuple(Button(f"language.{code}", data=f"lang:{code}") for code in LANGUAGES)
    await send_reply(update, context, Reply("general.choose_language", {}, (row,)))


async def lang_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await context.services.registry.set_language(actor(update), query.data.split(":", 1)[1])
    await query.answer()
    await say(update, context, "general.language_set")


async def stale_button(update: Update, context: AppContext) -> None:
    """A button no handler knows (an old keyboard, or forged data): answer it, never leave it spinning."""
    raise Conflict("error.stale_button")


async def remember_people(update: Update, context: AppContext) -> None:
    """Group messages the bot sees (commands, replies to it, members joining): remember who wrote,
    so staff can name them later by @username. Runs before everything else and never answers."""
    message = update.effective_message
    if message is None or not is_group(update):
        return
    people = [u for u in (message.new_chat_members or ()) if not u.is_bot]
    if message.from_user is not None and not message.from_user.is_bot:
        people.append(message.from_user)
    for person in people:
        await context.services.registry.touch(user_info(person))
