"""The staff dashboard (a Telegram Mini App, issue 11): sign-in by Telegram's signed initData
(:mod:`.auth`), who sees what (:mod:`.scope`), the pages' data and the actions (:mod:`.service`)."""

from bot.services.dashboard.auth import InitDataRejected, WebAppUser, sign_init_data, verify_init_data
from bot.services.dashboard.scope import Reach, Scope
from bot.services.dashboard.service import DashboardService
from bot.services.dashboard.views import Viewer, parse_filter

__all__ = [
    "DashboardService",
    "InitDataRejected",
    "Reach",
    "Scope",
    "Viewer",
    "WebAppUser",
    "parse_filter",
    "sign_init_data",
    "verify_init_data",
]
