"""The steps of filing an appeal as the resident meets them (:class:`FilingStep`), and finding the
resident's building when the bot does not know it: the buildings offered as buttons, and the
question asked in words that never repeat twice in a row (``building_lookups``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.models import Building, Category, Unit
from storage.conversations import ConversationsRepo, Draft, PendingAction
from storage.db import Tx
from storage.registry import RegistryRepo

MAX_OFFERED = 24


@dataclass(frozen=True)
class FilingStep:
    """What the resident must do next (or what just happened)."""

    # "find_building" | "choose_building" | "choose_unit" | "choose_category" | "describe" | "filed"
    # | "unit_saved"
    step: str
    building: Building | None = None
    buildings: tuple[Building, ...] = ()
    units: tuple[Unit, ...] = ()
    unit: Unit | None = None
    category: Category | None = None
    anonymous: bool = False
    kept: bool = False  # a message the resident sent first is kept as the description
    reason: str = "ask"  # find_building: "ask" | "kept" (another message kept) | "miss" (code not found)
    turn: int = 0  # find_building: which wording (0/1); never the same twice in a row for one reason
    typed: str = ""  # find_building after a miss: what was typed
    appeal_id: int | None = None  # filed


@dataclass(frozen=True)
class Conversation:
    """Where a user's private conversation stands: an action waiting for their next message, the
    appeal they are filing, and whether the bot is waiting for their building."""

    action: PendingAction | None
    draft: Draft | None
    finding_building: bool = False


async def offerable(tx: Tx, user_id: int) -> list[Building]:
    """Buildings a resident may pick by button: only those they belong to (seen in the building's
    chat, its deep link opened as a member, its poster code typed, or a resident already). Any other
    building is found by its poster code: a list of every building would let anyone register in a
    building, and then vote there (issue 9)."""
    return (await RegistryRepo(tx).buildings_known_for(user_id))[:MAX_OFFERED]


async def remember_asked(tx: Tx, user_id: int, inbox_id: int | None, reason: str, now: datetime) -> int:
    """Record that the bot asks for the building (why, in which wording); returns the wording:
    never the same as the last answer when the reason is the same."""
    conv = ConversationsRepo(tx)
    lookup = await conv.get_lookup(user_id)
    variant = lookup.next_variant(reason) if lookup is not None else 0
    await conv.put_lookup(user_id, inbox_id, reason, variant, now)
    return variant


async def ask_building(
    tx: Tx, user_id: int, inbox_id: int | None, reason: str, now: datetime, typed: str = ""
) -> FilingStep:
    """ "Which building?": the buttons the resident may press, the poster code otherwise."""
    variant = await remember_asked(tx, user_id, inbox_id, reason, now)
    return FilingStep(
        "find_building",
        buildings=tuple(await offerable(tx, user_id)),
        kept=inbox_id is not None,
        reason=reason,
        turn=variant,
        typed=typed,
    )
