"""A major issue goes to the residents (issue 12): on a major-issue appeal its handler presses
**Put to the residents**; the bot shows the question it would ask (made from the appeal, editable
with ``/putvote <appeal> <question>``) and opens it as a yes/no proposal in the appeal's building
(:meth:`ProposalService.open_linked`), linked to the appeal.

The deadline of a major issue is "put to discussion within 5 working days": opening the proposal
meets it, so the appeal's open deadlines are finished ("put_to_residents") and it waits for the
vote; the outcome is written into its history and a fresh deadline starts (:mod:`.decided`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.errors import Conflict, NotFound, PermissionDenied
from bot.i18n import plural
from bot.models import Appeal, Category, Community, Notice, Status, UserInfo
from bot.services.base import ServiceBase
from bot.services.metoo.offer import public_title
from bot.services.proposals import ProposalService
from bot.services.routing import can_act, fmt_local
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.db import Tx
from storage.metoo import MeTooRepo
from storage.registry import RegistryRepo

QUESTION_PREFILL_MAX = 200


def prefilled_question(appeal: Appeal, title: str | None) -> str:
    """The question as first proposed: the appeal's public title, else its description's start."""
    about = title or public_title(appeal.body or "") or f"#{appeal.id}"
    return f"#{appeal.id}: {about}"[:QUESTION_PREFILL_MAX]


@dataclass(frozen=True)
class PutAnswer:
    key: str
    params: dict[str, object]
    appeal_id: int


class ResidentsVoteService(ServiceBase):
    def __init__(self, proposals: ProposalService) -> None:
        super().__init__(proposals.db, proposals.clock, proposals.calendars)
        self.proposals = proposals

    async def _checked(self, tx: Tx, actor: UserInfo, appeal_id: int) -> tuple[Appeal, Community]:
        appeal = await AppealsRepo(tx).get(appeal_id)
        if appeal is None:
            raise NotFound("metoo.error_unknown")
        community = await RegistryRepo(tx).get_community(appeal.community_id)
        assert community is not None
        if not await can_act(tx, appeal, community, actor.id):
            raise PermissionDenied("error.not_your_appeal", id=appeal_id)
        if appeal.category != Category.MAJOR:
            raise Conflict("metoo.error_not_major", id=appeal.id)
        if not appeal.status.is_open:
            raise Conflict("metoo.error_not_open", id=appeal.id)
        if await MeTooRepo(tx).open_proposal_of(appeal.id) is not None:
            raise Conflict("metoo.error_already_put", id=appeal.id)
        return appeal, community

    async def preview(self, actor: UserInfo, appeal_id: int) -> PutAnswer:
        """What "Put to the residents" would ask (before anything is opened)."""
        async with self.db.read() as tx:
            appeal, community = await self._checked(tx, actor, appeal_id)
            question = prefilled_question(appeal, await MeTooRepo(tx).title_of(appeal.id))
            days = SlaSettings.from_settings(community.settings).residents_vote_days
        params = {"id": appeal.id, "question": question, "days": plural("metoo.days", days)}
        return PutAnswer("metoo.put_preview", params, appeal.id)

    async def put(self, actor: UserInfo, appeal_id: int, question: str | None = None) -> PutAnswer:
        """Open the proposal (``question`` None: the prefilled one) and link it to the appeal."""
        now = self.clock.now()
        async with self.db.write() as tx:
            appeal, community = await self._checked(tx, actor, appeal_id)
            repo = MeTooRepo(tx)
            text = (
                question
                if question and question.strip()
                else prefilled_question(appeal, await repo.title_of(appeal.id))
            )
            building = await RegistryRepo(tx).get_building(appeal.building_id)
            if building is None or not building.active:
                raise NotFound("error.building_unknown")
            sla = SlaSettings.from_settings(community.settings)
            closes_at = now + timedelta(days=sla.residents_vote_days)
            proposal = await self.proposals.open_linked(tx, community, building, actor, text, closes_at)
            await repo.link_proposal(proposal.id, appeal.id)
            appeals = AppealsRepo(tx)
            # the major issue's deadline ("put to discussion") is met: its open deadlines are done
            await appeals.cancel_deadlines(appeal.id, now, "put_to_residents")
            changes: dict[str, object] = {"due_at": closes_at}
            if appeal.status == Status.NEW:
                changes.update(status=Status.IN_PROGRESS, assignee_user_id=actor.id)
            if appeal.first_reply_at is None:
                changes["first_reply_at"] = now
            await appeals.update(appeal, now, **changes)
            await appeals.add_event(
                appeal.id, now, actor.id, "put_to_residents", appeal.level, {"proposal": proposal.id, "question": text}
            )
            params = {"id": appeal.id, "question": proposal.question, "closes": fmt_local(closes_at, community, now)}
            await self.queue(
                tx,
                Notice(
                    appeal.resident_id,
                    "metoo.put_resident",
                    params,
                    user_id=appeal.resident_id,
                    appeal_id=appeal.id,
                    dedupe_key=f"mt-put:{proposal.id}:resident",
                ),
                community,
                now,
            )
        return PutAnswer("metoo.put_done", {**params, "proposal": proposal.id}, appeal.id)
