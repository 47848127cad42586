"""Periodic jobs. PTB's JobQueue (APScheduler) only *triggers* them: every due moment lives in the
database, so a restart loses nothing and a second process shares the work safely."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.services.container import Services
from handlers.context import AppContext

if TYPE_CHECKING:
    from handlers.context import UnitApp

log = logging.getLogger(__name__)
OUTBOX_INTERVAL = 5.0


async def sweep_job(context: AppContext) -> None:
    services = context.bot_data.services
    try:
        with services.metrics.sweep_seconds.time():
            await run_sweep(services)
    except Exception as exc:
        if not services.intake.health.failed(exc):
            raise
        return  # the database cannot be written: said once (StorageHealth); the next sweep catches up
    # send what the sweep queued, in the background: a sending round that waits out Telegram's flood
    # control must not hold up the next sweep (deadlines, escalations)
    context.bot_data.outbox().kick()


async def run_sweep(services: Services) -> None:
    """Everything time-driven, each part idempotent and safe with several processes: appeal
    deadlines, elections opening/closing (with catch-up), proposals closing, expired perk codes."""
    report = await services.sweeper.sweep()
    if report.total:
        log.info("sweep: %s", report.fired)
    elections = await services.elections.tick()
    if elections.total:
        log.info("elections: %s", elections)
    closed = await services.proposals.tick()
    if closed:
        log.info("proposals closed: %s", closed)
    # community life (issue 12): wishes re-shown / to the unit head / expired; care visits due or missed
    wishes = await services.wish_sweep.tick()
    if wishes:
        log.info("wishes: %s", wishes)
    care = await services.visits.tick()
    if care:
        log.info("care visits: %s", care)
    refunded = await services.perks.refund_expired()
    if refunded:
        log.info("expired perk codes refunded: %s", refunded)


async def outbox_job(context: AppContext) -> None:
    try:
        await context.bot_data.outbox().drain()
    except Exception as exc:
        if not context.bot_data.services.intake.health.failed(exc):
            raise


def schedule_jobs(app: UnitApp) -> None:
    queue = app.job_queue
    if queue is None:  # pragma: no cover - the job-queue extra is a dependency
        raise RuntimeError("python-telegram-bot[job-queue] is required")
    interval = app.bot_data.services.settings.sweep_interval
    queue.run_repeating(
        sweep_job,
        interval=interval,
        first=0.5,
        name="deadline-sweep",
        job_kwargs={"max_instances": 1, "coalesce": True},
    )
    queue.run_repeating(
        outbox_job,
        interval=min(OUTBOX_INTERVAL, interval),
        first=1.0,
        name="outbox",
        job_kwargs={"max_instances": 1, "coalesce": True},
    )
