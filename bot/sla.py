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
    consultation_days: float = Field(1, gt=0, le=60)
    problem_days: float = Field(3, gt=0, le=60)
    major_days: float = Field(5, gt=0, le=60)
    level_days: float = Field(1, gt=0, le=60)
    remind_before_hours: float = Field(2, ge=0, le=48)
    confirm_days: float = Field(3, gt=0, le=60)
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

    def first_reply_deadline(self, start: datetime) -> datetime:
        return start + timedelta(hours=self.first_reply_hours)

    def reminder_time(self, cal: WorkCalendar, due: datetime) -> datetime:
        return cal.subtract_working_seconds(due, self.remind_before_hours * 3600)

    def confirm_deadline(self, cal: WorkCalendar, start: datetime) -> datetime:
        return cal.add_working_seconds(start, self.confirm_days * cal.working_day_length().total_seconds())


EDITABLE = tuple(SlaSettings.model_fields)
