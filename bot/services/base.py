"""What every service shares: the database, the clock, calendars and the outbox writer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.calendar import WorkCalendar, WorkingHours
from bot.clock import Clock
from bot.models import Community, Notice
from bot.services.metoo.steps import supporter_notices
from bot.sla import SlaSettings
from storage.db import Database, Tx
from storage.outbox import OutboxRepo
from storage.registry import RegistryRepo


@dataclass(frozen=True)
class Defaults:
    """Values new communities start with (from Settings)."""

    timezone: str = "Asia/Shanghai"
    country: str = "CN"
    language: str = "zh"
    work_start: time = time(9, 0)
    work_end: time = time(18, 0)


class Calendars:
    """Builds a community's working-day calendar (library + its staff overrides), cached until the
    overrides or the community's calendar settings change."""

    def __init__(self, defaults: Defaults) -> None:
        self._defaults = defaults
        self._cache: dict[tuple[int, str, str, tuple[tuple[date, bool], ...]], WorkCalendar] = {}

    async def for_community(self, tx: Tx, community: Community) -> WorkCalendar:
        memo_key = ("calendar", community.id, community.country, community.timezone)
        memo: WorkCalendar | None = tx.memo.get(memo_key)
        if memo is not None:  # already built in this transaction: same overrides
            return memo
        overrides = await RegistryRepo(tx).calendar_overrides(community.id)
        key = (community.id, community.country, community.timezone, tuple(sorted(overrides.items())))
        cal = self._cache.get(key)
        if cal is None:
            hours = WorkingHours(start=self._defaults.work_start, end=self._defaults.work_end)
            cal = WorkCalendar(community.country, community.timezone, hours, overrides)
            if len(self._cache) > 1024:
                self._cache.clear()
            self._cache[key] = cal
        tx.memo[memo_key] = cal
        return cal


class ServiceBase:
    def __init__(self, db: Database, clock: Clock, calendars: Calendars) -> None:
        self.db = db
        self.clock = clock
        self.calendars = calendars

    async def queue(
        self, tx: Tx, notice: Notice, community: Community, now: datetime, *, not_before: datetime | None = None
    ) -> bool:
        """Queue ``notice`` in the outbox, in the caller's transaction. Non-urgent messages wait for
        the community's working hours (quiet hours), unless the caller gives the earliest send time
        itself (``not_before``: election and proposal announcements follow their own daytime rule).
        A step of a shared appeal also queues its supporters' versions (:mod:`bot.services.metoo.steps`)."""
        if not_before is not None:
            not_before = max(now, not_before)
        else:
            not_before = now
            if not notice.urgent:
                cal = await self.calendars.for_community(tx, community)
                grace = timedelta(minutes=SlaSettings.from_settings(community.settings).quiet_grace_minutes)
                not_before = max(now, cal.next_notify_time(now, grace))
        outbox = OutboxRepo(tx)
        queued = await outbox.add(notice, community_id=community.id, now=now, not_before=not_before)
        if queued:
            for extra in await supporter_notices(tx, notice):
                await outbox.add(extra, community_id=community.id, now=now, not_before=not_before)
        return queued

    def local_now(self, community: Community) -> datetime:
        return self.clock.now().astimezone(ZoneInfo(community.timezone))
