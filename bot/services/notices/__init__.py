"""Notices and tasks with read receipts (issue 12): :mod:`.service` (compose, send, answers, live
counts), :mod:`.sweep` (reminders, due dates, urgent re-pings and escalations), :mod:`.rules`."""

from bot.services.notices.rules import Draft, parse_command
from bot.services.notices.service import NoticeService, ScopeStep, StatusEdit
from bot.services.notices.sweep import NoticeSweep

__all__ = ["Draft", "NoticeService", "NoticeSweep", "ScopeStep", "StatusEdit", "parse_command"]
