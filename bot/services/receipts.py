"""What filing an appeal sends, queued in the outbox in the filing transaction: the head's card
(and the resident's photo, voice, video or location copied after it) and the resident's receipt,
which says who has the appeal (name and post) and the dates as people say them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.dates import moment
from bot.i18n import rows
from bot.models import Appeal, Category, Community, Content, Level, Notice, Status, UserInfo
from bot.services.routing import Target, action_buttons, card_params
from storage.db import Tx
from storage.registry import RegistryRepo

if TYPE_CHECKING:
    from bot.services.base import ServiceBase


def place(building: object, unit: object | None) -> dict[str, object]:
    """ "Building 7, unit 1" (or just the building), rendered in the reader's language."""
    if unit is None:
        return rows("filing.place", [{"building": building}])
    return rows("filing.place_unit", [{"building": building, "unit": unit}])


def resident_label(appeal: Appeal, resident: UserInfo | None, level: Level) -> dict[str, object]:
    """The card's ``resident`` parameter: heads of an anonymous appeal read "anonymous resident";
    staff and the street office always see the name (to follow up), marked as hidden from heads."""
    name = resident.display if resident is not None else str(appeal.resident_id)
    if not appeal.anonymous:
        return {"resident": name}
    if level < Level.COMMUNITY:
        return {"resident_key": "appeal.anonymous_resident"}
    return {"resident": rows("appeal.resident_hidden_from_heads", [{"name": name}])}


async def holder_params(tx: Tx, community: Community, level: Level, user_id: int | None) -> dict[str, object]:
    """Who has the appeal, for the resident: "Uma, unit head", or the community's staff."""
    person = await RegistryRepo(tx).get_user(user_id) if user_id is not None else None
    if person is not None:
        return {"holder": person.display, "level_key": f"level.{level.name.lower()}"}
    return {"holder": community.name, "level_key": f"level.{level.name.lower()}"}


async def queue_card_and_receipt(
    service: ServiceBase,
    tx: Tx,
    appeal: Appeal,
    community: Community,
    target: Target,
    resident: UserInfo,
    content: Content,
    now: datetime,
) -> None:
    card = await card_params(tx, appeal, community)
    tz = community.timezone
    receipt = {
        "id": appeal.id,
        "category_key": f"category.{appeal.category.value}",
        "place": place(card["building"], card["unit"] if appeal.unit_id else None),
        "first_reply_due": moment(appeal.first_reply_due_at, tz, now=now),
        "due": moment(appeal.due_at, tz, now=now),
        **await holder_params(tx, community, target.level, target.user_id),
    }
    # the resident is waiting for it right now: no quiet hours; replies to it reach the appeal
    await service.queue(
        tx,
        Notice(
            resident.id,
            "filing.receipt_anonymous" if appeal.anonymous else "filing.receipt_plain",
            receipt,
            user_id=resident.id,
            appeal_id=appeal.id,
            dedupe_key=f"receipt:{appeal.id}",
            urgent=True,
        ),
        community,
        now,
    )
    card.update(resident_label(appeal, resident, target.level))
    await service.queue(
        tx,
        Notice(
            target.chat_id,
            "appeal.assigned",
            card,
            buttons=action_buttons(appeal.id, Status.NEW, major=appeal.category == Category.MAJOR),
            user_id=target.user_id,
            appeal_id=appeal.id,
            dedupe_key=f"assign:{appeal.id}",
            urgent=False,
        ),
        community,
        now,
    )
    if content.is_media:
        await service.queue(
            tx,
            Notice(
                target.chat_id,
                "appeal.media",
                {"id": appeal.id},
                user_id=target.user_id,
                appeal_id=appeal.id,
                copy_from=(content.chat_id, content.message_id),
                dedupe_key=f"assign-media:{appeal.id}",
            ),
            community,
            now,
        )
    for n, more in enumerate(content.more, start=1):  # the further photos of an album
        await service.queue(
            tx,
            Notice(
                target.chat_id,
                "appeal.media",
                {"id": appeal.id},
                user_id=target.user_id,
                appeal_id=appeal.id,
                copy_from=(more.chat_id, more.message_id),
                dedupe_key=f"assign-media:{appeal.id}:{n}",
            ),
            community,
            now,
        )
