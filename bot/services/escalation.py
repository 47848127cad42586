"""Moving an appeal up the chain (a missed deadline, "beyond my reach", an unreachable head), and
where an appeal's pings go. One function used by the workflow, the sweep and delivery: the move,
its history row, the new level's deadlines and every notice it implies, in the caller's
transaction."""

from __future__ import annotations

from datetime import datetime

from bot.models import Appeal, Category, Community, Level, Notice, Status
from bot.services.base import ServiceBase
from bot.services.filing import schedule_level_deadlines
from bot.services.point_rules import MISSED_REASONS, apply_appeal_rules
from bot.services.routing import action_buttons, card_params, route
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.db import Tx
from storage.registry import RegistryRepo

#: Why an appeal moves up, as said on its cards.
REASON_KEYS = {
    "by_hand": "reason.by_hand",
    "deadline": "reason.deadline",
    "no_first_reply": "reason.no_first_reply",
    "unreachable": "reason.unreachable",
}


def level_chat(community: Community, level: Level) -> int:
    """The group chat of a level at or above the community staff: the street chat, else the staff's."""
    if level == Level.STREET and community.street_chat_id:
        return community.street_chat_id
    return community.staff_chat_id


def ping_target(appeal: Appeal, community: Community) -> tuple[int, int | None]:
    """(chat, person) for the appeal's reminders, re-pings and the resident's words: the head's
    private chat below the staff; the staff (street) chat at those levels, also once a staff
    member took it, so pings stay where the whole staff sees them."""
    if appeal.level >= Level.COMMUNITY or appeal.assignee_user_id is None:
        return level_chat(community, appeal.level), None
    return appeal.assignee_user_id, appeal.assignee_user_id


async def resident_params(tx: Tx, appeal: Appeal) -> dict[str, object]:
    """Who filed it, for the staff card (staff may need to call them): name and @username."""
    person = await RegistryRepo(tx).get_user(appeal.resident_id)
    if person is None:
        return {"resident": str(appeal.resident_id)}
    handle = f" (@{person.username})" if person.username and not person.display.startswith("@") else ""
    return {"resident": person.display + handle}


async def escalate(
    service: ServiceBase,
    tx: Tx,
    appeal: Appeal,
    community: Community,
    now: datetime,
    *,
    actor_id: int | None,
    reason: str,
) -> Appeal | None:
    """Move the appeal one level up the chain; None when it is already at the top."""
    if appeal.level >= max(Level):
        return None  # the street office is the top: nothing above it
    target = await route(tx, community, appeal.building_id, appeal.unit_id, Level(appeal.level + 1))
    if target is None:
        return None
    sla = SlaSettings.from_settings(community.settings)
    cal = await service.calendars.for_community(tx, community)
    due = sla.level_deadline(cal, now, target.level, appeal.category)
    repo = AppealsRepo(tx)
    await repo.update(
        appeal,
        now,
        level=target.level,
        assignee_user_id=target.user_id,
        status=Status.NEW,
        due_at=due,
        remaining_seconds=None,
    )
    await repo.cancel_deadlines(appeal.id, now, "escalated")
    detail: dict[str, object] = {"from": int(appeal.level), "reason": reason}
    if reason in MISSED_REASONS:  # who held it when the deadline passed: the one it costs points
        detail["held_by"] = appeal.assignee_user_id
    await repo.add_event(appeal.id, now, actor_id, "escalated", target.level, detail)
    moved = await repo.get(appeal.id)
    assert moved is not None
    await schedule_level_deadlines(tx, moved, sla, cal, now)
    await apply_appeal_rules(tx, moved.id, now)
    card = await card_params(tx, moved, community)
    card.update(reason_key=REASON_KEYS[reason], from_key=f"level.{appeal.level.name.lower()}")
    stage = moved.stage
    # staff and the street office get the resident's name, and answer by replying to the card
    to_chat = target.level >= Level.COMMUNITY
    template = "heads.escalated_to_chat" if to_chat else "appeal.escalated"
    await service.queue(
        tx,
        Notice(
            target.chat_id,
            template,
            {**card, **await resident_params(tx, moved)} if to_chat else card,
            buttons=action_buttons(moved.id, Status.NEW, major=moved.category == Category.MAJOR),
            user_id=target.user_id,
            appeal_id=moved.id,
            dedupe_key=f"esc:{moved.id}:{stage}:up",
        ),
        community,
        now,
    )
    first_media = await repo.first_resident_media_message(moved.id, moved.resident_id)
    if first_media is not None:
        await service.queue(
            tx,
            Notice(
                target.chat_id,
                "appeal.media",
                {"id": moved.id},
                user_id=target.user_id,
                appeal_id=moved.id,
                copy_from=first_media,
                dedupe_key=f"esc:{moved.id}:{stage}:media",
            ),
            community,
            now,
        )
    below = appeal.assignee_user_id
    if appeal.level == Level.COMMUNITY:
        await service.queue(
            tx,
            Notice(community.staff_chat_id, "appeal.passed_up", card, dedupe_key=f"esc:{moved.id}:{stage}:down"),
            community,
            now,
        )
    elif below is not None and below != actor_id and reason != "unreachable":
        # whoever pressed "beyond my reach" is told directly; an unreachable head cannot be told
        await service.queue(
            tx,
            Notice(below, "appeal.passed_up", card, user_id=below, dedupe_key=f"esc:{moved.id}:{stage}:down"),
            community,
            now,
        )
    # the resident learns where the appeal really is; a head who cannot be reached is said so
    resident_key = "heads.resident_rerouted" if reason == "unreachable" else "resident.escalated"
    await service.queue(
        tx,
        Notice(
            moved.resident_id,
            resident_key,
            {"id": moved.id, "level_key": card["level_key"], "from_key": card["from_key"], "due": card["due"]},
            user_id=moved.resident_id,
            appeal_id=moved.id,
            dedupe_key=f"esc:{moved.id}:{stage}:resident",
        ),
        community,
        now,
    )
    return moved
