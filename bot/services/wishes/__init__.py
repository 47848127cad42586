"""Micro-wishes (微心愿, issue 12): :mod:`board` (writing, posting, the volunteer, the resident's
confirmation, figures), :mod:`sweep` (re-show, the unit head, expiry), :mod:`rules` (plain rules)."""

from bot.services.wishes.board import WishService
from bot.services.wishes.sweep import WishSweep

__all__ = ["WishService", "WishSweep"]
