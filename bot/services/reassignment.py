"""Staff move an open appeal to another head or level by hand (issue 11): to the head of any unit
of its building, to the building head, to the community staff or to the street office.

The same checks as every appeal action: the appeal must be open, and the actor must be staff of its
community (or its street office). One transaction: the move, its history row (``reassigned``),
the new level's deadlines, and the notices: the new holder gets the card with its buttons, the
previous holder is told it was taken off them, the resident learns where it is now (as after an
escalation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.dates import moment
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.models import Appeal, Community, Level, Notice, Role, Status, UserInfo
from bot.services.escalation import resident_params
from bot.services.filing import schedule_level_deadlines
from bot.services.point_rules import apply_appeal_rules
from bot.services.routing import action_buttons, card_params
from bot.services.workflow import Outcome, WorkflowService
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.db import Tx
from storage.registry import RegistryRepo


@dataclass(frozen=True)
class Holder:
    """Where an appeal can be put: a level, and the person at it (None: the staff / street chat)."""

    level: Level
    user_id: int | None
    chat_id: int
    name: str  # the person's name, or the unit / level it stands for (for the page's choice)
    unit: str = ""  # the unit they head, for a unit head

    @property
    def token(self) -> str:
        """How the choice is sent back: ``unit:USER``, ``building:USER``, ``community``, ``street``."""
        if self.level in (Level.UNIT, Level.BUILDING):
            return f"{self.level.name.lower()}:{self.user_id}"
        return self.level.name.lower()


async def may_reassign(tx: Tx, community: Community, user_id: int) -> bool:
    reg = RegistryRepo(tx)
    return await reg.has_role(community.id, user_id, Role.STAFF) or await reg.has_role(
        community.id, user_id, Role.STREET
    )


async def holders_for(tx: Tx, appeal: Appeal, community: Community) -> list[Holder]:
    """Every place the appeal may be moved to (its current holder included)."""
    reg = RegistryRepo(tx)
    found: list[Holder] = []
    seen: set[tuple[Level, int | None]] = set()
    for unit in await reg.units_of(appeal.building_id):
        if unit.head_user_id is not None and (Level.UNIT, unit.head_user_id) not in seen:
            seen.add((Level.UNIT, unit.head_user_id))
            person = await reg.get_user(unit.head_user_id)
            name = person.display if person else str(unit.head_user_id)
            found.append(Holder(Level.UNIT, unit.head_user_id, unit.head_user_id, name, unit.name))
    building = await reg.get_building(appeal.building_id)
    if building is not None and building.head_user_id is not None:
        person = await reg.get_user(building.head_user_id)
        name = person.display if person else str(building.head_user_id)
        found.append(Holder(Level.BUILDING, building.head_user_id, building.head_user_id, name))
    found.append(Holder(Level.COMMUNITY, None, community.staff_chat_id, community.name))
    if community.street_chat_id is not None:
        found.append(Holder(Level.STREET, None, community.street_chat_id, ""))
    return found


def parse_target(token: str) -> tuple[Level, int | None]:
    """``unit:USER`` / ``building:USER`` / ``community`` / ``street`` -> (level, user); bounded ids."""
    kind, _, rest = token.strip().partition(":")
    levels = {"unit": Level.UNIT, "building": Level.BUILDING, "community": Level.COMMUNITY, "street": Level.STREET}
    level = levels.get(kind)
    if level is None:
        raise InvalidInput("dash.error.bad_target")
    if level in (Level.UNIT, Level.BUILDING):
        if not rest.isdigit() or not 0 < int(rest) < 2**63:
            raise InvalidInput("dash.error.bad_target")
        return level, int(rest)
    if rest:
        raise InvalidInput("dash.error.bad_target")
    return level, None


class ReassignService:
    def __init__(self, workflow: WorkflowService) -> None:
        self.workflow = workflow

    async def options(self, actor: UserInfo, appeal_id: int) -> list[Holder]:
        """Where ``actor`` may move the appeal ([] when they may not move it)."""
        async with self.workflow.db.read() as tx:
            appeal, community = await self.workflow._load(tx, appeal_id)
            if not appeal.status.is_open or not await may_reassign(tx, community, actor.id):
                return []
            return [
                h
                for h in await holders_for(tx, appeal, community)
                if (h.level, h.user_id) != (appeal.level, appeal.assignee_user_id if h.user_id else None)
            ]

    async def reassign(self, actor: UserInfo, appeal_id: int, target: str) -> Outcome:
        level, user_id = parse_target(target)
        wf = self.workflow
        now = wf.clock.now()
        async with wf.db.write() as tx:
            appeal, community = await wf._load(tx, appeal_id)
            if not await may_reassign(tx, community, actor.id):
                raise PermissionDenied("dash.error.staff_only")
            if not appeal.status.is_open:
                raise Conflict("error.appeal_not_open", id=appeal_id, status_key=f"status.{appeal.status.value}")
            holder = next(
                (h for h in await holders_for(tx, appeal, community) if (h.level, h.user_id) == (level, user_id)),
                None,
            )
            if holder is None:
                raise NotFound("dash.error.no_such_holder", id=appeal_id)
            current = appeal.assignee_user_id if level < Level.COMMUNITY else None
            if appeal.level == level and current == user_id:
                raise Conflict("dash.error.same_holder", id=appeal_id)
            moved = await self._move(tx, appeal, community, holder, actor, now)
        return Outcome(
            "dash.done.reassigned",
            moved,
            {"id": appeal_id, "level_key": f"level.{moved.level.name.lower()}", "name": holder.name},
        )

    async def _move(
        self, tx: Tx, appeal: Appeal, community: Community, holder: Holder, actor: UserInfo, now: datetime
    ) -> Appeal:
        wf = self.workflow
        sla = SlaSettings.from_settings(community.settings)
        cal = await wf.calendars.for_community(tx, community)
        repo = AppealsRepo(tx)
        await repo.update(
            appeal,
            now,
            level=holder.level,
            assignee_user_id=holder.user_id,
            status=Status.NEW,
            due_at=sla.level_deadline(cal, now, holder.level, appeal.category),
            remaining_seconds=None,
        )
        await repo.cancel_deadlines(appeal.id, now, "reassigned")
        detail: dict[str, object] = {
            "from": int(appeal.level),
            "from_user": appeal.assignee_user_id,
            "to_user": holder.user_id,
        }
        await repo.add_event(appeal.id, now, actor.id, "reassigned", holder.level, detail)
        moved = await repo.get(appeal.id)
        assert moved is not None
        await schedule_level_deadlines(tx, moved, sla, cal, now)
        await apply_appeal_rules(tx, moved.id, now)
        card = await card_params(tx, moved, community)
        card.update(
            from_key=f"level.{appeal.level.name.lower()}",
            by=actor.display,
            due=moment(moved.due_at, community.timezone),
        )
        stage = moved.stage
        to_chat = holder.level >= Level.COMMUNITY
        await wf.queue(
            tx,
            Notice(
                holder.chat_id,
                "dash.reassigned_to_chat" if to_chat else "dash.reassigned_to_you",
                {**card, **await resident_params(tx, moved)} if to_chat else card,
                buttons=action_buttons(moved.id, Status.NEW),
                user_id=holder.user_id,
                appeal_id=moved.id,
                urgent=True,  # staff moved it by hand, now: the new holder learns at once
                dedupe_key=f"reassign:{moved.id}:{stage}:to",
            ),
            community,
            now,
        )
        first_media = await repo.first_resident_media_message(moved.id, moved.resident_id)
        if first_media is not None:
            await wf.queue(
                tx,
                Notice(
                    holder.chat_id,
                    "appeal.media",
                    {"id": moved.id},
                    user_id=holder.user_id,
                    appeal_id=moved.id,
                    copy_from=first_media,
                    urgent=True,
                    dedupe_key=f"reassign:{moved.id}:{stage}:media",
                ),
                community,
                now,
            )
        before = appeal.assignee_user_id
        if before is not None and before != actor.id and before != holder.user_id:
            await wf.queue(
                tx,
                Notice(
                    before,
                    "dash.reassigned_away",
                    card,
                    user_id=before,
                    appeal_id=moved.id,
                    dedupe_key=f"reassign:{moved.id}:{stage}:away",
                ),
                community,
                now,
            )
        await wf.queue(
            tx,
            Notice(
                moved.resident_id,
                "resident.escalated" if holder.level > appeal.level else "dash.resident_reassigned",
                {"id": moved.id, "level_key": card["level_key"], "from_key": card["from_key"], "due": card["due"]},
                user_id=moved.resident_id,
                appeal_id=moved.id,
                dedupe_key=f"reassign:{moved.id}:{stage}:resident",
            ),
            community,
            now,
        )
        return moved
