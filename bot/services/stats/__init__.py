"""Statistics and reports (issue 11): figures per unit, building, community and street office.

``StatsService.figures(scope, period)``, ``by_building``, ``overview`` and ``trend`` are the typed
API that /stats, the monthly report and the Mini App dashboard read (docs/stats.md defines every
number)."""

from bot.services.stats.figures import (
    Breakdown,
    BuildingRow,
    Durations,
    Figures,
    GroupFigures,
    HeadRole,
    HeadRow,
    Period,
    Rate,
    Scope,
    ScopeKind,
    TrendPoint,
)
from bot.services.stats.service import StatsService

__all__ = [
    "Breakdown",
    "BuildingRow",
    "Durations",
    "Figures",
    "GroupFigures",
    "HeadRole",
    "HeadRow",
    "Period",
    "Rate",
    "Scope",
    "ScopeKind",
    "StatsService",
    "TrendPoint",
]
