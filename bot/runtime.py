"""How ``python -m bot`` runs the application: long polling or webhooks, both with the bot's HTTP
server (health, readiness, metrics; the webhook in webhook mode) started and stopped with it.

PTB's ``run_polling`` / ``run_webhook`` are not used: ``run_webhook`` brings a second web server of
its own, and both own the event loop. The lifecycle is PTB's documented custom one (initialize,
post_init, start ... stop, post_stop, shutdown, post_shutdown), the same in both modes, so the
application's hooks (storage, jobs, command menus) behave as under ``run_polling``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.error import TelegramError

from bot.app import build_application
from bot.config import Settings
from bot.logging import instance_label
from bot.metrics import CONTENT_TYPE
from bot.services.operations import webhook_fingerprint
from bot.web import HealthRoutes, WebhookRoute, WebPart, WebServer
from handlers.context import UnitApp

log = logging.getLogger("unitbot")

ALLOWED_UPDATES: list[str] = list(Update.ALL_TYPES)


class StartupFailed(Exception):
    """The bot cannot start for a reason the log line says; ``python -m bot`` exits 1 without a
    traceback (a restart may help, e.g. when Telegram was unreachable)."""


Accept = Callable[[dict[str, Any]], Awaitable[bool]]


def health_routes(app: UnitApp) -> HealthRoutes:
    services = app.bot_data.services

    async def not_ready() -> list[str]:
        if not app.running:
            return ["starting or stopping"]
        return await services.monitoring.not_ready(services.settings.ready_outbox_age)

    async def render_metrics() -> tuple[bytes, str]:
        try:
            services.metrics.set_figures(await services.monitoring.figures())
        except Exception as exc:  # counters are still worth serving
            log.warning("metrics: database figures unavailable (%s)", type(exc).__name__)
        return services.metrics.render(), CONTENT_TYPE

    return HealthRoutes(not_ready, render_metrics, instance_label(services.settings.instance_name))


async def register_webhook(app: UnitApp) -> bool:
    """setWebhook only when Telegram's registration differs from ours (URL or allowed updates in
    getWebhookInfo; the secret, which getWebhookInfo does not show, by the fingerprint the last
    registration left in the database). A second instance starting therefore changes nothing, and
    pending updates are never dropped. Returns whether it registered."""
    settings = app.bot_data.services.settings
    state = app.bot_data.services.webhook_state
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    url, secret = settings.webhook_url, settings.webhook_secret.get_secret_value()
    fingerprint = webhook_fingerprint(url, secret, ALLOWED_UPDATES)
    info = await app.bot.get_webhook_info()
    same = (
        info.url == url
        and set(info.allowed_updates or ()) == set(ALLOWED_UPDATES)
        and await state.registered() == fingerprint
    )
    if same:
        log.info("webhook already registered (%s pending updates)", info.pending_update_count)
        return False
    await app.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)
    await state.remember(fingerprint)
    log.info("webhook registered (%s pending updates kept)", info.pending_update_count)
    return True


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def serve(
    app: UnitApp, parts: list[WebPart], after_start: Callable[[], Awaitable[None]], *, polling: bool
) -> None:
    """The shared lifecycle (handlers.runtime.Runtime: storage, start-up checks, the durable intake
    and its pump, jobs, the poller in polling mode) with the HTTP server around it; ``after_start``
    registers the webhook in webhook mode, once the server answers."""
    from handlers.runtime import Runtime

    settings = app.bot_data.services.settings
    stop = asyncio.Event()
    _stop_on_signals(stop)
    runtime = Runtime(app)
    server = WebServer(settings.http_host, settings.http_port, parts)
    try:
        await runtime.start(polling=polling)
        await server.start()  # before the webhook is registered: Telegram's first POST finds it
        await after_start()
        log.info("running (%s)", "long polling" if polling else "webhook")
        await stop.wait()
        log.info("stopping")
    finally:
        await server.stop()  # no new webhook requests; stored updates are finished by runtime.stop()
        await runtime.stop()


async def run_polling(settings: Settings) -> None:
    app = build_application(settings)

    async def nothing() -> None:
        log.info("long polling against %s", settings.api_base_url)

    await serve(app, [health_routes(app)], nothing, polling=True)


async def run_webhook(settings: Settings) -> None:
    app = build_application(settings)
    assert settings.webhook_secret is not None
    metrics = app.bot_data.services.metrics
    webhook = WebhookRoute(
        settings.webhook_path,
        settings.webhook_secret.get_secret_value(),
        app.bot_data.intake.accept,  # stored and committed before the 200 (False: a duplicate update_id)
        observe=lambda outcome: metrics.webhook_requests.labels(outcome).inc(),
    )

    async def start_webhook() -> None:
        log.info("webhook mode: serving %s on %s", settings.webhook_path, settings.http_listen)
        try:
            await register_webhook(app)
        except TelegramError as exc:  # e.g. "bad webhook: HTTPS url must be provided for webhook"
            raise StartupFailed(f"Telegram refused the webhook registration: {exc.message}") from None

    await serve(app, [health_routes(app), webhook], start_webhook, polling=False)
