"""After an appeal closes: satisfaction in words and, for major issues, a return visit.

* The resident answers *satisfied / partly / not satisfied*, stored on the existing 1-5 scale as
  5 / 3 / 1 (``appeals.rating``; points and statistics keep reading stars).
* Ignored, the question is asked again once, a working day later (``rate_again`` deadline row;
  also after an auto-close, whose notice carries the same buttons).
* A major issue gets a return visit ``revisit_days`` working days after closing: "is it still
  fixed?". *No* reopens the appeal at its level with a fresh deadline and tells its handler.

Deadlines are rows swept idempotently; every notice goes through the outbox with its change.
"""

from __future__ import annotations

from datetime import datetime

from bot.calendar import WorkCalendar
from bot.errors import Conflict, PermissionDenied
from bot.models import Appeal, Button, Category, Community, DeadlineKind, Notice, Status, UserInfo
from bot.services.base import ServiceBase
from bot.services.escalation import ping_target
from bot.services.filing import schedule_level_deadlines
from bot.services.point_rules import apply_appeal_rules
from bot.services.routing import appeal_buttons, card_params
from bot.services.workflow import Outcome, WorkflowService
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.db import Tx

#: The words a resident chooses, as stored on the 1-5 scale.
WORD_SCORES = {"satisfied": 5, "partly": 3, "not_satisfied": 1}
#: How each stored score is said back to the resident (other scores: the old star buttons).
SCORE_WORDS = {5: "heads.answer_5", 3: "heads.answer_3", 1: "heads.answer_1"}


def rating_buttons(appeal_id: int) -> tuple[tuple[Button, ...], ...]:
    """Satisfied / partly / not satisfied, one per row (big, easy to hit), on the 1-5 scale."""
    return (
        (Button("heads.btn_satisfied", data=f"a:rate:{appeal_id}:5"),),
        (Button("heads.btn_partly", data=f"a:rate:{appeal_id}:3"),),
        (Button("heads.btn_not_satisfied", data=f"a:rate:{appeal_id}:1"),),
    )


def revisit_buttons(appeal_id: int) -> tuple[tuple[Button, ...], ...]:
    return (
        (Button("heads.btn_still_fixed", data=f"a:still:{appeal_id}:y"),),
        (Button("heads.btn_broken_again", data=f"a:still:{appeal_id}:n"),),
    )


async def schedule_after_close(tx: Tx, appeal: Appeal, sla: SlaSettings, cal: WorkCalendar, now: datetime) -> None:
    """The follow-ups of a closed appeal: the rating asked again once, the return visit of a major
    issue. ``appeal`` is the closed appeal (its stage after closing)."""
    repo = AppealsRepo(tx)
    day = cal.working_day_length().total_seconds()
    if appeal.rating is None:
        await repo.add_deadline(appeal.id, DeadlineKind.RATE_AGAIN, appeal.stage, cal.add_working_seconds(now, day))
    if appeal.category == Category.MAJOR and sla.revisit_days > 0:
        due = cal.add_working_seconds(now, sla.revisit_days * day)
        await repo.add_deadline(appeal.id, DeadlineKind.REVISIT, appeal.stage, due)


async def fire_follow_up(
    service: ServiceBase, tx: Tx, appeal: Appeal, community: Community, kind: DeadlineKind, now: datetime
) -> str:
    """The sweep's part: ask again for a rating, or pay the return visit. Idempotent (dedupe keys)."""
    if appeal.status != Status.CLOSED:
        return "skipped"  # reopened meanwhile
    repo = AppealsRepo(tx)
    if kind == DeadlineKind.RATE_AGAIN:
        if appeal.rating is not None:
            return "skipped"
        notice = Notice(
            appeal.resident_id,
            "heads.rate_again",
            {"id": appeal.id},
            buttons=rating_buttons(appeal.id),
            user_id=appeal.resident_id,
            appeal_id=appeal.id,
            dedupe_key=f"rate-again:{appeal.id}",
        )
        await service.queue(tx, notice, community, now)
        await repo.add_event(appeal.id, now, None, "rating_asked_again", appeal.level)
        return "rating_asked"
    notice = Notice(
        appeal.resident_id,
        "heads.revisit",
        {"id": appeal.id, "body": (appeal.body or "-")[:300]},
        buttons=revisit_buttons(appeal.id),
        user_id=appeal.resident_id,
        appeal_id=appeal.id,
        dedupe_key=f"revisit:{appeal.id}",
    )
    await service.queue(tx, notice, community, now)
    await repo.add_event(appeal.id, now, None, "revisit_asked", appeal.level)
    return "revisited"


class FollowUpService(ServiceBase):
    """The resident's answer to the return visit."""

    def __init__(self, workflow: WorkflowService) -> None:
        super().__init__(workflow.db, workflow.clock, workflow.calendars)
        self.workflow = workflow

    async def still_fixed(self, actor: UserInfo, appeal_id: int, fixed: bool) -> Outcome:
        now = self.clock.now()
        async with self.db.write() as tx:
            appeal, community = await self.workflow._load(tx, appeal_id)
            if appeal.resident_id != actor.id:
                raise PermissionDenied("error.not_your_appeal", id=appeal_id)
            repo = AppealsRepo(tx)
            kinds = [e.kind for e in await repo.events(appeal.id)]
            asked = [i for i, k in enumerate(kinds) if k == "revisit_asked"]
            answered = bool(asked) and any(k in ("still_fixed", "broken_again") for k in kinds[asked[-1] :])
            if not asked or answered or appeal.status != Status.CLOSED:
                raise Conflict("heads.error_revisit_done", id=appeal_id)
            if fixed:
                await repo.add_event(appeal.id, now, actor.id, "still_fixed", appeal.level)
                return Outcome("heads.revisit_thanks", appeal, {"id": appeal.id})
            return await self._broken_again(tx, appeal, community, actor, now)

    async def _broken_again(
        self, tx: Tx, appeal: Appeal, community: Community, actor: UserInfo, now: datetime
    ) -> Outcome:
        sla = SlaSettings.from_settings(community.settings)
        cal = await self.calendars.for_community(tx, community)
        due = sla.level_deadline(cal, now, appeal.level, appeal.category)
        repo = AppealsRepo(tx)
        await repo.update(appeal, now, status=Status.IN_PROGRESS, resolved_at=None, closed_at=None, due_at=due)
        await repo.cancel_deadlines(appeal.id, now, "reopened")
        await repo.add_event(appeal.id, now, actor.id, "broken_again", appeal.level)
        fresh = await repo.get(appeal.id)
        assert fresh is not None
        await schedule_level_deadlines(tx, fresh, sla, cal, now)
        await apply_appeal_rules(tx, fresh.id, now)
        chat, person = ping_target(fresh, community)
        card = await card_params(tx, fresh, community)
        await self.queue(
            tx,
            Notice(
                chat,
                "heads.broken_again",
                card,
                buttons=appeal_buttons(fresh),
                user_id=person,
                appeal_id=fresh.id,
                dedupe_key=f"broken-again:{fresh.id}:{fresh.stage}",
            ),
            community,
            now,
        )
        return Outcome("done.reopened", fresh, {"id": fresh.id, "due": card["due"]})
