"""The parsing edge for what people send: ids in callback data and command arguments, and the
place (chat) an update comes from.

An id is plain ASCII digits that fit the database's signed 64-bit integers. Anything else (more
digits, a sign, '²' or '١٢' which ``str.isdigit`` accepts, an empty part) is a stale or forged button,
answered politely; it never reaches ``int()`` or the database (an id past 64 bits raises
``OverflowError`` in the driver).
"""

from __future__ import annotations

import re

from telegram import Update
from telegram.constants import ChatType

from bot.errors import Conflict
from bot.services.access import Place

MAX_ID = 2**63 - 1  # BIGINT
_DIGITS = re.compile(r"#?([0-9]{1,19})")


def parse_id(text: str) -> int | None:
    """``'12'`` or ``'#12'`` -> 12; None for anything that is not an id (see the module's text)."""
    match = _DIGITS.fullmatch(text.strip())
    if match is None:
        return None
    value = int(match.group(1))
    return value if value <= MAX_ID else None


def button_id(text: str) -> int:
    """One id of callback data; a stale or forged button otherwise."""
    value = parse_id(text) if not text.startswith("#") else None
    if value is None:
        raise Conflict("error.stale_button")
    return value


def button_ids(data: str, skip: int, count: int) -> list[int]:
    """The ``count`` ids after the first ``skip`` parts of ``data`` (``a:re:12`` -> skip 2, count 1);
    a stale or forged button unless there are exactly that many."""
    parts = data.split(":")[skip:]
    if len(parts) != count:
        raise Conflict("error.stale_button")
    return [button_id(p) for p in parts]


def place_of(update: Update) -> Place:
    """The chat the update comes from; for a button, the chat of the message it is under."""
    query = update.callback_query
    # effective_chat of a button under an inline message is None too
    chat = update.effective_chat if query is None or query.message is not None else None
    if chat is None:
        return Place(None, "none")
    if chat.type == ChatType.PRIVATE:
        return Place(chat.id, "private")
    if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
        return Place(chat.id, "group")
    return Place(chat.id, "channel")
