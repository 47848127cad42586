"""Shared appeals ("Me too", issue 12).

* While filing (after the category, before the description) a resident may mark the appeal as a
  problem their neighbours share (``metoo_drafts``). Once filed they are shown the short public title
  made from their description and agree (or not) to post it in the building chat: the title and a
  **Me too** button, never a name.
* A neighbour presses **Me too** in the building chat (or, while filing, joins an open shared appeal
  of the same category in their building instead of filing a duplicate): counted once, told of
  every step (:mod:`.steps`), and asked how satisfied they are at the resolution.
* At the community's threshold (``/sla metoo_threshold N``) the appeal is flagged, once, to its
  handler and to the staff chat.

Who may press is checked here, not trusted from the button: the filer only for posting, someone of
the building (its chat, or a building they belong to) for Me too, supporters only for their rating.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.errors import Conflict, NotFound, PermissionDenied
from bot.i18n import plural
from bot.models import Appeal, Button, Community, Notice, Status, UserInfo
from bot.services.base import ServiceBase
from bot.services.escalation import ping_target
from bot.services.metoo.offer import public_title
from bot.services.routing import appeal_buttons
from bot.services.satisfaction import SCORE_WORDS
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.conversations import ConversationsRepo
from storage.db import Tx
from storage.metoo import MeTooRepo, SharedAppeal
from storage.registry import RegistryRepo

#: the scores a supporter may give (the words' scale of bot.services.satisfaction)
SCORES = tuple(SCORE_WORDS)


def post_buttons(appeal_id: int) -> tuple[tuple[Button, ...], ...]:
    return ((Button("metoo.btn_metoo", data=f"mt:join:{appeal_id}"),),)


@dataclass(frozen=True)
class MeTooAnswer:
    """What the person who pressed is told (``params`` rendered in their language)."""

    key: str
    params: dict[str, object]


class MeTooService(ServiceBase):
    # --- while filing ----------------------------------------------------------------------------------
    async def toggle_mark(self, actor: UserInfo) -> bool:
        """Mark (or unmark) the appeal being filed as shared; returns the new state."""
        now = self.clock.now()
        async with self.db.write() as tx:
            draft = await ConversationsRepo(tx).get_draft(actor.id)
            if draft is None or draft.category is None:
                raise Conflict("error.no_draft")
            repo = MeTooRepo(tx)
            if await repo.draft_marked(actor.id):
                await repo.unmark_draft(actor.id)
                return False
            await repo.mark_draft(actor.id, now)
            return True

    async def marked(self, user_id: int) -> bool:
        async with self.db.read() as tx:
            return await MeTooRepo(tx).draft_marked(user_id)

    async def offers(self, user_id: int) -> list[SharedAppeal]:
        """Open shared appeals of the draft's category in the draft's building (to join instead)."""
        async with self.db.read() as tx:
            draft = await ConversationsRepo(tx).get_draft(user_id)
            if draft is None or draft.category is None:
                return []
            return await MeTooRepo(tx).open_shared(draft.building_id, draft.category)

    # --- posting ------------------------------------------------------------------------------------------
    async def publish(self, actor: UserInfo, appeal_id: int) -> MeTooAnswer:
        now = self.clock.now()
        async with self.db.write() as tx:
            appeal, community = await self._load(tx, appeal_id)
            if appeal.resident_id != actor.id:
                raise PermissionDenied("error.not_your_appeal", id=appeal_id)
            if not appeal.status.is_open:
                raise Conflict("metoo.error_not_open", id=appeal_id)
            title = public_title(appeal.body or "")
            repo = MeTooRepo(tx)
            if not title or not await repo.set_title(appeal.id, title):
                raise Conflict("metoo.error_already_posted", id=appeal_id)
            building = await RegistryRepo(tx).get_building(appeal.building_id)
            assert building is not None
            await AppealsRepo(tx).add_event(appeal.id, now, actor.id, "shared", appeal.level, {"title": title})
            await self.queue(
                tx,
                Notice(
                    building.chat_id,
                    "metoo.post",
                    {"title": title, "category_key": f"category.{appeal.category.value}", "id": appeal.id},
                    buttons=post_buttons(appeal.id),
                    dedupe_key=f"mt:{appeal.id}:post",
                    urgent=True,  # the resident just agreed; the chat sees it now, not after quiet hours
                ),
                community,
                now,
            )
        return MeTooAnswer("metoo.posted", {"id": appeal_id, "title": title})

    async def decline(self, actor: UserInfo, appeal_id: int) -> MeTooAnswer:
        async with self.db.read() as tx:
            appeal, _ = await self._load(tx, appeal_id)
        if appeal.resident_id != actor.id:
            raise PermissionDenied("error.not_your_appeal", id=appeal_id)
        return MeTooAnswer("metoo.not_posted", {"id": appeal_id})

    # --- Me too --------------------------------------------------------------------------------------------
    async def join(self, actor: UserInfo, appeal_id: int, chat_id: int) -> MeTooAnswer:
        """``actor`` pressed Me too in ``chat_id`` (the building chat, or their private chat while
        filing: then the draft is dropped, the neighbour joins instead of filing a duplicate)."""
        now = self.clock.now()
        async with self.db.write() as tx:
            appeal, community = await self._load(tx, appeal_id)
            repo = MeTooRepo(tx)
            title = await repo.title_of(appeal.id)
            reg = RegistryRepo(tx)
            building = await reg.get_building(appeal.building_id)
            if title is None or building is None:
                raise NotFound("metoo.error_unknown")
            private = chat_id == actor.id
            if private:
                if all(b.id != building.id for b in await reg.buildings_known_for(actor.id)):
                    raise PermissionDenied("metoo.error_not_in_building")
            elif chat_id != building.chat_id:
                raise PermissionDenied("metoo.error_not_in_building")
            if appeal.resident_id == actor.id:
                raise Conflict("metoo.error_own", id=appeal.id)
            if not appeal.status.is_open:
                raise Conflict("metoo.error_not_open", id=appeal.id)
            await reg.upsert_user(actor, now)
            if not private:
                await reg.add_building_member(actor.id, building.id, now)
            added = await repo.add_supporter(appeal.id, actor.id, now)
            count = await repo.count(appeal.id)
            if private:
                await ConversationsRepo(tx).drop_draft(actor.id)
                await repo.unmark_draft(actor.id)
            if not added:
                return MeTooAnswer("metoo.already", {"id": appeal.id, "title": title, "count": count})
            await AppealsRepo(tx).add_event(appeal.id, now, None, "supported", appeal.level, {"count": count})
            threshold = SlaSettings.from_settings(community.settings).metoo_threshold
            if count == threshold:
                await self._flag(tx, appeal, community, title, count, now)
        return MeTooAnswer("metoo.joined", {"id": appeal_id, "title": title, "count": count})

    async def _flag(self, tx: Tx, appeal: Appeal, community: Community, title: str, count: int, now: datetime) -> None:
        """Many neighbours share it: its handler and the staff chat are told, once each."""
        await AppealsRepo(tx).add_event(appeal.id, now, None, "flagged_shared", appeal.level, {"count": count})
        params = {"id": appeal.id, "title": title, "count": count, "neighbours": plural("metoo.neighbours", count)}
        chat, person = ping_target(appeal, community)
        await self.queue(
            tx,
            Notice(
                chat,
                "metoo.flagged_handler",
                params,
                buttons=appeal_buttons(appeal),
                user_id=person,
                appeal_id=appeal.id,
                dedupe_key=f"mt:{appeal.id}:flag:handler",
            ),
            community,
            now,
        )
        if chat != community.staff_chat_id:
            await self.queue(
                tx,
                Notice(community.staff_chat_id, "metoo.flagged_staff", params, dedupe_key=f"mt:{appeal.id}:flag:staff"),
                community,
                now,
            )

    # --- supporters' satisfaction ------------------------------------------------------------------------
    async def rate(self, actor: UserInfo, appeal_id: int, score: int) -> MeTooAnswer:
        if score not in SCORES:
            raise Conflict("error.stale_button")
        async with self.db.write() as tx:
            appeal, _ = await self._load(tx, appeal_id)
            repo = MeTooRepo(tx)
            if not await repo.is_supporter(appeal.id, actor.id):
                raise PermissionDenied("metoo.error_not_supporter", id=appeal_id)
            if appeal.status not in (Status.RESOLVED, Status.CLOSED):
                raise Conflict("metoo.error_not_resolved", id=appeal_id)
            await repo.rate(appeal.id, actor.id, score)
        return MeTooAnswer("metoo.rated", {"id": appeal_id, "answer_key": SCORE_WORDS[score]})

    async def supporters_of(self, appeal_id: int) -> tuple[int, list[int]]:
        """(supporters, their ratings) of an appeal: for its card and the statistics."""
        async with self.db.read() as tx:
            repo = MeTooRepo(tx)
            return await repo.count(appeal_id), await repo.ratings(appeal_id)

    async def _load(self, tx: Tx, appeal_id: int) -> tuple[Appeal, Community]:
        appeal = await AppealsRepo(tx).get(appeal_id)
        if appeal is None:
            raise NotFound("metoo.error_unknown")
        community = await RegistryRepo(tx).get_community(appeal.community_id)
        assert community is not None
        return appeal, community
