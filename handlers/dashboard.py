"""``/dashboard`` in private and the chat's menu button: the staff dashboard (a Telegram Mini App at
``UNITBOT_PUBLIC_URL`` + ``/app/``, served by bot.web.dashboard) for staff, the street office and
heads. ``web_app`` buttons work only in private chats (Telegram's rule), so the button and the menu
are set in the person's own chat, only for someone with a post (checked by the dashboard service)."""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, MenuButtonWebApp, Update, WebAppInfo
from telegram.error import TelegramError

from bot.errors import NotConfigured, WrongChat
from bot.i18n import Translator
from handlers.common import actor, is_private, send_text, translator
from handlers.context import AppContext

log = logging.getLogger(__name__)


async def dashboard(update: Update, context: AppContext) -> None:
    if not is_private(update):
        raise WrongChat("security.private_only")
    url = context.services.settings.dashboard_url
    if url is None:
        raise NotConfigured("dash.not_configured")
    await context.services.dashboard.viewer(actor(update))  # PermissionDenied without a post
    t = await translator(update, context)
    button = InlineKeyboardButton(t("dash.button"), web_app=WebAppInfo(url))
    await send_text(update, context, t("dash.open_prompt"), InlineKeyboardMarkup([[button]]))
    await set_menu_button(context.bot, t, actor(update).id, url)


async def set_menu_button(bot: Bot, t: Translator, chat_id: int, url: str) -> None:
    """The Mini App on the menu button of this person's chat with the bot (a convenience: a failure
    is logged, the /dashboard button still works)."""
    try:
        await bot.set_chat_menu_button(chat_id=chat_id, menu_button=MenuButtonWebApp(t("dash.menu"), WebAppInfo(url)))
    except TelegramError:
        log.warning("could not set the dashboard menu button")
