"""Who sees what on the dashboard, decided on every request from the registry (never cached):

* a unit head: the appeals of the units they head;
* a building head: the appeals of their buildings;
* community staff (admins of the staff chat): their community;
* the street office (admins of the street chat): every community linked to that street chat.

A person with several posts sees the union. Nobody else sees anything (PermissionDenied)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from bot.errors import PermissionDenied
from bot.models import Appeal, Building, Community, Role, Unit
from storage.dashboard import DashboardRepo
from storage.db import Tx
from storage.registry import RegistryRepo


class Reach(IntEnum):
    """The widest post a person holds, for what the page offers (the data is always the union)."""

    UNIT = 0
    BUILDING = 1
    COMMUNITY = 2
    STREET = 3


@dataclass(frozen=True)
class Scope:
    user_id: int
    reach: Reach
    communities: tuple[Community, ...]  # seen whole (staff, street office)
    buildings: tuple[Building, ...]  # every building they see something of, in a stable order
    whole_buildings: frozenset[int]  # buildings seen whole: of their communities, or headed by them
    units: frozenset[int]  # units headed by them (their appeals are seen)
    unit_rows: tuple[Unit, ...] = ()
    staff_of: frozenset[int] = frozenset()  # communities where they are staff or street office

    @property
    def community_ids(self) -> list[int]:
        return [c.id for c in self.communities]

    def community(self, community_id: int) -> Community | None:
        return next((c for c in self.communities if c.id == community_id), None)

    def building(self, building_id: int) -> Building | None:
        return next((b for b in self.buildings if b.id == building_id), None)

    def sees(self, appeal: Appeal) -> bool:
        return (
            appeal.community_id in self.staff_of
            or appeal.building_id in self.whole_buildings
            or (appeal.unit_id is not None and appeal.unit_id in self.units)
        )

    def require_building(self, building_id: int) -> Building:
        """A building the person may look at as a whole (a head asking for another: refused)."""
        building = self.building(building_id)
        if building is None or building.id not in self.whole_buildings:
            raise PermissionDenied("dash.error.not_your_building", id=building_id)
        return building


async def resolve_scope(tx: Tx, user_id: int) -> Scope:
    repo = DashboardRepo(tx)
    reg = RegistryRepo(tx)
    staff = await repo.communities_with_role(user_id, Role.STAFF)
    street_posts = await repo.communities_with_role(user_id, Role.STREET)
    street_chats = sorted({c.street_chat_id for c in street_posts if c.street_chat_id is not None})
    street = await repo.communities_of_street_chats(street_chats)
    communities: dict[int, Community] = {c.id: c for c in (*staff, *street)}
    headed_buildings = [b for b in await reg.buildings_headed_by(user_id) if b.active]
    headed_units = await reg.units_headed_by(user_id)
    unit_buildings = await repo.buildings(sorted({u.building_id for u in headed_units}))
    unit_buildings = [b for b in unit_buildings if b.active]
    active_unit_buildings = {b.id for b in unit_buildings}
    units = [u for u in headed_units if u.building_id in active_unit_buildings]
    if not communities and not headed_buildings and not units:
        raise PermissionDenied("dash.error.no_role")
    whole = await repo.buildings_of_communities(sorted(communities))
    buildings: dict[int, Building] = {b.id: b for b in whole}
    for b in (*headed_buildings, *unit_buildings):
        buildings.setdefault(b.id, b)
    for community_id in sorted({b.community_id for b in buildings.values()} - set(communities)):
        found = await reg.get_community(community_id)
        if found is not None:
            communities.setdefault(found.id, found)
    if street:
        reach = Reach.STREET
    elif staff:
        reach = Reach.COMMUNITY
    elif headed_buildings:
        reach = Reach.BUILDING
    else:
        reach = Reach.UNIT
    staff_of = frozenset(c.id for c in (*staff, *street))
    return Scope(
        user_id=user_id,
        reach=reach,
        communities=tuple(communities[k] for k in sorted(communities)),
        buildings=tuple(sorted(buildings.values(), key=lambda b: (b.community_id, b.title, b.id))),
        whole_buildings=frozenset(b.id for b in (*whole, *headed_buildings)),
        units=frozenset(u.id for u in units),
        unit_rows=tuple(units),
        staff_of=staff_of,
    )
