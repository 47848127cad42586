"""The bot's services, composed once: ``Services.create(settings, clock)`` (no I/O).

A leaf of the wiring: it imports the domain services and storage, never ``telegram`` nor ``handlers``,
so the Telegram handlers (through ``handlers.context``) and the web routes (``bot.web``) share one typed
set of services without importing each other or the application's wiring (``bot.app``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import Catalogs
from bot.logging import instance_label
from bot.metrics import Metrics
from bot.services.base import Calendars, Defaults
from bot.services.buildings import BuildingService
from bot.services.cards import CardService
from bot.services.care import CareListService, VisitService
from bot.services.dashboard import DashboardService
from bot.services.district.privacy import PrivacyService
from bot.services.district.reassign import ReassignService
from bot.services.district.registry import DistrictService
from bot.services.elections import ElectionService, ElectionStaffService
from bot.services.filing import FilingService
from bot.services.intake import IntakeService
from bot.services.metoo.residents import ResidentsVoteService
from bot.services.metoo.sharing import MeTooService
from bot.services.notices import NoticeService, NoticeSweep
from bot.services.operations import MonitoringService, OperatorReports, WebhookState
from bot.services.outbox import OutboxService
from bot.services.perk_admin import PerkAdminService
from bot.services.perks import PerksService
from bot.services.points import PointsService
from bot.services.proposals import ProposalService
from bot.services.queries import QueryService
from bot.services.registry import RegistryService
from bot.services.resident import ResidentService
from bot.services.satisfaction import FollowUpService
from bot.services.staff_chat import StaffChatService
from bot.services.stats import StatsService
from bot.services.stats.monthly import MonthlyReports
from bot.services.sweeper import Sweeper
from bot.services.wishes import WishService, WishSweep
from bot.services.workflow import WorkflowService
from storage.db import Database
from storage.engines import open_database
from storage.migrate import migrate

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
    outbox: OutboxService
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
    # notices and tasks with read receipts (issue 12): sending and answers; their due moments
    notices: NoticeService
    notice_sweep: NoticeSweep
    # community life (issue 12): micro-wishes, the care list and visits
    wishes: WishService
    wish_sweep: WishSweep
    care: CareListService
    visits: VisitService
    # the district (issue 11): registry import and heads' invite links, /reassign, /mydata and /forgetme
    district: DistrictService
    reassign: ReassignService
    privacy: PrivacyService
    # shared problems (issue 12): "Me too" and "Put to the residents"
    metoo: MeTooService
    residents_vote: ResidentsVoteService
    # statistics and reports (issue 11): figures per unit, building, community, street office
    stats: StatsService
    stats_reports: MonthlyReports
    # the staff dashboard (issue 11, a Telegram Mini App served by bot.web.dashboard)
    dashboard: DashboardService

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
        notices = NoticeService(db, clock, calendars)
        wishes = WishService(db, clock, calendars)
        proposals = ProposalService(db, clock, calendars)
        stats = StatsService(db, clock, calendars)
        reassign = ReassignService(workflow)
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
            outbox=OutboxService(workflow),
            staff_chat=StaffChatService(workflow),
            follow_ups=FollowUpService(workflow),
            points=PointsService(db, clock, calendars),
            cards=CardService(db, clock, calendars),
            perks=perks,
            perk_admin=PerkAdminService(perks),
            elections=elections,
            election_staff=ElectionStaffService(elections),
            proposals=proposals,
            monitoring=MonitoringService(db, clock),
            metrics=Metrics(instance_label(settings.instance_name)),
            operator_reports=OperatorReports(db, clock, timedelta(minutes=settings.operator_report_minutes)),
            webhook_state=WebhookState(db, clock),
            intake=IntakeService(db, clock),
            buildings=BuildingService(db, clock, calendars),
            notices=notices,
            notice_sweep=NoticeSweep(notices),
            wishes=wishes,
            wish_sweep=WishSweep(wishes),
            care=CareListService(db, clock, calendars),
            visits=VisitService(db, clock, calendars),
            district=DistrictService(db, clock, calendars),
            reassign=reassign,
            privacy=PrivacyService(db, clock, calendars),
            metoo=MeTooService(db, clock, calendars),
            residents_vote=ResidentsVoteService(proposals),
            stats=stats,
            stats_reports=MonthlyReports(db, clock, calendars, default_day=settings.report_day),
            dashboard=DashboardService(db, clock, calendars, workflow, reassign, stats, settings.language),
        )

    async def open_storage(self) -> None:
        """Connect to the database and bring its schema up to date (the first I/O of a start)."""
        await self.db.connect()
        applied = await migrate(self.db)
        if applied:
            log.info("database migrated to version %s", applied[-1])
