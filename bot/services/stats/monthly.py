"""The monthly report: on the community's report day (the 1st unless set otherwise; in working
hours) the staff chat and the street chat get the report of the month that ended. Deadlines are
data: a due row per community and month (``stats_reports``), added and fired by the sweep, each
step idempotent; the report itself is queued in the outbox with the row's completion."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from bot.clock import Clock, to_ts
from bot.errors import InvalidInput
from bot.models import Community, Notice, Priority, UserInfo
from bot.services.base import Calendars, ServiceBase
from bot.services.stats.access import Audience, Viewer, viewer_of
from bot.services.stats.figures import Period, Scope
from storage.db import Database, Tx
from storage.registry import RegistryRepo
from storage.stats import ReportScheduleRepo

FIRE_BATCH = 20  # due reports handled per sweep
REPORT_TEMPLATE = "stats.monthly_report"


class ReportSettings(BaseModel):
    """``communities.settings['stats']``; staff change the day with ``/report day N`` (0: no report)."""

    model_config = ConfigDict(extra="ignore")

    report_day: int | None = Field(None, ge=0, le=28)  # None: the installation's default
    report_hour: int = Field(10, ge=0, le=23)  # local; moved into working hours if outside them

    @classmethod
    def of(cls, community: Community) -> ReportSettings:
        return cls.model_validate(community.settings.get("stats", {}))


def previous_month(now: datetime, timezone: str) -> Period:
    return Period.containing(now, timezone).previous()


def report_params(community_id: int, month: str, audience: Audience) -> dict[str, Any]:
    """What the outbox needs to build the report when it sends it (no personal data, no blob)."""
    return {"report": {"community_id": community_id, "month": month, "audience": audience.value}}


def is_report(params: dict[str, Any]) -> bool:
    report = params.get("report")
    return isinstance(report, dict) and isinstance(report.get("community_id"), int)


class MonthlyReports(ServiceBase):
    def __init__(self, db: Database, clock: Clock, calendars: Calendars, *, default_day: int = 1) -> None:
        super().__init__(db, clock, calendars)
        self.default_day = default_day

    def day_of(self, community: Community) -> int:
        day = ReportSettings.of(community).report_day
        return self.default_day if day is None else day

    async def tick(self) -> int:
        """Schedule last month's report of every active community, and queue those due; returns how
        many were queued. Safe to run any number of times, in any number of processes."""
        now = self.clock.now()
        queued = 0
        async with self.db.write() as tx:
            repo = ReportScheduleRepo(tx)
            registry = RegistryRepo(tx)
            communities = await repo.active_communities()
            # around a month's end the communities' time zones disagree on which month ended: ask for both
            candidates = sorted({previous_month(now, tz).month or "" for tz in ("Pacific/Kiritimati", "Etc/GMT+12")})
            have = await repo.scheduled(candidates)
            for community_id, created in communities:
                community = await registry.get_community(community_id)
                if community is None:
                    continue
                month = previous_month(now, community.timezone)
                if (community_id, month.month or "") in have:
                    continue
                if created >= to_ts(month.bounds(community.timezone)[1]):
                    continue  # set up after that month: no report of it (checked again next month)
                day = self.day_of(community)
                if day == 0:
                    await repo.schedule(community_id, month.month or "", now, done=now)
                    continue
                await repo.schedule(community_id, month.month or "", await self._due(tx, community, month, day))
            for row in await repo.due(now, FIRE_BATCH):
                community = await registry.get_community(row.community_id)
                if community is None or not community.active:
                    await repo.finish(row.community_id, row.month, now, "inactive")
                    continue
                if not await repo.finish(row.community_id, row.month, now, "queued"):
                    continue  # another process took it
                chats = [(community.staff_chat_id, Audience.STAFF)]
                if community.street_chat_id:
                    chats.append((community.street_chat_id, Audience.STREET))
                for chat_id, audience in chats:
                    notice = Notice(
                        chat_id,
                        REPORT_TEMPLATE,
                        report_params(community.id, row.month, audience),
                        dedupe_key=f"stats-report:{community.id}:{row.month}:{audience.value}",
                        priority=Priority.BULK,
                    )
                    queued += int(await self.queue(tx, notice, community, now))
        return queued

    async def _due(self, tx: Tx, community: Community, month: Period, day: int) -> datetime:
        """The report day of the month after ``month``, at the report hour, or the next working moment."""
        settings = ReportSettings.of(community)
        first = month.end  # the 1st of the next month
        moment = datetime.combine(
            date(first.year, first.month, day), time(settings.report_hour), ZoneInfo(community.timezone)
        )
        cal = await self.calendars.for_community(tx, community)
        return cal.next_working_moment(moment)

    async def set_day(self, actor: UserInfo, chat_id: int, day: int) -> int:
        """``/report day N`` in the staff chat (staff only): the community's report day, 0 = none."""
        if not 0 <= day <= 28:
            raise InvalidInput("stats.error_report_day")
        async with self.db.write() as tx:
            viewer = await viewer_of(tx, actor.id, chat_id, private=False)
            if viewer.audience != Audience.STAFF:
                raise InvalidInput("stats.error_report_day_staff")
            settings = dict(viewer.community.settings)
            settings["stats"] = {**ReportSettings.of(viewer.community).model_dump(), "report_day": day}
            await RegistryRepo(tx).set_community_settings(viewer.community.id, settings)
        return day

    async def viewer_for(self, community_id: int, audience: Audience) -> Viewer | None:
        """The report's reader at send time (the chat it is queued to; no person asked)."""
        async with self.db.read() as tx:
            community = await RegistryRepo(tx).get_community(community_id)
        if community is None:
            return None
        if audience == Audience.STREET and community.street_chat_id:
            return Viewer(
                Audience.STREET, Scope.street([community.id]), community, community.street_chat_id, community.name
            )
        return Viewer(Audience.STAFF, Scope.community(community.id), community, community.staff_chat_id, community.name)
