"""What handlers add around the appeal action buttons: the card a head pressed is brought up to date
(after "Take it" its buttons are the remaining actions; after "Beyond my reach" it has none), and
staff answer an appeal inside the staff (street) chat by replying to its card. Rules are in
bot.services (workflow, staff_chat)."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.i18n import Translator
from bot.models import Appeal
from bot.services.routing import action_buttons
from handlers.common import actor, content_of, is_group, keyboard, translator
from handlers.context import AppContext
from handlers.setup import _sync_if_staff_chat

log = logging.getLogger(__name__)


async def _card_translator(update: Update, context: AppContext) -> Translator:
    """The language the card was written in: the community's in a group, the reader's in private."""
    chat = update.effective_chat
    if chat is not None and is_group(update):
        ctx = await context.services.registry.chat_context(chat.id)
        if ctx is not None:
            return context.services.catalogs.translator(ctx.community.language)
    return await translator(update, context)


async def refresh_card(update: Update, context: AppContext, appeal: Appeal, *, keep_actions: bool = True) -> None:
    """Update the buttons of the card that was pressed, so nobody acts on an outdated card. Only
    cosmetic: a card Telegram no longer lets us edit keeps its old buttons (they answer politely)."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    t = await _card_translator(update, context)
    markup = keyboard(t, action_buttons(appeal.id, appeal.status)) if keep_actions else None
    try:
        await query.edit_message_reply_markup(reply_markup=markup)
    except TelegramError as exc:  # too old, not modified, deleted: the card stays as it was
        log.info("card of appeal %s not updated: %s", appeal.id, type(exc).__name__)


async def staff_chat_reply(update: Update, context: AppContext) -> None:
    """A reply, in the staff or street chat, to a bot message of an appeal: relayed to the resident.
    Any other group message is not for this handler (it stays silent)."""
    message = update.effective_message
    if message is None or not is_group(update) or message.reply_to_message is None:
        return
    replied = message.reply_to_message
    if replied.from_user is None or replied.from_user.id != context.bot.id:
        return
    content = content_of(message)
    if content is None:
        return
    staff_chat = context.services.staff_chat
    appeal_id = await staff_chat.appeal_of_card(message.chat_id, replied.message_id)
    if appeal_id is None:
        return
    await _sync_if_staff_chat(update, context)  # staff are the chat's admins right now
    await staff_chat.answer(actor(update), message.chat_id, appeal_id, content)
    context.bot_data.outbox().kick()
