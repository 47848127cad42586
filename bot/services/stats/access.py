"""Who may see which figures, decided from the chat a command came from and the sender's role
(never from an id in the command): the staff chat -> its community (staff only), the street chat ->
the communities linked to it (the street office only), a private chat -> the buildings the sender
heads. Anything else is refused with a clear reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.errors import InvalidInput, NotConfigured, PermissionDenied, WrongChat
from bot.models import Community, Role
from bot.services.stats.figures import Period, Scope
from storage.db import Tx
from storage.registry import RegistryRepo


class Audience(StrEnum):
    STAFF = "staff"
    STREET = "street"
    BUILDING_HEAD = "building_head"


@dataclass(frozen=True)
class Viewer:
    """What one person may look at from one chat."""

    audience: Audience
    scope: Scope
    community: Community  # whose time zone, language and calendar apply (the first, for a street)
    chat_id: int
    title: str  # the community's name, or the buildings' names


async def viewer_of(tx: Tx, actor_id: int, chat_id: int, *, private: bool) -> Viewer:
    repo = RegistryRepo(tx)
    if private:
        buildings = [b for b in await repo.buildings_headed_by(actor_id) if b.active]
        if not buildings:
            raise PermissionDenied("stats.error_no_role")
        community = await repo.get_community(buildings[0].community_id)
        assert community is not None
        mine = [b for b in buildings if b.community_id == community.id]
        return Viewer(
            Audience.BUILDING_HEAD,
            Scope.building(community.id, *(b.id for b in mine)),
            community,
            chat_id,
            ", ".join(b.title for b in mine),
        )
    community = await repo.community_by_staff_chat(chat_id)
    if community is not None:
        if not await repo.has_role(community.id, actor_id, Role.STAFF):
            raise PermissionDenied("stats.error_staff_only")
        return Viewer(Audience.STAFF, Scope.community(community.id), community, chat_id, community.name)
    community = await repo.community_by_street_chat(chat_id)
    if community is not None:
        if not await repo.has_role(community.id, actor_id, Role.STREET):
            raise PermissionDenied("stats.error_street_only")
        return Viewer(Audience.STREET, Scope.street([community.id]), community, chat_id, community.name)
    if await repo.building_by_chat(chat_id) is not None:
        raise WrongChat("stats.error_building_chat")
    raise NotConfigured("error.chat_not_registered")


def month_of(text: str | None, community: Community, now: datetime) -> Period:
    """The month asked for ('YYYY-MM'; none: the current one, in the community's time zone); a
    month not begun yet is refused."""
    current = Period.containing(now, community.timezone)
    if text is None or not text.strip():
        return current
    try:
        period = Period.parse_month(text)
    except ValueError:
        raise InvalidInput("stats.error_month", example=current.month or "") from None
    if period.start > current.start:
        raise InvalidInput("stats.error_future_month", month=period.month or "", current=current.month or "")
    return period
