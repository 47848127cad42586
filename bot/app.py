"""Wiring: ``build_application(settings, ...)`` builds the whole bot; ``python -m bot`` and the
tests both use it. The services are composed in ``bot.services.container`` (no I/O), the handlers'
typed context lives in ``handlers.context``; ``handlers.runtime.Runtime`` opens storage, connects, runs
the update intake and the jobs, and stops them before storage is closed."""

from __future__ import annotations

import logging

from telegram.ext import ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

import handlers
from bot.clock import Clock, FileClock, SystemClock
from bot.config import Settings
from bot.pacing import Limits, Pacer
from bot.services.container import Services
from handlers.context import AppContext, BotData, UnitApp, UnitBot
from handlers.intake import Intake
from handlers.json_request import JsonRequest
from handlers.observability import ObservedRequest
from handlers.outbox_sender import OutboxSender
from handlers.pacing import PacingLimiter

__all__ = ["build_application", "clock_from_settings", "file_url", "open_storage"]

log = logging.getLogger(__name__)


def file_url(api_base_url: str) -> str:
    """The Bot API's file download base for ``api_base_url`` (``.../bot`` -> ``.../file/bot``)."""
    base = api_base_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("bot")] + "file/bot"
    return base + "/file/bot"


def clock_from_settings(settings: Settings) -> Clock:
    """The system clock, or the clock file of a drill / end-to-end test (``UNITBOT_CLOCK_FILE``)."""
    if settings.clock_file is not None:
        log.warning("time comes from the clock file %s (drills and tests only)", settings.clock_file)
        return FileClock(settings.clock_file)  # Settings checked that it holds a valid timestamp
    return SystemClock()


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    rate_limiter: bool = True,
    start_jobs: bool = True,
) -> UnitApp:
    """Build the application. Tests pass a recording ``request`` and a fake ``clock``."""
    services = Services.create(settings, clock or clock_from_settings(settings))

    class _BotData(BotData):
        def __init__(self) -> None:
            super().__init__(services)

    if request is None:
        request = JsonRequest(connection_pool_size=16)
        updates_request = updates_request or JsonRequest(read_timeout=40)
    flood_control = services.metrics.flood_control.inc  # 429 answers, counted at the transport
    # Telegram's limits (30 msg/s overall, 20/min per group, ~1/s per private chat), one budget for
    # the outbox and the handlers' direct answers; a 429 is never slept on bot-wide (the outbox retries)
    pacer = Pacer(Limits() if rate_limiter else None)
    bot = UnitBot(
        settings.token.get_secret_value(),
        base_url=settings.api_base_url,
        # files (a document staff send, e.g. the /import registry) come from the same server's file
        # route: https://api.telegram.org/bot -> https://api.telegram.org/file/bot, and likewise for a
        # self-hosted Bot API server or the tests' fake
        base_file_url=file_url(settings.api_base_url),
        request=ObservedRequest(request, flood_control),
        get_updates_request=ObservedRequest(updates_request or request, flood_control),
        rate_limiter=PacingLimiter(pacer) if rate_limiter else None,  # type: ignore[arg-type]
    )
    builder = (
        ApplicationBuilder()
        .bot(bot)
        .context_types(ContextTypes(context=AppContext, bot_data=_BotData))
        .updater(None)  # updates come through the durable intake (handlers.intake, handlers.runtime)
    )
    app: UnitApp = builder.build()  # type: ignore[assignment]
    app.bot_data.outbox_sender = OutboxSender(app, pacer)
    app.bot_data.intake = Intake(app, services.intake)
    app.bot_data.run_jobs = start_jobs
    handlers.register(app)
    return app


async def open_storage(app: UnitApp) -> None:
    """Connect and migrate (``Services.open_storage``); tests and benchmarks that drive the
    application without ``handlers.runtime.Runtime`` call this."""
    await app.bot_data.services.open_storage()
