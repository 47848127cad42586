"""The typed context every handler gets: ``AppContext`` (``context.services``), ``BotData``, the
bot ``UnitBot`` and the application type ``UnitApp``. A leaf module for ``handlers``: it needs
PTB's types and the services (``bot.services.container``), not the wiring in ``bot.app``, so
handlers never import ``bot.app``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup
from telegram._utils.defaultvalue import DEFAULT_NONE  # what send_message passes for these
from telegram.ext import Application, CallbackContext, ExtBot

from bot.services.container import Services

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from handlers.intake import Intake
    from handlers.outbox_sender import OutboxSender


class BotData:
    """``application.bot_data``: the services, typed."""

    intake: Intake  # the durable update intake (handlers.intake), set by build_application

    def __init__(self, services: Services) -> None:
        self.services = services
        self.outbox_sender: OutboxSender | None = None  # set by build_application
        self.run_jobs = True  # the periodic sweep and outbox jobs (tests drive them by hand)

    def outbox(self) -> OutboxSender:
        assert self.outbox_sender is not None
        return self.outbox_sender


#: A reply markup as the Bot API's JSON (``{"inline_keyboard": [[{"text": ..., "callback_data": ...}]]}``).
JsonMarkup = dict[str, Any]
#: What a text message can carry: PTB's markup objects or their JSON.
AnyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | JsonMarkup


class UnitBot(ExtBot[None]):
    """PTB's ``ExtBot`` (rate limiter, timeouts, error mapping: all as PTB does them), plus a text
    send that keeps only the message id of Telegram's answer. ``send_message`` turns the answer into
    a ``Message`` (its chat, sender and every echoed button: ~0.3 ms of CPU for a list of 30
    buttons) that no caller of ours reads."""

    async def send_text_message(
        self,
        chat_id: int,
        text: str,
        *,
        reply_markup: AnyMarkup | None = None,
        message_thread_id: int | None = None,
        rate_limit_args: Any = None,
    ) -> int | None:
        """``sendMessage`` through PTB's own request path (``Bot._post``: the rate limiter with
        ``rate_limit_args``, errors as exceptions; ``Defaults`` for what ``send_message`` takes from
        them; an inline keyboard through the callback-data cache when that is on); the sent
        message's id. Telegram answers a sent message with the message; an answer without an id
        still means it was sent (sending again would double it): None, never an id made up (the
        outbox would link a reply to it)."""
        if isinstance(reply_markup, InlineKeyboardMarkup):
            reply_markup = self._replace_keyboard(reply_markup)
        data: dict[str, Any] = {
            "chat_id": chat_id,
            "text": text,
            "reply_markup": reply_markup,
            "message_thread_id": message_thread_id,
            "parse_mode": DEFAULT_NONE,
            "disable_notification": DEFAULT_NONE,
            "protect_content": DEFAULT_NONE,
            "link_preview_options": DEFAULT_NONE,
        }
        result = await self._post(
            "sendMessage", data, api_kwargs=self._merge_api_rl_kwargs(None, rate_limit_args) or None
        )
        message_id = result.get("message_id") if isinstance(result, dict) else None
        if type(message_id) is not int:
            log.error("sendMessage to %s answered without a message id (%s)", chat_id, type(result).__name__)
            return None
        return message_id


class AppContext(CallbackContext[UnitBot, dict[Any, Any], dict[Any, Any], BotData]):
    @property
    def services(self) -> Services:
        return self.bot_data.services


UnitApp = Application[UnitBot, AppContext, dict[Any, Any], dict[Any, Any], BotData, Any]
