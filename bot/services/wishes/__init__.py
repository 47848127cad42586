"""Micro-wishes (微心愿, issue 12): :mod:`posting` (writing, posting, lists, figures), :mod:`board`
(the volunteer, the messages between them, the resident's confirmation), :mod:`sweep` (re-show, the
unit head, expiry), :mod:`rules` (plain rules)."""

from bot.services.wishes.board import WishService
from bot.services.wishes.sweep import WishSweep

__all__ = ["WishService", "WishSweep"]
