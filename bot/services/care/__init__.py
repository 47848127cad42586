"""The care list and visits (关爱名单, issue 12): :mod:`households` (the private list, entering a
household, who sees what), :mod:`visits` (recording visits, points, door-knocking rounds, the sweep)."""

from bot.services.care.households import CareListService
from bot.services.care.visits import VisitService

__all__ = ["CareListService", "VisitService"]
