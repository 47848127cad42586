"""The typed context every handler gets: ``AppContext`` (``context.services``), ``BotData`` and the
application type ``UnitApp``. A leaf module for ``handlers``: it needs PTB's types and the services
(``bot.services.container``), not the wiring in ``bot.app``, so handlers never import ``bot.app``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.services.container import Services

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


class AppContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    @property
    def services(self) -> Services:
        return self.bot_data.services


UnitApp = Application[ExtBot[None], AppContext, dict[Any, Any], dict[Any, Any], BotData, Any]
