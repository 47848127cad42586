"""Per-community rules for deadlines, reminders and anti-spam, with the districts' defaults."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.calendar import WorkCalendar
from bot.models import Category, Level


class SlaSettings(BaseModel):
    """Stored as JSON in ``communities.settings['sla']``; staff change it with ``/sla``."""

    model_config = ConfigDict(extra="ignore")

    first_reply_hours: float = Field(24, gt=0, le=24 * 14)
    first_reply_min_work_hours: float = Field(4, ge=0, le=45)
    consultation_days: float = Field(1, gt=0, le=60)
    problem_days: float = Field(3, gt=0, le=60)
    major_days: float = Field(5, gt=0, le=60)
    level_days: float = Field(1, gt=0, le=60)
    remind_before_hours: float = Field(2, ge=0, le=48)
    confirm_days: float = Field(3, gt=0, le=60)
    revisit_days: float = Field(3, ge=0, le=60)  # return visit of a closed major issue (0: none)
    metoo_threshold: int = Field(5, ge=2, le=10_000)  # supporters of a shared appeal that flag it (issue 12)
    residents_vote_days: int = Field(3, ge=1, le=30)  # a major issue put to the residents: days to vote
    escalate_on_first_reply_miss: bool = True
    quiet_grace_minutes: int = Field(30, ge=0, le=240)
    max_per_hour: int = Field(3, ge=1, le=100)
    max_per_day: int = Field(10, ge=1, le=1000)
    duplicate_window_hours: int = Field(24, ge=0, le=24 * 30)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> SlaSettings:
        return cls.model_validate(settings.get("sla", {}))

    def category_days(self, category: Category) -> float:
        return {
            Category.CONSULTATION: self.consultation_days,
            Category.PROBLEM: self.problem_days,
            Category.MAJOR: self.major_days,
        }[category]

    def level_deadline(self, cal: WorkCalendar, start: datetime, level: Level, category: Category) -> datetime:
        """When the work at ``level`` must be done: the category's deadline at the unit level,
        the per-level deadline above it."""
        days = self.category_days(category) if level == Level.UNIT else self.level_days
        return cal.add_working_seconds(start, days * cal.working_day_length().total_seconds())

    def filing_deadline(self, cal: WorkCalendar, start: datetime, category: Category) -> datetime:
        """The resident's deadline: the category's, whoever the appeal is routed to first."""
        return self.level_deadline(cal, start, Level.UNIT, category)

    def first_reply_deadline(self, cal: WorkCalendar, start: datetime) -> datetime:
        """When a first reply is due for an appeal filed at ``start``: ``first_reply_hours`` counted
        on working days only (around the clock, but weekends, holidays and days off do not count),
        and never before the head had ``first_reply_min_work_hours`` of working time after the card
        can reach them (quiet hours hold the card until the next working period)."""
        counted = cal.add_working_day_time(start, self.first_reply_hours * 3600)
        return max(counted, self.first_reply_floor(cal, self.card_delivery(cal, start)))

    def card_delivery(self, cal: WorkCalendar, start: datetime) -> datetime:
        """When a card queued at ``start`` goes out: at once in working hours (plus the grace),
        else at the start of the next working period."""
        return max(start, cal.next_notify_time(start, timedelta(minutes=self.quiet_grace_minutes)))

    def first_reply_floor(self, cal: WorkCalendar, delivered: datetime) -> datetime:
        """The earliest moment a missed first reply may count: the head's working time after the
        card reached them."""
        return cal.add_working_seconds(delivered, self.first_reply_min_work_hours * 3600)

    def reminder_time(self, cal: WorkCalendar, due: datetime) -> datetime:
        return cal.subtract_working_seconds(due, self.remind_before_hours * 3600)

    def confirm_deadline(self, cal: WorkCalendar, start: datetime) -> datetime:
        return cal.add_working_seconds(start, self.confirm_days * cal.working_day_length().total_seconds())


EDITABLE = tuple(SlaSettings.model_fields)
