"""A proposal opened from a major appeal has closed (or was withdrawn): its outcome goes into the
appeal's history and the appeal continues from there, with a fresh deadline for its level. Called
by :class:`bot.services.proposals.ProposalService` in the transaction that closes the proposal."""

from __future__ import annotations

from datetime import datetime

from bot.models import Community, Notice
from bot.services.base import ServiceBase
from bot.services.escalation import ping_target
from bot.services.filing import schedule_level_deadlines
from bot.services.routing import appeal_buttons, fmt_local
from bot.sla import SlaSettings
from storage.appeals import AppealsRepo
from storage.db import Tx
from storage.metoo import MeTooRepo
from storage.proposals import Decision, Proposal


async def proposal_finished(
    service: ServiceBase, tx: Tx, community: Community, proposal: Proposal, decision: Decision | None, now: datetime
) -> None:
    """``decision`` None: the proposal was withdrawn. Nothing happens for a proposal of no appeal."""
    appeal_id = await MeTooRepo(tx).appeal_of_proposal(proposal.id)
    repo = AppealsRepo(tx)
    appeal = await repo.get(appeal_id) if appeal_id is not None else None
    if appeal is None:
        return
    outcome = decision.outcome if decision is not None else "withdrawn"
    details: dict[str, object] = {"proposal": proposal.id, "outcome": outcome}
    if decision is not None:
        details.update(voters=decision.voters, eligible=decision.eligible, quorum_met=decision.quorum_met)
    await repo.add_event(appeal.id, now, None, "residents_decided", appeal.level, details)
    if not appeal.status.is_open:
        return  # closed meanwhile: the history says what the residents decided, nothing is due
    sla = SlaSettings.from_settings(community.settings)
    cal = await service.calendars.for_community(tx, community)
    due = sla.level_deadline(cal, now, appeal.level, appeal.category)
    await repo.update(appeal, now, due_at=due)
    fresh = await repo.get(appeal.id)
    assert fresh is not None
    await schedule_level_deadlines(tx, fresh, sla, cal, now)
    params: dict[str, object] = {
        "id": fresh.id,
        "question": proposal.question,
        "verdict_key": f"proposal.verdict.{outcome}" if decision is not None else "metoo.verdict_withdrawn",
        "voters": decision.voters if decision is not None else 0,
        "eligible": decision.eligible if decision is not None else 0,
        "due": fmt_local(due, community, now),
    }
    chat, person = ping_target(fresh, community)
    await service.queue(
        tx,
        Notice(
            chat,
            "metoo.decided_handler",
            params,
            buttons=appeal_buttons(fresh),
            user_id=person,
            appeal_id=fresh.id,
            dedupe_key=f"mt-decided:{proposal.id}:handler",
        ),
        community,
        now,
    )
    await service.queue(
        tx,
        Notice(
            fresh.resident_id,
            "metoo.decided_resident",
            params,
            user_id=fresh.resident_id,
            appeal_id=fresh.id,
            dedupe_key=f"mt-decided:{proposal.id}:resident",
        ),
        community,
        now,
    )
