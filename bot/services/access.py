"""Where an action comes from, and the checks that tie ids sent by a person to that place.

Ids in callback data and command arguments are typed by whoever presses or sends them: a modified
client can press any data on any message of the bot. The chat a button was pressed in (or a command
sent in) is Telegram's own fact. The services check every id against it and against the presser's
role; this module holds the shared part: :class:`Place` and the checks used by several services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.errors import WrongChat
from bot.models import Community

PlaceKind = Literal["private", "group", "channel", "none"]


@dataclass(frozen=True)
class Place:
    """The chat of an update: a person's private chat with the bot, a group, a channel, or none
    (a button under an inline message, which belongs to no chat the bot knows)."""

    chat_id: int | None
    kind: PlaceKind

    @property
    def private(self) -> bool:
        """A private chat with the bot: Telegram delivers a command or a button press there only
        from the person whose chat it is, so what is answered there is read by them alone."""
        return self.kind == "private"


def require_private(place: Place) -> None:
    """Buttons and commands about one person (their points, perks, filing): only in their private
    chat, never in a group where others would read the answer."""
    if not place.private:
        raise WrongChat("security.private_only")


def chain_chat(place: Place, community: Community) -> bool:
    """The place is the staff chat or the street office chat of ``community``."""
    return (
        place.kind == "group"
        and place.chat_id is not None
        and (place.chat_id == community.staff_chat_id or place.chat_id == community.street_chat_id)
    )


def require_appeal_place(place: Place, community: Community) -> None:
    """An appeal (its buttons, its details) is acted on and shown only in the person's private chat
    or in a chat of its own chain: its community's staff chat or its street office's chat."""
    if place.private or chain_chat(place, community):
        return
    raise WrongChat("security.appeal_elsewhere")
