"""Who handles an appeal at each level of the chain, and the appeal card shown to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.dates import moment
from bot.models import Appeal, Button, Category, Community, Level, Role, Status
from storage.db import Tx
from storage.registry import RegistryRepo


@dataclass(frozen=True)
class Target:
    level: Level
    user_id: int | None  # a person (unit or building head) ...
    chat_id: int  # ... reached in their private chat, or the staff / street chat


async def route(tx: Tx, community: Community, building_id: int, unit_id: int | None, start: Level) -> Target | None:
    """The first level at or above ``start`` that has somebody reachable; None above the top."""
    repo = RegistryRepo(tx)
    for level in Level:
        if level < start:
            continue
        if level == Level.UNIT and unit_id is not None:
            unit = await repo.get_unit(unit_id)
            if unit and unit.head_user_id and await _reachable_or_unknown(tx, unit.head_user_id):
                return Target(level, unit.head_user_id, unit.head_user_id)
        elif level == Level.BUILDING:
            building = await repo.get_building(building_id)
            if building and building.head_user_id and await _reachable_or_unknown(tx, building.head_user_id):
                return Target(level, building.head_user_id, building.head_user_id)
        elif level == Level.COMMUNITY:
            return Target(level, None, community.staff_chat_id)
        elif level == Level.STREET and community.street_chat_id is not None:
            return Target(level, None, community.street_chat_id)
    return None


async def _reachable_or_unknown(tx: Tx, user_id: int) -> bool:
    """A head is skipped only once Telegram told us they cannot be messaged (blocked, never started)."""
    return not await RegistryRepo(tx).known_unreachable(user_id)


async def can_act(tx: Tx, appeal: Appeal, community: Community, user_id: int) -> bool:
    """The assignee, and anyone at or above the appeal's level in its chain (supervision)."""
    repo = RegistryRepo(tx)
    if appeal.assignee_user_id == user_id:
        return True
    if appeal.level <= Level.UNIT and appeal.unit_id is not None:
        unit = await repo.get_unit(appeal.unit_id)
        if unit and unit.head_user_id == user_id:
            return True
    if appeal.level <= Level.BUILDING:
        building = await repo.get_building(appeal.building_id)
        if building and building.head_user_id == user_id:
            return True
    if appeal.level <= Level.COMMUNITY and await repo.has_role(community.id, user_id, Role.STAFF):
        return True
    return await repo.has_role(community.id, user_id, Role.STREET)


def fmt_local(value: datetime | None, community: Community, now: datetime | None = None) -> dict[str, Any] | str:
    """A moment as a message parameter the reader's language says in the community's time zone
    (``Thu 26 Nov, 10:00`` / ``11月26日（周四）10:00``; see :mod:`bot.dates`), never ISO; ``"-"`` for None.
    The year is said when it is not the year of ``now``."""
    return moment(value, community.timezone, now=now)


async def card_params(tx: Tx, appeal: Appeal, community: Community) -> dict[str, object]:
    repo = RegistryRepo(tx)
    building = await repo.get_building(appeal.building_id)
    unit = await repo.get_unit(appeal.unit_id) if appeal.unit_id else None
    return {
        "id": appeal.id,
        "category_key": f"category.{appeal.category.value}",
        "status_key": f"status.{appeal.status.value}",
        "level_key": f"level.{appeal.level.name.lower()}",
        "building": building.title if building else "?",
        "unit": unit.name if unit else "-",
        "body": appeal.body or "-",
        "due": fmt_local(appeal.due_at, community, appeal.created_at),  # the year only across New Year
    }


def action_buttons(appeal_id: int, status: Status, *, major: bool = False) -> tuple[tuple[Button, ...], ...]:
    """The handler's buttons; a major issue also offers "Put to the residents" (issue 12)."""
    first: tuple[Button, ...] = ((Button("btn.take", data=f"a:take:{appeal_id}"),) if status == Status.NEW else ()) + (
        Button("btn.reply", data=f"a:reply:{appeal_id}"),
        Button("btn.ask", data=f"a:ask:{appeal_id}"),
    )
    rows = (
        first,
        (Button("btn.resolve", data=f"a:res:{appeal_id}"), Button("btn.escalate", data=f"a:esc:{appeal_id}")),
    )
    return (*rows, (Button("metoo.btn_put", data=f"mt:put:{appeal_id}"),)) if major else rows


def appeal_buttons(appeal: Appeal) -> tuple[tuple[Button, ...], ...]:
    """:func:`action_buttons` of ``appeal`` (with "Put to the residents" when it is a major issue)."""
    return action_buttons(appeal.id, appeal.status, major=appeal.category == Category.MAJOR)
