"""``/reassign N TARGET`` (issue 11): staff move an appeal to another head or level of its chain, up
or down, through the workflow service's loading, permission and notice rules. TARGET is a level
(``unit``, ``building``, ``staff``, ``street`` in English, Chinese or Russian) or the @username of a
unit or building head of the appeal's building. The new assignee gets the appeal's card, the one
who held it is told it left them, the resident is told where it is now: all through the outbox in
the change's own transaction, with a history row ("reassigned")."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from bot.dates import moment
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied, WrongChat
from bot.models import Appeal, Category, Community, Level, Notice, Role, Status, UserInfo
from bot.services.escalation import level_chat, resident_params
from bot.services.filing import schedule_level_deadlines
from bot.services.point_rules import apply_appeal_rules
from bot.services.routing import Target, action_buttons, card_params
from bot.services.workflow import WorkflowService
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.conversations import ConversationsRepo
from storage.db import Tx
from storage.registry import RegistryRepo

LEVEL_WORDS: dict[str, Level] = {
    **dict.fromkeys(("unit", "单元", "单元长", "подъезд"), Level.UNIT),
    **dict.fromkeys(("building", "楼栋", "楼栋长", "楼", "дом"), Level.BUILDING),
    **dict.fromkeys(("staff", "community", "社区", "сообщество", "совет"), Level.COMMUNITY),
    **dict.fromkeys(("street", "街道", "улица", "управа"), Level.STREET),
}


@dataclass(frozen=True)
class Reassigned:
    appeal: Appeal
    level: Level
    to_name: str  # the new head's name, or "" for a level chat


def parse_target(text: str) -> Level | str:
    """A level word, or an @username (returned without "@"); InvalidInput for anything else."""
    word = unicodedata.normalize("NFKC", text).strip().casefold()
    if word in LEVEL_WORDS:
        return LEVEL_WORDS[word]
    if word.startswith("@") and 2 <= len(word) <= 33 and word[1:].replace("_", "").isalnum() and word.isascii():
        return word[1:]
    raise InvalidInput("district.reassign_usage")


class ReassignService:
    def __init__(self, workflow: WorkflowService) -> None:
        self.workflow = workflow

    async def reassign(self, actor: UserInfo, chat_id: int, appeal_id: int, target_text: str) -> Reassigned:
        target_spec = parse_target(target_text)
        wf = self.workflow
        async with wf.db.write() as tx:
            registry = RegistryRepo(tx)
            here = await registry.community_by_staff_chat(chat_id) or await registry.community_by_street_chat(chat_id)
            if here is None:
                raise WrongChat("error.staff_chat_only")
            role = Role.STAFF if here.staff_chat_id == chat_id else Role.STREET
            if not await registry.has_role(here.id, actor.id, role):
                raise PermissionDenied("error.staff_only")
            appeal, community = await wf._load(tx, appeal_id)
            if community.id != here.id:
                raise NotFound("error.appeal_unknown", id=appeal_id)  # another community's: not said to exist
            if not appeal.status.is_open:
                raise Conflict("error.appeal_not_open", id=appeal_id, status_key=f"status.{appeal.status.value}")
            target, name = await self._target(tx, appeal, community, target_spec)
            if target.level == appeal.level and target.user_id == appeal.assignee_user_id:
                raise Conflict("district.reassign_same", id=appeal_id)
            moved = await self._move(tx, appeal, community, target, actor)
        return Reassigned(moved, target.level, name)

    async def _target(self, tx: Tx, appeal: Appeal, community: Community, spec: Level | str) -> tuple[Target, str]:
        registry = RegistryRepo(tx)
        building = await registry.get_building(appeal.building_id)
        assert building is not None
        if isinstance(spec, Level):
            if spec == Level.UNIT:
                unit = await registry.get_unit(appeal.unit_id) if appeal.unit_id is not None else None
                if unit is None or unit.head_user_id is None:
                    raise Conflict("district.reassign_no_head", level_key="level.unit")
                return await self._person(tx, Level.UNIT, unit.head_user_id)
            if spec == Level.BUILDING:
                if building.head_user_id is None:
                    raise Conflict("district.reassign_no_head", level_key="level.building")
                return await self._person(tx, Level.BUILDING, building.head_user_id)
            if spec == Level.STREET and community.street_chat_id is None:
                raise Conflict("district.reassign_no_head", level_key="level.street")
            return Target(spec, None, level_chat(community, spec)), ""
        person = await registry.find_user_by_username(spec)
        if person is None:
            raise NotFound("district.reassign_unknown_person", who=spec[:32])
        if building.head_user_id == person.id:
            return await self._person(tx, Level.BUILDING, person.id)
        for unit in await registry.units_of(building.id):
            if unit.head_user_id == person.id:
                return await self._person(tx, Level.UNIT, person.id)
        raise PermissionDenied("district.reassign_not_a_head", who=spec[:32])

    async def _person(self, tx: Tx, level: Level, user_id: int) -> tuple[Target, str]:
        registry = RegistryRepo(tx)
        if await registry.known_unreachable(user_id):
            raise Conflict("district.reassign_unreachable")
        person = await registry.get_user(user_id)
        return Target(level, user_id, user_id), person.display if person else str(user_id)

    async def _move(self, tx: Tx, appeal: Appeal, community: Community, target: Target, actor: UserInfo) -> Appeal:
        wf = self.workflow
        now = wf.clock.now()
        sla = SlaSettings.from_settings(community.settings)
        cal = await wf.calendars.for_community(tx, community)
        repo = AppealsRepo(tx)
        await repo.update(
            appeal,
            now,
            level=target.level,
            assignee_user_id=target.user_id,
            status=Status.NEW,
            due_at=sla.level_deadline(cal, now, target.level, appeal.category),
            remaining_seconds=None,
        )
        await repo.cancel_deadlines(appeal.id, now, "reassigned")
        detail = {"from": int(appeal.level), "from_user": appeal.assignee_user_id, "to_user": target.user_id}
        await repo.add_event(appeal.id, now, actor.id, "reassigned", target.level, detail)
        moved = await repo.get(appeal.id)
        assert moved is not None
        await schedule_level_deadlines(tx, moved, sla, cal, now)
        await apply_appeal_rules(tx, moved.id, now)
        card = await card_params(tx, moved, community)
        card.update(reason_key="district.reason_reassigned", from_key=f"level.{appeal.level.name.lower()}")
        card["due"] = moment(moved.due_at, community.timezone)  # as people say it, in the reader's language
        stage = moved.stage
        to_chat = target.level >= Level.COMMUNITY
        await wf.queue(
            tx,
            Notice(
                target.chat_id,
                "heads.escalated_to_chat" if to_chat else "appeal.escalated",
                {**card, **await resident_params(tx, moved)} if to_chat else card,
                buttons=action_buttons(moved.id, Status.NEW, major=moved.category == Category.MAJOR),
                user_id=target.user_id,
                appeal_id=moved.id,
                dedupe_key=f"reassign:{moved.id}:{stage}:to",
            ),
            community,
            now,
        )
        before = appeal.assignee_user_id
        away = {"id": moved.id, "level_key": card["level_key"]}
        if before is not None and before != target.user_id:
            conversations = ConversationsRepo(tx)
            pending = await conversations.get_action(before)
            if pending is not None and pending.appeal_id == moved.id:  # their reply / question / note
                await conversations.drop_action(before)  # would now be refused: not theirs any more
            await wf.queue(
                tx,
                Notice(
                    before,
                    "district.reassigned_away",
                    away,
                    user_id=before,
                    dedupe_key=f"reassign:{moved.id}:{stage}:from",
                ),
                community,
                now,
            )
        await wf.queue(
            tx,
            Notice(
                moved.resident_id,
                "district.reassigned_resident",
                {"id": moved.id, "level_key": card["level_key"], "due": moment(moved.due_at, community.timezone)},
                user_id=moved.resident_id,
                appeal_id=moved.id,
                dedupe_key=f"reassign:{moved.id}:{stage}:resident",
            ),
            community,
            now,
        )
        return moved
