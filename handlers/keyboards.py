"""The persistent keyboard of big buttons under the input field, one layout per role, and the
matching of a pressed button (Telegram sends its text as a plain message) in every language."""

from __future__ import annotations

import unicodedata

from bot.i18n import LANGUAGES, Catalogs, Translator
from bot.services.queries import Roles
from handlers.context import JsonMarkup

# button key -> what it does (handlers.appeals.keyboard_pressed runs it)
ACTIONS = {
    "kb.report": "report",
    "kb.mine": "mine",
    "kb.open": "open",
    "kb.vote": "vote",
    "kb.points": "points",
    "kb.check": "check",
    "kb.wish": "wish",  # issue 12: residents' micro-wishes (handlers.wishes)
    "kb.care": "care",  # issue 12: the heads' care list (handlers.care)
    "kb.language": "language",
    "kb.help": "help",
}


def layout(roles: Roles) -> list[list[str]]:
    """The button keys, row by row: residents' buttons for everyone (heads and staff live in a
    building too), the work of the role first."""
    rows: list[list[str]] = []
    if roles.head or roles.staff:
        rows.append(["kb.open", "kb.points"] if roles.head else ["kb.open"])
        rows.append(["kb.care"])
    if roles.merchant:
        rows.append(["kb.check"])
    rows.append(["kb.report", "kb.mine"])
    rows.append(["kb.wish"])
    rows.append(["kb.vote", "kb.language", "kb.help"])
    return rows


def reply_keyboard(t: Translator, roles: Roles) -> JsonMarkup:
    """The role's persistent keyboard, as the Bot API's JSON (a ``ReplyKeyboardMarkup``; sent with
    every start screen, so no PTB objects are built only to be turned back into JSON)."""
    return {
        "keyboard": [[{"text": t(key)} for key in row] for row in layout(roles)],
        "resize_keyboard": True,
        "is_persistent": True,
        "input_field_placeholder": t("kb.placeholder")[:64],
    }


def _plain(text: str) -> str:
    """Spaces, case and the emoji left out: "📋 My appeals", "my appeals" and "My  Appeals" match."""
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] in "LNZ")
    return " ".join(kept.split()).casefold()


def pressed(catalogs: Catalogs, text: str) -> str | None:
    """The action of a keyboard button whose text this is, in any language; None for other texts
    (24 catalog look-ups: cheaper than keeping an index around)."""
    if len(text) > 40:
        return None
    plain = _plain(text)
    for lang in LANGUAGES:
        t = catalogs.translator(lang)
        for key, action in ACTIONS.items():
            if _plain(t(key)) == plain:
                return action
    return None
