"""/start, /help, /lang and the language buttons."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.errors import Conflict
from bot.i18n import LANGUAGES
from bot.models import Button, Reply
from handlers.common import actor, is_group, is_private, say, send_reply, send_text, translator, user_info
from handlers.context import AppContext, JsonMarkup
from handlers.dashboard import set_menu_button
from handlers.deep_links import start_payload
from handlers.keyboards import reply_keyboard
from handlers.menus import publish_private_menu
from handlers.setup import register_building


async def start(update: Update, context: AppContext) -> None:
    """/start [payload]. In private: deep links, or the start screen of the person's role with its
    keyboard. In a group: the add-to-group link of an invite arrives as /start CODE and registers
    the building."""
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
    await start_screen(update, context)


async def start_screen(update: Update, context: AppContext, *, with_help: bool = False) -> None:
    """What this person can do, in their words, with the big buttons of their role under the input
    field (a persistent keyboard: every button sends its text, matched in handlers.keyboards)."""
    me = actor(update)
    roles = await context.services.queries.roles_of(me.id)
    t = await translator(update, context)
    places = ", ".join(roles.places) or "-"
    parts = [t(roles.start_key, name=me.first_name or me.display, places=places)]
    if with_help:
        parts.append(t("help.commands_resident"))
        if roles.head:
            parts.append(t("general.help_heads"))
        if roles.merchant:
            parts.append(t("general.help_merchants"))
        if roles.staff:
            parts.append(t("help.commands_staff_private"))
    await update_reply_keyboard(update, context, "\n\n".join(parts), reply_keyboard(t, roles))
    await publish_private_menu(context.bot, t, me.id, roles)
    url = context.services.settings.dashboard_url
    if url is not None and (roles.head or roles.staff):  # the staff dashboard on their menu button
        await set_menu_button(context.bot, t, me.id, url)


async def update_reply_keyboard(update: Update, context: AppContext, text: str, markup: JsonMarkup) -> None:
    await send_text(update, context, text, markup)  # a 5xx is sent again there


async def help_command(update: Update, context: AppContext) -> None:
    """Help for what the person can do here: in private, their role's start screen and keyboard
    with the commands behind the buttons; in the staff chat its commands; in a building chat the
    group's."""
    if not is_private(update):
        chat = update.effective_chat
        ctx = await context.services.registry.chat_context(chat.id) if chat is not None else None
        staff = ctx is not None and ctx.kind == "staff"
        await say(update, context, "general.staff_help" if staff else "general.group_help")
        return
    await start_screen(update, context, with_help=True)


async def edited_command(update: Update, context: AppContext) -> None:
    """A command the person edited after sending it: it already ran (or was refused) as first sent;
    running it again would repeat its effect, so the bot asks for a new message instead."""
    await say(update, context, "general.edited_command")
    raise ApplicationHandlerStop


async def lang(update: Update, context: AppContext) -> None:
    args = context.args or []
    if args:
        await context.services.registry.set_language(actor(update), args[0].lower())
        await language_set(update, context)
        return
    row = tuple(Button(f"language.{code}", data=f"lang:{code}") for code in LANGUAGES)
    await send_reply(update, context, Reply("general.choose_language", {}, (row,)))


async def lang_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await context.services.registry.set_language(actor(update), query.data.split(":", 1)[1])
    await query.answer()
    await language_set(update, context)


async def language_set(update: Update, context: AppContext) -> None:
    """ "Done" in the new language; in private the keyboard comes along, relabelled."""
    if not is_private(update):
        await say(update, context, "general.language_set")
        return
    t = await translator(update, context)
    roles = await context.services.queries.roles_of(actor(update).id)
    await update_reply_keyboard(update, context, t("general.language_set"), reply_keyboard(t, roles))


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
    for person in people:  # in a building chat, they belong to that building (filing from private)
        await context.services.buildings.seen_in_group(user_info(person), message.chat_id)
