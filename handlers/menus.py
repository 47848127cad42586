"""The command menus shown by Telegram clients, in each language, for private chats and groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats
from telegram.error import TelegramError

if TYPE_CHECKING:
    from bot.app import UnitApp

PRIVATE = ("appeal", "myappeals", "open", "show", "points", "perks", "card", "top", "check", "lang", "cancel", "help")
GROUP = ("appeal", "status", "myunit", "open", "vote", "results", "decisions", "help")


async def publish_commands(app: UnitApp) -> None:
    catalogs = app.bot_data.services.catalogs
    try:
        for lang in (None, "zh", "en", "ru"):
            t = catalogs.translator(lang or app.bot_data.services.settings.language)
            for scope, names in ((BotCommandScopeAllPrivateChats(), PRIVATE), (BotCommandScopeAllGroupChats(), GROUP)):
                await app.bot.set_my_commands(
                    [BotCommand(n, t(f"cmd.{n}")) for n in names], scope=scope, language_code=lang
                )
    except TelegramError:  # the menu is a convenience; the bot works without it
        import logging

        logging.getLogger(__name__).warning("could not publish the command menu")
