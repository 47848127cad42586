"""The command menus Telegram clients show, per scope and language.

* private chats: what a resident can do (no head-only or merchant-only command that would only
  refuse them; heads and merchants have the keyboard buttons and /help for theirs);
* group chats: the building chat's commands; their administrators also see the set-up commands;
* each known staff chat (scope ``chat``): the staff commands, published when the community is
  created and for every known staff chat at start-up (one call per chat and language, bounded).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)
from telegram.error import TelegramError

from bot.i18n import LANGUAGES, Translator
from bot.services.queries import Roles

if TYPE_CHECKING:
    from handlers.context import UnitApp

log = logging.getLogger(__name__)

PRIVATE = ("appeal", "myappeals", "wish", "lang", "cancel", "help")
GROUP = ("appeal", "status", "myunit", "vote", "results", "decisions", "wishes", "help")
GROUP_ADMINS = (*GROUP, "units", "buildinghead", "unithead", "buildingname", "poster", "propose", "knock")
STAFF = (
    "open",
    "invite",
    "streetcode",
    "sla",
    "workday",
    "community",
    "election",
    "results",
    "propose",
    "award",
    "merchant",
    "perk",
    "wishes",
    "help",
)
MAX_STAFF_CHATS = 50  # staff menus published at start-up (each costs 4 calls); later ones when used


def _commands(app: UnitApp, lang: str, names: tuple[str, ...]) -> list[BotCommand]:
    t = app.bot_data.services.catalogs.translator(lang)
    return [BotCommand(n, t(f"cmd.{n}")[:256]) for n in names]


async def _set(app: UnitApp, names: tuple[str, ...], scope: BotCommandScope) -> None:
    default = app.bot_data.services.settings.language
    for lang in (None, *LANGUAGES):
        await app.bot.set_my_commands(_commands(app, lang or default, names), scope=scope, language_code=lang)


async def publish_commands(app: UnitApp) -> None:
    try:
        await _set(app, PRIVATE, BotCommandScopeAllPrivateChats())
        await _set(app, GROUP, BotCommandScopeAllGroupChats())
        await _set(app, GROUP_ADMINS, BotCommandScopeAllChatAdministrators())
        for chat_id in await app.bot_data.services.registry.staff_chat_ids(MAX_STAFF_CHATS):
            await _set(app, STAFF, BotCommandScopeChat(chat_id))
    except TelegramError:  # the menu is a convenience; the bot works without it
        log.warning("could not publish the command menu")


async def publish_staff_menu(app: UnitApp, chat_id: int) -> None:
    """The staff commands in the menu of this (new) staff chat."""
    try:
        await _set(app, STAFF, BotCommandScopeChat(chat_id))
    except TelegramError:
        log.warning("could not publish the staff chat's command menu")


HEADS = ("open", "points", "perks", "card", "top")
MERCHANTS = ("check",)


def private_names(roles: Roles) -> tuple[str, ...]:
    """A person's own private menu: the residents' commands, plus their role's."""
    names = list(PRIVATE[:-1])
    if roles.head or roles.staff:
        names[2:2] = [n for n in HEADS if roles.head or n == "open"]
    if roles.merchant:
        names.append("check")
    return (*names, "help")


async def publish_private_menu(bot: Bot, t: Translator, chat_id: int, roles: Roles) -> None:
    """Heads, staff and merchants get their commands in their own chat's menu (scope ``chat``, one
    call in their language, when they open the start screen); residents keep the default menu."""
    if not (roles.head or roles.staff or roles.merchant):
        return
    try:
        commands = [BotCommand(n, t(f"cmd.{n}")[:256]) for n in private_names(roles)]
        await bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id))
    except TelegramError:
        log.warning("could not publish a private command menu")
