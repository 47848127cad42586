"""Wiring: ``build_application(settings, ...)`` builds the whole bot; ``python -m bot`` and the
tests both use it. Services are created here (no I/O); ``handlers.runtime.Runtime`` opens storage,
connects, runs the update intake and the jobs, and stops them before storage is closed; handlers
reach services as typed attributes of the context."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackContext,
    ContextTypes,
    ExtBot,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot.clock import Clock, FileClock, SystemClock
from bot.config import Settings
from bot.i18n import Catalogs
from bot.logging import instance_label
from bot.metrics import Metrics
from bot.pacing import Limits, Pacer
from bot.services.base import Calendars, Defaults
from bot.services.buildings import BuildingService
from bot.services.cards import CardService
from bot.services.delivery import DeliveryService
from bot.services.elections import ElectionService, ElectionStaffService
from bot.services.filing import FilingService
from bot.services.intake import IntakeService
from bot.services.operations import MonitoringService, OperatorReports, WebhookState
from bot.services.perk_admin import PerkAdminService
from bot.services.perks import PerksService
from bot.services.points import PointsService
from bot.services.proposals import ProposalService
from bot.services.queries import QueryService
from bot.services.registry import RegistryService
from bot.services.resident import ResidentService
from bot.services.satisfaction import FollowUpService
from bot.services.staff_chat import StaffChatService
from bot.services.sweeper import Sweeper
from bot.services.workflow import WorkflowService
from storage.db import Database, open_database
from storage.migrate import migrate

if TYPE_CHECKING:
    from handlers.delivery import Dispatcher
    from handlers.intake import Intake

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    catalogs: Catalogs
    registry: RegistryService
    filing: FilingService
    workflow: WorkflowService
    resident: ResidentService
    queries: QueryService
    sweeper: Sweeper
    delivery: DeliveryService
    staff_chat: StaffChatService
    follow_ups: FollowUpService
    points: PointsService
    cards: CardService
    perks: PerksService
    perk_admin: PerkAdminService
    elections: ElectionService
    election_staff: ElectionStaffService
    proposals: ProposalService
    # operations (issue 10): figures for /readyz and /metrics, bug reports, the webhook registration
    monitoring: MonitoringService
    metrics: Metrics
    operator_reports: OperatorReports
    webhook_state: WebhookState
    intake: IntakeService
    buildings: BuildingService

    @classmethod
    def create(cls, settings: Settings, clock: Clock) -> Services:
        db = open_database(settings.database_url())
        defaults = Defaults(
            timezone=settings.timezone,
            country=settings.country,
            language=settings.language,
            work_start=settings.work_start,
            work_end=settings.work_end,
        )
        calendars = Calendars(defaults)
        registry = RegistryService(db, clock, calendars)
        registry.defaults = defaults
        workflow = WorkflowService(db, clock, calendars)
        perks = PerksService(db, clock, calendars)
        elections = ElectionService(db, clock, calendars)
        return cls(
            settings=settings,
            clock=clock,
            db=db,
            catalogs=Catalogs(),
            registry=registry,
            filing=FilingService(db, clock, calendars),
            workflow=workflow,
            resident=ResidentService(workflow),
            queries=QueryService(db, clock, calendars),
            sweeper=Sweeper(workflow),
            delivery=DeliveryService(workflow),
            staff_chat=StaffChatService(workflow),
            follow_ups=FollowUpService(workflow),
            points=PointsService(db, clock, calendars),
            cards=CardService(db, clock, calendars),
            perks=perks,
            perk_admin=PerkAdminService(perks),
            elections=elections,
            election_staff=ElectionStaffService(elections),
            proposals=ProposalService(db, clock, calendars),
            monitoring=MonitoringService(db, clock),
            metrics=Metrics(instance_label(settings.instance_name)),
            operator_reports=OperatorReports(db, clock, timedelta(minutes=settings.operator_report_minutes)),
            webhook_state=WebhookState(db, clock),
            intake=IntakeService(db, clock),
            buildings=BuildingService(db, clock, calendars),
        )


class BotData:
    """``application.bot_data``: the services, typed."""

    intake: Intake  # the durable update intake (handlers.intake), set by build_application

    def __init__(self, services: Services) -> None:
        self.services = services
        self.dispatcher: Dispatcher | None = None  # set by build_application
        self.run_jobs = True  # the periodic sweep and outbox jobs (tests drive them by hand)

    def outbox(self) -> Dispatcher:
        assert self.dispatcher is not None
        return self.dispatcher


class AppContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    @property
    def services(self) -> Services:
        return self.bot_data.services


UnitApp = Application[ExtBot[None], AppContext, dict[Any, Any], dict[Any, Any], BotData, Any]


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
    from handlers import register
    from handlers.delivery import Dispatcher
    from handlers.intake import Intake
    from handlers.observability import ObservedRequest
    from handlers.pacing import PacingLimiter

    services = Services.create(settings, clock or clock_from_settings(settings))

    class _BotData(BotData):
        def __init__(self) -> None:
            super().__init__(services)

    builder = (
        ApplicationBuilder()
        .token(settings.token.get_secret_value())
        .base_url(settings.api_base_url)
        .context_types(ContextTypes(context=AppContext, bot_data=_BotData))
        .updater(None)  # updates come through the durable intake (handlers.intake, handlers.runtime)
    )
    if request is None:
        request = HTTPXRequest(connection_pool_size=16)
        updates_request = updates_request or HTTPXRequest(read_timeout=40)
    flood_control = services.metrics.flood_control.inc  # 429 answers, counted at the transport
    builder = builder.request(ObservedRequest(request, flood_control)).get_updates_request(
        ObservedRequest(updates_request or request, flood_control)
    )
    # Telegram's limits (30 msg/s overall, 20/min per group, ~1/s per private chat), one budget for
    # the outbox and the handlers' direct answers; a 429 is never slept on bot-wide (the outbox retries)
    pacer = Pacer(Limits() if rate_limiter else None)
    if rate_limiter:
        builder = builder.rate_limiter(PacingLimiter(pacer))  # type: ignore[arg-type]
    app: UnitApp = builder.build()  # type: ignore[assignment]
    app.bot_data.dispatcher = Dispatcher(app, pacer)
    app.bot_data.intake = Intake(app, services.intake)
    app.bot_data.run_jobs = start_jobs
    register(app)
    return app


async def open_storage(app: UnitApp) -> None:
    services = app.bot_data.services
    await services.db.connect()
    applied = await migrate(services.db)
    if applied:
        log.info("database migrated to version %s", applied[-1])
