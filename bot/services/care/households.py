"""The care list (关爱名单): households of a unit that need regular visits (lives alone, elderly,
disabled, ill), with a visit frequency and a short private note.

Privacy: the list, a household's label and its note are read only by the head of its unit, the
head of its building and the community's staff, and only in their private chat (every button here
is refused elsewhere); the staff chat is told of a missed visit without the label or the note.
Who adds or removes a household: the head of its unit, or staff (the building head sees it and
records visits). Entering a household is a draft kept in the database (label, need, frequency,
note), so a restart in the middle of it loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.dates import moment
from bot.errors import InvalidInput, NotFound, PermissionDenied
from bot.i18n import rows
from bot.models import Button, Community, Content, Reply, Role, Unit, UserInfo
from bot.services.access import Place, require_private
from bot.services.base import ServiceBase
from storage.care import CareFigures, CareRepo, Household
from storage.conversations import ConversationsRepo
from storage.db import Tx
from storage.registry import RegistryRepo

NEEDS = ("alone", "elderly", "disabled", "ill")
EVERY_DAYS = (7, 14, 30)
LABEL_MAX = 40
NOTE_MAX = 300
LIST_MAX = 20
DRAFT_WINDOW = timedelta(days=1)  # an abandoned draft no longer takes the person's messages
FIGURES_DAYS = 30  # the staff chat's figures count the visits of the last 30 days


class HouseholdUnknown(NotFound):
    key = "care.unknown"


class NotYourUnit(PermissionDenied):
    """A care entry for a unit the person does not head (nor are they staff)."""

    key = "care.not_your_unit"


@dataclass(frozen=True)
class Access:
    unit_head: bool
    building_head: bool
    staff: bool

    @property
    def sees(self) -> bool:
        return self.unit_head or self.building_head or self.staff

    @property
    def manages(self) -> bool:
        return self.unit_head or self.staff


async def access(tx: Tx, user_id: int, household: Household) -> Access:
    reg = RegistryRepo(tx)
    unit = await reg.get_unit(household.unit_id)
    building = await reg.get_building(household.building_id)
    return Access(
        unit_head=unit is not None and unit.head_user_id == user_id,
        building_head=building is not None and building.head_user_id == user_id,
        staff=await reg.has_role(household.community_id, user_id, Role.STAFF),
    )


def visit_buttons(household_id: int) -> tuple[tuple[Button, ...], ...]:
    return (
        (Button("care.btn.well", data=f"cr:w:{household_id}"),),
        (Button("care.btn.help", data=f"cr:p:{household_id}"), Button("care.btn.away", data=f"cr:a:{household_id}")),
    )


def household_params(h: Household, unit: Unit | None, community: Community) -> dict[str, object]:
    return {
        "id": h.id,
        "label": h.label,
        "unit": unit.name if unit else "-",
        "need_key": f"care.need_text.{h.need or 'elderly'}",
        "every_key": f"care.every_text.{h.every_days or 7}",
        "due": moment(h.next_due_at, community.timezone),
    }


class CareListService(ServiceBase):
    async def overview(self, actor: UserInfo, place: Place) -> Reply:
        """/care: the households the person may see, each a button, and "add" for unit heads and staff."""
        require_private(place)
        async with self.db.read() as tx:
            reg = RegistryRepo(tx)
            units = await reg.units_headed_by(actor.id)
            buildings = await reg.buildings_headed_by(actor.id)
            staff_of = await self._staff_communities(tx, actor.id)
            if not units and not buildings and not staff_of:
                raise PermissionDenied("care.heads_only")
            repo = CareRepo(tx)
            found: dict[int, Household] = {}
            for h in await repo.of_units([u.id for u in units], LIST_MAX):
                found[h.id] = h
            for h in await repo.of_buildings([b.id for b in buildings], LIST_MAX):
                found.setdefault(h.id, h)
            for community_id in staff_of:
                for h in await repo.of_community(community_id, LIST_MAX):
                    found.setdefault(h.id, h)
            buttons: list[tuple[Button, ...]] = []
            ordered = sorted(found.values(), key=lambda h: (h.next_due_at.timestamp() if h.next_due_at else 0, h.id))
            for h in ordered[:LIST_MAX]:
                unit = await reg.get_unit(h.unit_id)
                params = {"label": h.label, "unit": unit.name if unit else "-"}
                buttons.append((Button("care.btn.household", data=f"cr:v:{h.id}", params=params),))
        if units or staff_of:
            buttons.append((Button("care.btn.add", data="cr:new:0"),))
        key = "care.list" if found else "care.list_empty"
        return Reply(key, {"count": len(found)}, tuple(buttons))

    async def _staff_communities(self, tx: Tx, user_id: int) -> list[int]:
        return await CareRepo(tx).staff_communities(user_id, Role.STAFF.value)

    async def figures(self, actor: UserInfo, chat_id: int) -> CareFigures:
        """``/care`` in the staff chat (staff only): counts, never a household's label or note."""
        now = self.clock.now()
        async with self.db.read() as tx:
            reg = RegistryRepo(tx)
            community = await reg.community_by_staff_chat(chat_id)
            if community is None:
                raise PermissionDenied("care.heads_only")
            if not await reg.has_role(community.id, actor.id, Role.STAFF):
                raise PermissionDenied("error.staff_only")
            return await CareRepo(tx).figures(community.id, now - timedelta(days=FIGURES_DAYS), now)

    async def add_start(self, actor: UserInfo, place: Place) -> Reply:
        """The units the person may add a household to (theirs; staff: their community's)."""
        require_private(place)
        async with self.db.read() as tx:
            reg = RegistryRepo(tx)
            units = {u.id: u for u in await reg.units_headed_by(actor.id)}
            for community_id in await self._staff_communities(tx, actor.id):
                for building in await reg.buildings_of(community_id):
                    if building.active:
                        for u in await reg.units_of(building.id):
                            units.setdefault(u.id, u)
            if not units:
                raise NotYourUnit()
            choices = []
            for u in list(units.values())[:30]:
                home = await reg.get_building(u.building_id)
                title = home.title if home else "-"
                params = {"unit": u.name, "building": title}
                choices.append((Button("care.btn.unit", data=f"cr:u:{u.id}", params=params),))
        return Reply("care.pick_unit", {}, tuple(choices))

    async def pick_unit(self, actor: UserInfo, unit_id: int, place: Place) -> Reply:
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            reg = RegistryRepo(tx)
            unit = await reg.get_unit(unit_id)
            building = await reg.get_building(unit.building_id) if unit else None
            if unit is None or building is None or not building.active:
                raise NotYourUnit()
            if unit.head_user_id != actor.id and not await reg.has_role(building.community_id, actor.id, Role.STAFF):
                raise NotYourUnit()
            await CareRepo(tx).start_draft(
                community_id=building.community_id, building_id=building.id, unit_id=unit.id, user_id=actor.id, now=now
            )
            await ConversationsRepo(tx).drop_action(actor.id)  # the latest intent wins: the typed label
        return Reply("care.ask_label", {"unit": unit.name, "building": building.title}, _cancel_row())

    async def take_private(self, actor: UserInfo, content: Content, after: datetime | None = None) -> Reply | None:
        """A typed label or note of the person's draft; None when they have no draft waiting for text
        (at a button step the message goes on to the appeal router: heads write replies too), or
        when the appeal they are filing was touched after the draft began (``after``)."""
        async with self.db.read() as tx:  # most private messages are not a care entry: a read only
            waiting = await CareRepo(tx).draft_of(actor.id)
            if waiting is None or waiting.step not in ("label", "note"):
                return None
        async with self.db.write() as tx:
            repo = CareRepo(tx)
            draft = await repo.draft_of(actor.id)
            if draft is None or draft.step not in ("label", "note"):
                return None
            if after is not None and draft.created_at < after:
                return None
            if self.clock.now() - draft.created_at > DRAFT_WINDOW:
                return None  # abandoned long ago: the message is not its label or note
            if content.kind != "text":
                raise InvalidInput("care.text_only")
            text = " ".join(content.text.split())
            if draft.step == "label":
                if not 1 <= len(text) <= LABEL_MAX:
                    raise InvalidInput("care.bad_label", max=LABEL_MAX)
                await repo.set_draft(draft.id, "need", label=text)
                return _step_reply("need")
            if len(text) > NOTE_MAX:
                raise InvalidInput("care.bad_note", max=NOTE_MAX)
            return await self._finish(tx, draft, text)

    async def choose(self, actor: UserInfo, what: str, value: int, place: Place) -> Reply:
        """``need`` (index into NEEDS), ``freq`` (days) or ``skip`` (no note) of the draft."""
        require_private(place)
        async with self.db.write() as tx:
            repo = CareRepo(tx)
            draft = await repo.draft_of(actor.id)
            if draft is None:
                raise InvalidInput("care.no_draft")
            if what == "need" and draft.step == "need":
                if not 0 <= value < len(NEEDS):
                    raise InvalidInput("error.stale_button")
                await repo.set_draft(draft.id, "freq", need=NEEDS[value])
                return _step_reply("freq")
            if what == "freq" and draft.step == "freq":
                if value not in EVERY_DAYS:
                    raise InvalidInput("error.stale_button")
                await repo.set_draft(draft.id, "note", every_days=value)
                return _step_reply("note")
            if what == "skip" and draft.step == "note":
                return await self._finish(tx, draft, "")
            return _step_reply(draft.step)  # a double tap on an earlier step: show where they are

    async def _finish(self, tx: Tx, draft: Household, note: str) -> Reply:
        now = self.clock.now()
        repo = CareRepo(tx)
        await repo.set_draft(draft.id, "note", note=note)
        every = draft.every_days or 7
        due = now + timedelta(days=every)
        await repo.activate(draft.id, due)
        await repo.add_deadline("due", due, household_id=draft.id, due_for=due)
        reg = RegistryRepo(tx)
        community = await reg.get_community(draft.community_id)
        unit = await reg.get_unit(draft.unit_id)
        assert community is not None
        fresh = await repo.get(draft.id)
        assert fresh is not None
        return Reply(
            "care.added",
            household_params(fresh, unit, community),
            ((Button("care.btn.open", data=f"cr:v:{draft.id}"),),),
        )

    async def cancel_draft(self, actor: UserInfo, place: Place) -> bool:
        require_private(place)
        async with self.db.write() as tx:
            return await CareRepo(tx).drop_draft(actor.id)

    async def view(self, actor: UserInfo, household_id: int, place: Place) -> Reply:
        """One household: what it needs, the note, when the next visit is due, the last visits."""
        require_private(place)
        async with self.db.read() as tx:
            h, community = await self._visible(tx, actor.id, household_id)
            reg = RegistryRepo(tx)
            unit = await reg.get_unit(h.unit_id)
            visits = await CareRepo(tx).visits(h.id, 5)
            log: list[dict[str, object]] = []
            for v in visits:
                who = await reg.get_user(v.visitor_id)
                log.append(
                    {
                        "outcome_key": f"care.outcome.{v.outcome}",
                        "who": who.first_name if who else "-",
                        "at": moment(v.visited_at, community.timezone),
                    }
                )
            rights = await access(tx, actor.id, h)
        params = household_params(h, unit, community)
        params["note"] = h.note or "-"
        params["log"] = rows("care.log_line", log)
        buttons = list(visit_buttons(h.id))
        if rights.manages:
            buttons.append((Button("care.btn.remove", data=f"cr:r:{h.id}"),))
        return Reply("care.household", params, tuple(buttons))

    async def remove(self, actor: UserInfo, household_id: int, place: Place) -> Reply:
        require_private(place)
        now = self.clock.now()
        async with self.db.write() as tx:
            h, _ = await self._visible(tx, actor.id, household_id)
            if not (await access(tx, actor.id, h)).manages:
                raise NotYourUnit()
            repo = CareRepo(tx)
            if not await repo.remove(h.id):
                raise HouseholdUnknown()
            await repo.finish_household_deadlines(h.id, now, "removed")
        return Reply("care.removed", {"label": h.label})

    async def _visible(self, tx: Tx, user_id: int, household_id: int) -> tuple[Household, Community]:
        h = await CareRepo(tx).get(household_id)
        if h is None or h.state != "active" or not (await access(tx, user_id, h)).sees:
            raise HouseholdUnknown()  # the same answer whether it exists or not
        community = await RegistryRepo(tx).get_community(h.community_id)
        if community is None:
            raise HouseholdUnknown()
        return h, community


def _cancel_row() -> tuple[tuple[Button, ...], ...]:
    return ((Button("care.btn.cancel", data="cr:c:0"),),)


def _step_reply(step: str | None) -> Reply:
    if step == "need":
        needs = tuple((Button(f"care.need.{n}", data=f"cr:n:{i}"),) for i, n in enumerate(NEEDS))
        return Reply("care.ask_need", {}, (*needs, *_cancel_row()))
    if step == "freq":
        every = tuple((Button(f"care.every.{d}", data=f"cr:f:{d}"),) for d in EVERY_DAYS)
        return Reply("care.ask_freq", {}, (*every, *_cancel_row()))
    if step == "note":
        return Reply("care.ask_note", {}, ((Button("care.btn.skip_note", data="cr:k:0"),), *_cancel_row()))
    return Reply("care.ask_label_again", {}, _cancel_row())
